/**
 * The channel name rule (docs/protocol.md §4.4). A name is what people see in a channel list;
 * it is not unique (the id is the channel's identity), so look-alike names are not refused, but
 * a name must not be able to hide text, reorder the text around it or break a layout:
 *
 * 1. Normalised to NFKC (Unicode UAX #15), so compatibility forms (full-width letters,
 *    ligatures, the many space characters) become their plain equivalents.
 * 2. Trimmed of white space at both ends (ECMAScript `String.prototype.trim`).
 * 3. 1 to 64 code points long.
 * 4. No control characters (general category Cc: C0, DEL, C1, which includes tab, CR and LF),
 *    no format characters (Cf: bidi overrides and isolates such as U+202E, zero-width space,
 *    joiners and non-joiners, the BOM, soft hyphen), no lone surrogates (Cs) and no line or
 *    paragraph separators (Zl U+2028, Zp U+2029).
 * 5. At most 4 combining marks (Mn, Me) in a row: enough for every script's stacked diacritics
 *    and vowel signs, not for "Zalgo" text that paints over the lines above and below.
 *
 * The checks run after normalisation, on what is stored. Before any of it, a raw text longer
 * than 4 UTF-16 code units per allowed code point is refused, so normalising a huge string
 * costs nothing.
 */
export const MAX_CHANNEL_NAME_CODE_POINTS = 64;
export const MAX_COMBINING_MARKS_IN_A_ROW = 4;

const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
const LONE_SURROGATE = /\p{Cs}/u;
const COMBINING_RUN = new RegExp(`[\\p{Mn}\\p{Me}]{${MAX_COMBINING_MARKS_IN_A_ROW + 1}}`, 'u');

export type DisplayTextResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly problem: string };

const CHARACTER_PROBLEM = 'must not contain control, format or line-break characters';
const COMBINING_PROBLEM = `must not stack more than ${MAX_COMBINING_MARKS_IN_A_ROW} combining marks`;

/** Steps 1 to 5 of the rule with a maximum of `maxCodePoints`: the text to store, or the rule it breaks. */
function normalizeDisplayText(raw: string, maxCodePoints: number): DisplayTextResult {
  const lengthProblem = `must be 1 to ${maxCodePoints} characters`;
  if (raw.length > 4 * maxCodePoints) return { ok: false, problem: lengthProblem };
  // Lone surrogates pass through normalisation unchanged; refuse them first, so NFKC only ever
  // sees well-formed text.
  if (LONE_SURROGATE.test(raw)) return { ok: false, problem: CHARACTER_PROBLEM };
  const text = raw.normalize('NFKC').trim();
  const length = [...text].length;
  if (length < 1 || length > maxCodePoints) return { ok: false, problem: lengthProblem };
  if (FORBIDDEN.test(text)) return { ok: false, problem: CHARACTER_PROBLEM };
  if (COMBINING_RUN.test(text)) return { ok: false, problem: COMBINING_PROBLEM };
  return { ok: true, text };
}

/** The channel name rule (module comment): the name to store, or the rule it breaks (a fixed sentence, never the input). */
export function normalizeChannelName(raw: string): DisplayTextResult {
  return normalizeDisplayText(raw, MAX_CHANNEL_NAME_CODE_POINTS);
}

/** A ban's reason follows the same rule, up to 256 code points. */
export const MAX_BAN_REASON_CODE_POINTS = 256;

export function normalizeBanReason(raw: string): DisplayTextResult {
  return normalizeDisplayText(raw, MAX_BAN_REASON_CODE_POINTS);
}
