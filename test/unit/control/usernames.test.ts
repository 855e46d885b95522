import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkUsername, USERNAME_PROBLEM_MESSAGES, usernameKey, type UsernameProblem } from '../../../control/src/auth/usernames.js';

function problemOf(input: string): UsernameProblem | 'ok' {
  const result = checkUsername(input);
  return result.ok ? 'ok' : result.problem;
}

describe('username keys (NFKC + case folding)', () => {
  it.each([
    ['Straße', 'STRASSE'],
    ['Straße', 'strasse'],
    ['STRAẞE', 'strasse'],
    ['ΣΊΣΥΦΟΣ', 'σίσυφος'],
    ['σίσυφοσ', 'σίσυφος'],
    ['ａｌｉｃｅ', 'alice'],
    ['Alice', 'aLiCe'],
    ['ǅemal', 'ǆemal'],
    ['Ǆemal', 'džemal'],
    ['ﬁsh', 'FISH'],
    ['é', 'e\u0301'],
  ])('%s and %s share a key', (a, b) => {
    expect(usernameKey(a)).toBe(usernameKey(b));
  });

  it('keeps different names apart', () => {
    expect(usernameKey('alice')).not.toBe(usernameKey('alicе')); // Cyrillic е
    expect(usernameKey('strasse')).not.toBe(usernameKey('strase'));
    expect(usernameKey('İ')).not.toBe(usernameKey('I'));
  });

  it('for every code point: the key of its upper and lower case is its key, and the key is idempotent', () => {
    let checked = 0;
    for (let cp = 0; cp <= 0x2ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      const key = usernameKey(c);
      if (usernameKey(c.toUpperCase()) !== key || usernameKey(c.toLowerCase()) !== key || usernameKey(key) !== key) {
        throw new Error(`key classes disagree at U+${cp.toString(16).toUpperCase()}`);
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(190_000);
  });

  it('holds for random strings too', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 12 }), (s) => {
        const key = usernameKey(s);
        expect(usernameKey(key)).toBe(key);
        expect(usernameKey(s.toUpperCase())).toBe(key);
        expect(usernameKey(s.toLowerCase())).toBe(key);
      }),
      { numRuns: 500 },
    );
  });
});

describe('usernames accepted', () => {
  it.each([
    ['alice', 'alice'],
    ['Alice_Smith-2.0', 'Alice_Smith-2.0'],
    ['ａｌｉｃｅ', 'alice'],
    ['Straße', 'Straße'],
    ['σίσυφος', 'σίσυφος'],
    ['ΣΊΣΥΦΟΣ', 'ΣΊΣΥΦΟΣ'],
    ['иван', 'иван'],
    ['מרים', 'מרים'],
    ['علي', 'علي'],
    ['علي٣٤', 'علي٣٤'],
    ['देवनागरी', 'देवनागरी'],
    ['日本語ひらがなカタカナ', '日本語ひらがなカタカナ'],
    ['한국어漢字', '한국어漢字'],
    ['中文ㄅㄆㄇ', '中文ㄅㄆㄇ'],
    ['tanaka田中', 'tanaka田中'],
    ['kim김', 'kim김'],
    ['ﬁsh', 'fish'],
    ['e\u0301clair', 'éclair'],
    ['abc', 'abc'],
    ['a'.repeat(32), 'a'.repeat(32)],
    ['123', '123'],
  ])('%s (display form %s)', (input, display) => {
    const result = checkUsername(input);
    expect(result).toEqual({ ok: true, username: display, key: usernameKey(display) });
  });
});

describe('usernames refused', () => {
  it.each<[string, string, UsernameProblem]>([
    ['too short', 'ab', 'length'],
    ['too long', 'a'.repeat(33), 'length'],
    ['huge', 'a'.repeat(100_000), 'length'],
    ['short after NFKC', 'ａ', 'length'],
    ['zero-width joiner', 'ali\u200dce', 'control_or_format'],
    ['zero-width space', 'ali\u200bce', 'control_or_format'],
    ['bidi override', 'alice\u202egnp', 'control_or_format'],
    ['byte order mark', '\ufeffalice', 'control_or_format'],
    ['NUL', 'ali\u0000ce', 'control_or_format'],
    ['newline', 'alice\n', 'control_or_format'],
    ['space', 'alice smith', 'whitespace'],
    ['no-break space', 'alice\u00a0smith', 'whitespace'],
    ['ideographic space', 'alice\u3000smith', 'whitespace'],
    ['emoji', 'alice😀', 'alphabet'],
    ['at sign', 'alice@example', 'alphabet'],
    ['slash', 'alice/bob', 'alphabet'],
    ['lone surrogate', 'ali\ud800ce', 'alphabet'],
    ['leading dot', '.alice', 'ends'],
    ['trailing underscore', 'alice_', 'ends'],
    ['leading combining mark', '\u0301alice', 'ends'],
    ['two dots', 'ali..ce', 'repeated_punctuation'],
    ['dot dash', 'ali.-ce', 'repeated_punctuation'],
    ['Cyrillic а in paypal', 'pаypal', 'mixed_scripts'],
    ['Greek ο in google', 'gοogle', 'mixed_scripts'],
    ['Latin and Greek', 'alphaβeta', 'mixed_scripts'],
    ['Latin and Arabic-Indic digit', 'alice٣', 'mixed_scripts'],
    ['Hangul and Hiragana', '한국ひら', 'mixed_scripts'],
    ['Cyrillic and Hiragana', 'иванひら', 'mixed_scripts'],
    ['Arabic-Indic and Extended Arabic-Indic digits', 'علي٣۴', 'mixed_digits'],
    ['Cherokee (a Latin look-alike script)', 'ᎪᏞᎥᏟᎬ', 'script_not_allowed'],
    ['Gothic', '𐌰𐌻𐌹', 'script_not_allowed'],
    ['modifier letter apostrophe', 'aliʹce', 'script_not_allowed'],
    ['stacked marks', 'za\u0301\u0302\u0303\u0304\u0306lgo', 'stacked_marks'],
    ['repeated mark', 'za\u0301\u0301lgo', 'stacked_marks'],
  ])('%s', (_, input, problem) => {
    expect(problemOf(input)).toBe(problem);
    const result = checkUsername(input);
    if (!result.ok) expect(result.message).toBe(USERNAME_PROBLEM_MESSAGES[problem]);
  });

  it('messages never repeat the input', () => {
    for (const input of ['pаypal', 'ali\u200dce', 'x', 'bad name']) {
      const result = checkUsername(input);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.message).not.toContain(input);
    }
  });
});
