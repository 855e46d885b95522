/**
 * Usernames: what may be registered, the form others see, and the key that uniqueness and login
 * compare. Pure: no I/O, no state.
 *
 * The rules (docs/protocol.md §4.3), applied to the NFKC form of what the user typed (UAX #15;
 * NFKC folds compatibility variants such as fullwidth "ａｌｉｃｅ" and the ligature "ﬁ"):
 *
 * - 3 to 32 code points.
 * - Letters (L), combining marks (M) and decimal digits (Nd), plus `_`, `-` and `.`; those three
 *   never first, last or two in a row. The first code point is a letter or a digit.
 * - No control (Cc) or format (Cf: zero-width joiners, bidi overrides, the BOM) characters and no
 *   white space; these get their own messages because they are the usual tricks.
 * - Every letter belongs to a Recommended script of UAX #31 Table 5 (Latin, Greek, Cyrillic,
 *   Arabic, Hebrew, Han, Hangul, the Indic scripts, …), by its Script_Extensions. Historic and
 *   limited-use scripts (Cherokee, Runic, Gothic, …: several are Latin look-alikes) are refused.
 *   Modifier letters that belong to no script (ʹ ʻ ˈ …) look like punctuation and are refused.
 * - UTS #39 §5.2 "Highly Restrictive": the letters, marks and digits resolve to a single script
 *   (the intersection of their augmented Script_Extensions sets is not empty: Han counts as
 *   Japanese, Korean and Chinese, Hiragana and Katakana as Japanese, Hangul as Korean, Bopomofo as
 *   Chinese, so 日本語ひらがなカタカナ, 한국어漢字 and 中文ㄅㄆ are single-script), or they are
 *   covered by Latin + Han + Hiragana + Katakana, Latin + Han + Bopomofo or Latin + Han + Hangul.
 *   So "pаypal" with a Cyrillic а is refused, and so is Latin mixed with Greek or Cyrillic.
 * - UTS #39 §5.3: every decimal digit comes from one numbering system (ASCII 0-9 mixed with
 *   Arabic-Indic or Devanagari digits is refused, as are the look-alike Arabic-Indic and Extended
 *   Arabic-Indic digits together).
 * - UTS #39 §5.4, on the NFD form: no run of more than 4 nonspacing marks and no nonspacing mark
 *   repeated in a row (stacked-diacritic "Zalgo" names).
 *
 * Not covered: confusables within one script ("rn" and "m", "paypa1") and whole-script
 * confusables (a Cyrillic-only "рау" against Latin "pay"); UTS #39's skeleton needs the
 * confusables.txt table, which no JavaScript engine exposes. ECMAScript's \p{Script_Extensions=…}
 * does the script work, so no table ships here.
 *
 * The key: NFKC, then toLowerCase → toUpperCase → toLowerCase, then NFKC again. JavaScript has no
 * full case folding (Unicode CaseFolding.txt, status C+F); this sequence reaches the same classes
 * for the cases that matter: "Straße", "STRASSE" and "STRAẞE" (U+1E9E lower-cases to ß and ß
 * upper-cases to SS, so a single upper→lower pass would miss ẞ) all become "strasse"; every
 * Greek sigma (Σ, σ, final ς) becomes the same letter; "ǅ", "Ǆ" and "ǆ" agree. The final NFKC
 * recomposes what case mapping decomposed. Tested for every code point: key(c) equals
 * key(upper(c)) and key(lower(c)), and key is idempotent.
 */

export const USERNAME_MIN_LENGTH = 3;
export const USERNAME_MAX_LENGTH = 32;
/** UTF-16 code units looked at before normalising anything: a cheap bound on hostile input. */
export const USERNAME_MAX_INPUT_LENGTH = 128;

export type UsernameProblem =
  | 'length'
  | 'control_or_format'
  | 'whitespace'
  | 'alphabet'
  | 'script_not_allowed'
  | 'ends'
  | 'repeated_punctuation'
  | 'mixed_scripts'
  | 'mixed_digits'
  | 'stacked_marks';

