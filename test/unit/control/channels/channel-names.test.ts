/**
 * The channel name rule (control/src/channels/channel-names.ts, docs/protocol.md §4.4) and the
 * Unicode tricks of case 22 of ABUSE-CASES.md. The HTTP side of case 22 (400 naming the field,
 * nothing stored) is test/workers/channel-routes.test.ts and the service tests.
 */
import { describe, expect, it } from 'vitest';
import { MAX_CHANNEL_NAME_CODE_POINTS, normalizeBanReason, normalizeChannelName } from '../../../../control/src/channels/channel-names.js';

function accepted(raw: string): string {
  const result = normalizeChannelName(raw);
  if (!result.ok) throw new Error(`refused ${JSON.stringify(raw)}: ${result.problem}`);
  return result.text;
}

function problem(raw: string): string {
  const result = normalizeChannelName(raw);
  if (result.ok) throw new Error(`accepted ${JSON.stringify(raw)} as ${JSON.stringify(result.text)}`);
  return result.problem;
}

describe('channel names', () => {
  it('keep ordinary names in any script, emoji and inner spaces', () => {
    for (const name of ['General', 'team voice #2', 'Café', 'Общий', '日本語チャンネル', 'العربية', 'हिन्दी चैनल', 'Voice 🎧 room', 'a']) {
      expect(accepted(name)).toBe(name.normalize('NFKC'));
    }
  });

  it('are NFKC-normalised and trimmed', () => {
    expect(accepted('  General  ')).toBe('General');
    // Full-width letters, a ligature and compatibility spaces become their plain forms.
    expect(accepted('Ｇｅｎｅｒａｌ')).toBe('General');
    expect(accepted('ﬁnance')).toBe('finance');
    expect(accepted('\u3000team\u00a0voice\u2003')).toBe('team voice');
    // Decomposed é composes.
    expect(accepted('Cafe\u0301')).toBe('Café');
  });

  it('are 1 to 64 code points after normalisation, counting astral characters once', () => {
    expect(problem('')).toBe('must be 1 to 64 characters');
    expect(problem('   ')).toBe('must be 1 to 64 characters');
    expect(problem('\u3000\u2003')).toBe('must be 1 to 64 characters');
    expect(accepted('x'.repeat(MAX_CHANNEL_NAME_CODE_POINTS))).toHaveLength(64);
    expect(problem('x'.repeat(MAX_CHANNEL_NAME_CODE_POINTS + 1))).toBe('must be 1 to 64 characters');
    // 64 emoji are 128 UTF-16 code units and still 64 characters.
    expect([...accepted('🎧'.repeat(64))]).toHaveLength(64);
    expect(problem('🎧'.repeat(65))).toBe('must be 1 to 64 characters');
    // NFKC can expand: U+FDFA is one code point and 18 after normalisation.
    expect(problem('\ufdfa'.repeat(4))).toBe('must be 1 to 64 characters');
    // A huge input is refused before normalising it.
    expect(problem('x'.repeat(1_000_000))).toBe('must be 1 to 64 characters');
  });

  it('case 22: refuse bidi overrides, zero-width and other format characters, controls, line breaks and lone surrogates', () => {
    const tricks = {
      'right-to-left override': 'admin\u202Egnp.exe',
      'left-to-right override': 'a\u202Db',
      'right-to-left isolate': 'a\u2067b\u2069',
      'pop directional formatting': 'a\u202Cb',
      'right-to-left mark': 'a\u200Fb',
      'zero-width space': 'ad\u200Bmin',
      'zero-width joiner': 'a\u200Db',
      'zero-width non-joiner': 'a\u200Cb',
      'word joiner': 'a\u2060b',
      'byte order mark inside': 'a\uFEFFb',
      'soft hyphen': 'ad\u00ADmin',
      'Mongolian vowel separator': 'a\u180Eb',
      'tag characters': 'a\u{E0041}b',
      'interlinear annotation': 'a\uFFF9b\uFFFB',
      NUL: 'a\u0000b',
      'line feed': 'line one\nline two',
      'carriage return': 'a\rb',
      tab: 'a\tb',
      escape: 'a\u001b[31mred',
      DEL: 'a\u007fb',
      'C1 control (NEL)': 'a\u0085b',
      'line separator': 'a\u2028b',
      'paragraph separator': 'a\u2029b',
      'lone high surrogate': 'a\uD800b',
      'lone low surrogate': 'a\uDC00b',
    };
    for (const [what, raw] of Object.entries(tricks)) {
      expect(problem(raw), what).toBe('must not contain control, format or line-break characters');
    }
  });

  it('case 22: a format character at either end is refused too, not silently trimmed into a valid name', () => {
    // trim() removes U+FEFF at the ends but not U+200B; either way the stored name never holds one.
    expect(problem('\u200BGeneral')).toBe('must not contain control, format or line-break characters');
    expect(problem('General\u202E')).toBe('must not contain control, format or line-break characters');
  });

  it('case 22: refuse stacks of more than 4 combining marks ("Zalgo"), keep real diacritics', () => {
    // x composes with none of these, so all of them stay combining marks after NFKC.
    expect(accepted('x\u0301\u0302\u0303\u0304')).toBe('x\u0301\u0302\u0303\u0304');
    expect(problem('x\u0301\u0302\u0303\u0304\u0305')).toBe('must not stack more than 4 combining marks');
    // a + U+0301 composes to á, leaving four marks: accepted.
    expect(accepted('a\u0301\u0302\u0303\u0304\u0305')).toBe('\u00e1\u0302\u0303\u0304\u0305');
    expect(problem(`Z${'\u0336'.repeat(30)}algo`)).toBe('must not stack more than 4 combining marks');
    // Vietnamese and Devanagari with their marks pass.
    expect(accepted('Tiếng Việt')).toBe('Tiếng Việt'.normalize('NFKC'));
    expect(accepted('क्षत्रिय')).toBe('क्षत्रिय');
  });

  it('never echo the input in the problem', () => {
    const result = normalizeChannelName('secret\u202Etext');
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).not.toContain('secret');
  });

  it('ban reasons follow the same rule up to 256 characters', () => {
    expect(normalizeBanReason('  spam  ')).toEqual({ ok: true, text: 'spam' });
    expect(normalizeBanReason('x'.repeat(256)).ok).toBe(true);
    expect(normalizeBanReason('x'.repeat(257))).toEqual({ ok: false, problem: 'must be 1 to 256 characters' });
    expect(normalizeBanReason('a\u202Eb')).toEqual({ ok: false, problem: 'must not contain control, format or line-break characters' });
  });
});
