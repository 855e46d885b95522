/**
 * Display names: the name an app gives its user in a minted token (shown to the channel's
 * other members), and the name an operator gives an app key. Not identities: nothing compares
 * them for uniqueness, so no case folding or confusable checks, only what keeps them safe to
 * show anywhere.
 *
 * Rules (docs/protocol.md §4.5): NFKC-normalised (Unicode UAX #15), then 1..64 code points;
 * no control, format, surrogate, private-use or unassigned code points (general categories Cc,
 * Cf, Cs (a lone surrogate), Co, Cn: they reorder or hide text, e.g. U+202E RIGHT-TO-LEFT OVERRIDE), no line or
 * paragraph separators (Zl, Zp), and no white space at either end.
 */

export const DISPLAY_NAME_MAX_LENGTH = 64;
/**
 * Longest input looked at, in UTF-16 code units, before normalising: NFKC can expand a code
 * point up to 18 times (U+FDFA), so this bounds the work and still lets every valid name in.
 */
export const DISPLAY_NAME_MAX_INPUT_LENGTH = 4 * DISPLAY_NAME_MAX_LENGTH;

const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;
const EDGE_SPACE = /^\s|\s$/u;

export type DisplayNameCheck = { readonly ok: true; readonly value: string } | { readonly ok: false; readonly problem: string };

/** Normalises and checks a display name; `problem` states the rule, never the input. */
export function checkDisplayName(input: string): DisplayNameCheck {
  if (input.length > DISPLAY_NAME_MAX_INPUT_LENGTH) return { ok: false, problem: `must be 1 to ${DISPLAY_NAME_MAX_LENGTH} characters` };
  const value = input.normalize('NFKC');
  const length = [...value].length;
  if (length < 1 || length > DISPLAY_NAME_MAX_LENGTH) return { ok: false, problem: `must be 1 to ${DISPLAY_NAME_MAX_LENGTH} characters` };
  if (FORBIDDEN.test(value)) return { ok: false, problem: 'must not contain control, format or unassigned characters' };
  if (EDGE_SPACE.test(value)) return { ok: false, problem: 'must not start or end with white space' };
  return { ok: true, value };
}