/** Fixed sentences: never built from the input. */
export const USERNAME_PROBLEM_MESSAGES: Readonly<Record<UsernameProblem, string>> = {
  length: `must be ${USERNAME_MIN_LENGTH} to ${USERNAME_MAX_LENGTH} characters`,
  control_or_format: 'must not contain control or invisible formatting characters',
  whitespace: 'must not contain spaces',
  alphabet: 'may contain only letters, digits and _ - .',
  script_not_allowed: 'contains letters of a script that usernames do not allow',
  ends: 'must start with a letter or digit and must not end with _ - or .',
  repeated_punctuation: 'must not contain two of _ - . in a row',
  mixed_scripts: 'must not mix letters of different scripts',
  mixed_digits: 'must not mix digits of different numbering systems',
  stacked_marks: 'must not stack combining marks',
};

export type UsernameCheck =
  | { readonly ok: true; readonly username: string; readonly key: string }
  | { readonly ok: false; readonly problem: UsernameProblem; readonly message: string };

/** UAX #31 Table 5, Recommended Scripts (plus Common and Inherited, handled separately). */
export const RECOMMENDED_SCRIPTS = [
  'Arab', 'Armn', 'Beng', 'Bopo', 'Cyrl', 'Deva', 'Ethi', 'Geor', 'Grek', 'Gujr', 'Guru', 'Hang', 'Hani', 'Hebr',
  'Hira', 'Kana', 'Knda', 'Khmr', 'Laoo', 'Latn', 'Mlym', 'Mymr', 'Orya', 'Sinh', 'Taml', 'Telu', 'Thaa', 'Thai',
  'Tibt',
] as const;

type Script = (typeof RECOMMENDED_SCRIPTS)[number] | 'Jpan' | 'Kore' | 'Hanb';

const SCRIPT_PATTERNS: readonly (readonly [Script, RegExp])[] = RECOMMENDED_SCRIPTS.map((script) => [
  script,
  new RegExp(`^\\p{Script_Extensions=${script}}$`, 'u'),
]);

/** UTS #39 §5.1: the augmented script sets that let CJK writing systems count as one script. */
const AUGMENTATION: Partial<Record<Script, readonly Script[]>> = {
  Hani: ['Hanb', 'Jpan', 'Kore'],
  Hira: ['Jpan'],
  Kana: ['Jpan'],
  Hang: ['Kore'],
  Bopo: ['Hanb'],
};

/** UTS #39 §5.2 Highly Restrictive: the multi-script combinations allowed beyond a single script. */
const HIGHLY_RESTRICTIVE_COVERS: readonly ReadonlySet<Script>[] = [
  new Set<Script>(['Latn', 'Hani', 'Hira', 'Kana']),
  new Set<Script>(['Latn', 'Hani', 'Bopo']),
  new Set<Script>(['Latn', 'Hani', 'Hang']),
];

const PUNCTUATION = new Set(['_', '-', '.']);
const CONTROL_OR_FORMAT = /^[\p{Cc}\p{Cf}]$/u;
const WHITE_SPACE = /^\p{White_Space}$/u;
const LETTER = /^\p{L}$/u;
const MARK = /^\p{M}$/u;
const DIGIT = /^\p{Nd}$/u;
const ASCII_DIGIT = /^[0-9]$/;
const INHERITED = /^\p{Script_Extensions=Inherited}$/u;
const NONSPACING_MARK = /^[\p{Mn}\p{Me}]$/u;
/** UTS #39 §5.4: "more than 4 nonspacing marks" in a row is refused. */
const MAX_NONSPACING_RUN = 4;

function fail(problem: UsernameProblem): UsernameCheck {
  return { ok: false, problem, message: USERNAME_PROBLEM_MESSAGES[problem] };
}

/**
 * The comparison key of a username: NFKC, case-folded (see the module comment). Defined for any
 * string, so login can look up whatever was typed without first deciding whether it is valid.
 */
