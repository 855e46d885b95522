import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkDisplayName, DISPLAY_NAME_MAX_LENGTH } from '../../../control/src/auth/display-names.js';

describe('checkDisplayName', () => {
  it('accepts names of 1..64 characters and returns their NFKC form', () => {
    expect(checkDisplayName('Ada')).toEqual({ ok: true, value: 'Ada' });
    expect(checkDisplayName('Ｆｕｌｌ ﬁ')).toEqual({ ok: true, value: 'Full fi' });
    expect(checkDisplayName('Zoë Ångström')).toEqual({ ok: true, value: 'Zoë Ångström' });
    // Counted in code points, not UTF-16 units: 64 emoji are 128 units.
    expect(checkDisplayName('😀'.repeat(64)).ok).toBe(true);
    expect(checkDisplayName('x'.repeat(DISPLAY_NAME_MAX_LENGTH)).ok).toBe(true);
    expect(checkDisplayName('inner  spaces ok').ok).toBe(true);
  });

  it('checks the length after normalising', () => {
    // U+FDFA expands to 18 characters under NFKC.
    expect(checkDisplayName('\ufdfa'.repeat(3)).ok).toBe(true);
    expect(checkDisplayName('\ufdfa'.repeat(4))).toEqual({ ok: false, problem: 'must be 1 to 64 characters' });
    expect(checkDisplayName('x'.repeat(65))).toEqual({ ok: false, problem: 'must be 1 to 64 characters' });
    expect(checkDisplayName('')).toEqual({ ok: false, problem: 'must be 1 to 64 characters' });
    expect(checkDisplayName('x'.repeat(100_000)).ok).toBe(false);
  });

  it.each([
    ['a control character', 'bell\u0007'],
    ['a NUL', 'a\u0000b'],
    ['DEL', 'a\u007fb'],
    ['a right-to-left override', 'abc\u202edef'],
    ['a zero-width space', 'a\u200bb'],
    ['a byte order mark', '\ufeffname'],
    ['a lone surrogate', 'a\ud800b'],
    ['a private-use character', 'a\ue000'],
    ['an unassigned code point', 'a\u{e0fff}'],
    ['a line separator', 'a\u2028b'],
    ['a paragraph separator', 'a\u2029b'],
    ['a newline', 'a\nb'],
  ])('refuses %s', (_name, input) => {
    expect(checkDisplayName(input)).toEqual({ ok: false, problem: 'must not contain control, format or unassigned characters' });
  });

  it('refuses white space at either end, including what NFKC turns into a space', () => {
    for (const input of [' a', 'a ', '\u3000a', 'a\u00a0', ' ']) {
      expect(checkDisplayName(input), JSON.stringify(input)).toEqual({ ok: false, problem: 'must not start or end with white space' });
    }
  });

  it('never throws, and an accepted name is its own NFKC form', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (input) => {
        const checked = checkDisplayName(input);
        if (checked.ok) expect(checked.value.normalize('NFKC')).toBe(checked.value);
      }),
    );
  });
});