export function usernameKey(input: string): string {
  return input.normalize('NFKC').toLowerCase().toUpperCase().toLowerCase().normalize('NFKC');
}

/** Recommended scripts in the code point's Script_Extensions (empty: none of them). */
function scriptsOf(char: string): Set<Script> {
  const scripts = new Set<Script>();
  for (const [script, pattern] of SCRIPT_PATTERNS) {
    if (pattern.test(char)) {
      scripts.add(script);
      for (const extra of AUGMENTATION[script] ?? []) scripts.add(extra);
    }
  }
  return scripts;
}

/**
 * The zero of a decimal digit's numbering system. Unicode assigns Nd only in contiguous runs of
 * ten, 0 to 9 (Unicode Standard §4.6, a stability policy), so walking back to the start of the
 * Nd run and counting in tens from there finds it without a table.
 */
function digitZero(codePoint: number): number {
  let start = codePoint;
  while (start > 0 && DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return start + Math.floor((codePoint - start) / 10) * 10;
}

function hasStackedMarks(text: string): boolean {
  let run = 0;
  let previous = '';
  for (const char of text.normalize('NFD')) {
    if (NONSPACING_MARK.test(char)) {
      run++;
      if (run > MAX_NONSPACING_RUN || char === previous) return true;
    } else {
      run = 0;
    }
    previous = char;
  }
  return false;
}

function resolvesToOneScript(sets: readonly Set<Script>[]): boolean {
  if (sets.length === 0) return true;
  let resolved = new Set(sets[0]);
  for (const set of sets.slice(1)) resolved = new Set([...resolved].filter((s) => set.has(s)));
  return resolved.size > 0;
}

function isHighlyRestrictiveCombination(sets: readonly Set<Script>[]): boolean {
  return HIGHLY_RESTRICTIVE_COVERS.some((cover) => sets.every((set) => [...set].some((s) => cover.has(s))));
}

/** Checks a username for registration; on success gives its display form and its key. */
export function checkUsername(input: string): UsernameCheck {
  if (input.length > USERNAME_MAX_INPUT_LENGTH) return fail('length');
  const username = input.normalize('NFKC');
  const chars = [...username];
  if (chars.length < USERNAME_MIN_LENGTH || chars.length > USERNAME_MAX_LENGTH) return fail('length');

  // Per code point: what it is, and for letters, marks and digits the scripts it may belong to
  // (undefined: any script, i.e. ASCII digits and inherited combining marks).
  const scriptSets: Set<Script>[] = [];
  const digitZeros = new Set<number>();
  let previousWasPunctuation = false;
  for (const [index, char] of chars.entries()) {
    if (CONTROL_OR_FORMAT.test(char)) return fail('control_or_format');
    if (WHITE_SPACE.test(char)) return fail('whitespace');
    if (PUNCTUATION.has(char)) {
      if (index === 0 || index === chars.length - 1) return fail('ends');
      if (previousWasPunctuation) return fail('repeated_punctuation');
      previousWasPunctuation = true;
      continue;
    }
    previousWasPunctuation = false;
    const isLetter = LETTER.test(char);
    const isDigit = !isLetter && DIGIT.test(char);
    const isMark = !isLetter && !isDigit && MARK.test(char);
    if (!isLetter && !isDigit && !isMark) return fail('alphabet');
    if (index === 0 && isMark) return fail('ends');
    if (isDigit) digitZeros.add(digitZero(char.codePointAt(0)!));
    if ((isDigit && ASCII_DIGIT.test(char)) || (isMark && INHERITED.test(char))) continue;
    const scripts = scriptsOf(char);
    if (scripts.size === 0) return fail(isLetter ? 'script_not_allowed' : 'alphabet');
    scriptSets.push(scripts);
  }
  if (!resolvesToOneScript(scriptSets) && !isHighlyRestrictiveCombination(scriptSets)) return fail('mixed_scripts');
  if (digitZeros.size > 1) return fail('mixed_digits');
  if (hasStackedMarks(username)) return fail('stacked_marks');
  return { ok: true, username, key: usernameKey(username) };
}
