/**
 * Just enough of SQLite's tokenizer to answer three questions about SQL text without executing
 * it: where one statement ends and the next begins, which parameters a statement declares, and
 * what its first keyword is.
 *
 * Why by hand: the `libsql` engine's `prepare()` silently ignores everything after the first
 * statement and does not expose SQLite's `pzTail`, `sqlite3_bind_parameter_count` or
 * `sqlite3_bind_parameter_name`; binding named arguments through it aborts the process when a
 * statement also has a positional parameter. So the server splits statements and maps arguments
 * to parameter indexes itself, then always binds a positional array.
 *
 * Token rules follow SQLite's tokenize.c (https://sqlite.org/lang_expr.html#varparam for
 * parameters); statement ends follow the state machine that sqlite3_complete() documents in
 * complete.c, which is what makes `CREATE TRIGGER … BEGIN …; …; END;` one statement.
 */

type TokenKind = 'space' | 'semi' | 'word' | 'variable' | 'other';

interface Token {
  readonly kind: TokenKind;
  readonly start: number;
  readonly end: number;
}

function isSpace(code: number): boolean {
  // SQLite's whitespace: space, \t, \n, \f, \r.
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d;
}

/** Identifier characters: ASCII letters, digits, `_`, `$`, and every non-ASCII character. */
function isIdChar(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x5f ||
    code === 0x24 ||
    code >= 0x80
  );
}

function isIdStart(code: number): boolean {
  return isIdChar(code) && code !== 0x24 && !(code >= 0x30 && code <= 0x39);
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** End of a quoted token starting at `start` (the quote), where a doubled closer escapes it. */
function quotedEnd(sql: string, start: number, closer: string, doubledEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === closer) {
      if (doubledEscapes && sql[i + 1] === closer) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i += 1;
  }
  return sql.length; // unterminated: the engine reports the error when it prepares the text
}

function* tokenize(sql: string): Generator<Token> {
  let i = 0;
  while (i < sql.length) {
    const start = i;
    const code = sql.charCodeAt(i);
    const next = sql.charCodeAt(i + 1);
    let kind: TokenKind;
    if (isSpace(code)) {
      while (i < sql.length && isSpace(sql.charCodeAt(i))) i += 1;
      kind = 'space';
    } else if (code === 0x2d /* - */ && next === 0x2d) {
      const newline = sql.indexOf('\n', i + 2);
      i = newline < 0 ? sql.length : newline + 1;
      kind = 'space';
    } else if (code === 0x2f /* / */ && next === 0x2a /* * */) {
      const close = sql.indexOf('*/', i + 2);
      i = close < 0 ? sql.length : close + 2;
      kind = 'space';
    } else if (code === 0x3b /* ; */) {
      i += 1;
      kind = 'semi';
    } else if (code === 0x27 /* ' */ || code === 0x22 /* " */ || code === 0x60 /* ` */) {
      i = quotedEnd(sql, i, sql[i] as string, true);
      // A quoted identifier can be a keyword's name, never a keyword: 'other' is right for both.
      kind = 'other';
    } else if (code === 0x5b /* [ */) {
      i = quotedEnd(sql, i, ']', false);
      kind = 'other';
    } else if (code === 0x3f /* ? */) {
      i += 1;
      while (i < sql.length && isDigit(sql.charCodeAt(i))) i += 1;
      kind = 'variable';
    } else if ((code === 0x3a /* : */ || code === 0x40 /* @ */ || code === 0x24) /* $ */ && isIdChar(next)) {
      i += 1;
      while (i < sql.length && isIdChar(sql.charCodeAt(i))) i += 1;
      kind = 'variable';
    } else if (isIdStart(code)) {
      while (i < sql.length && isIdChar(sql.charCodeAt(i))) i += 1;
      kind = 'word';
    } else if (isDigit(code)) {
      // Numbers (and the letters of 1e10 or 0x1F) are neither keywords nor parameters.
      while (i < sql.length && (isIdChar(sql.charCodeAt(i)) || sql[i] === '.')) i += 1;
      kind = 'other';
    } else {
      i += 1;
      kind = 'other';
    }
    yield { kind, start, end: i };
  }
}

/*
 * sqlite3_complete()'s states and transitions (complete.c):
 *   0 INVALID  nothing but white space seen yet       4 CREATE   CREATE [TEMP] seen at the start
 *   1 START    at the start of a statement            5 TRIGGER  inside a trigger body
 *   2 NORMAL   inside a statement ending at ";"       6 SEMI     ";" seen inside a trigger body
 *   3 EXPLAIN  EXPLAIN seen at the start              7 END      ";END" seen inside a trigger body
 * A ";" that moves the machine to START ends a statement.
 */
type CompleteToken = 'semi' | 'space' | 'other' | 'explain' | 'create' | 'temp' | 'trigger' | 'end';
const COMPLETE_TOKEN_COLUMN: Readonly<Record<CompleteToken, number>> = {
  semi: 0,
  space: 1,
  other: 2,
  explain: 3,
  create: 4,
  temp: 5,
  trigger: 6,
  end: 7,
};
const COMPLETE_TRANSITIONS: readonly (readonly number[])[] = [
  /*             SEMI WS OTHER EXPLAIN CREATE TEMP TRIGGER END */
  /* 0 INVALID */ [1, 0, 2, 3, 4, 2, 2, 2],
  /* 1 START   */ [1, 1, 2, 3, 4, 2, 2, 2],
  /* 2 NORMAL  */ [1, 2, 2, 2, 2, 2, 2, 2],
  /* 3 EXPLAIN */ [1, 3, 3, 2, 4, 2, 2, 2],
  /* 4 CREATE  */ [1, 4, 2, 2, 2, 4, 5, 2],
  /* 5 TRIGGER */ [6, 5, 5, 5, 5, 5, 5, 5],
  /* 6 SEMI    */ [6, 6, 5, 5, 5, 5, 5, 7],
  /* 7 END     */ [1, 7, 5, 5, 5, 5, 5, 5],
];

function completeToken(sql: string, token: Token): CompleteToken {
  switch (token.kind) {
    case 'semi':
      return 'semi';
    case 'space':
      return 'space';
    case 'word':
      switch (sql.slice(token.start, token.end).toUpperCase()) {
        case 'EXPLAIN':
          return 'explain';
        case 'CREATE':
          return 'create';
        case 'TEMP':
        case 'TEMPORARY':
          return 'temp';
        case 'TRIGGER':
          return 'trigger';
        case 'END':
          return 'end';
        default:
          return 'other';
      }
    default:
      return 'other';
  }
}

/**
 * Splits SQL text into its statements, each with its own terminating `;` (if it had one).
 * Empty statements (`;;`, comments alone) are dropped, as SQLite skips them.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let state = 0;
  let statementStart = -1; // index of the first non-space token of the current statement
  for (const token of tokenize(sql)) {
    const previous = state;
    const column = COMPLETE_TOKEN_COLUMN[completeToken(sql, token)];
    state = COMPLETE_TRANSITIONS[previous]?.[column] ?? 2;
    if (token.kind !== 'space' && token.kind !== 'semi' && statementStart < 0) {
      statementStart = token.start;
    }
    if (token.kind === 'semi' && state === 1) {
      if (statementStart >= 0) statements.push(sql.slice(statementStart, token.end));
      statementStart = -1;
    }
  }
  if (statementStart >= 0) statements.push(sql.slice(statementStart).trimEnd());
  return statements;
}

/** The parameters one statement declares, numbered the way SQLite numbers them. */
export interface StatementParameters {
  /** The largest parameter index: how many values the statement binds (1-based indexes). */
  readonly count: number;
  /** Named parameters (`:a`, `@a`, `$a`, and `?NNN`), with their prefix, to their index. */
  readonly indexByName: ReadonlyMap<string, number>;
  /** The name of each index (0-based array, index 1 at [0]); null for an anonymous `?`. */
  readonly names: readonly (string | null)[];
}

/** The largest parameter index SQLite accepts (SQLITE_MAX_VARIABLE_NUMBER's default). */
export const MAX_PARAMETER_INDEX = 32766;

/**
 * Numbers the parameters of one statement as SQLite does: `?` takes the next index after the
 * largest so far, `?NNN` takes index NNN, and a name takes the next index the first time it
 * appears and that same index afterwards.
 */
export function scanParameters(statement: string): StatementParameters {
  const indexByName = new Map<string, number>();
  const names: (string | null)[] = [];
  let count = 0;
  for (const token of tokenize(statement)) {
    if (token.kind !== 'variable') continue;
    const text = statement.slice(token.start, token.end);
    let index: number;
    if (text === '?') {
      index = count + 1;
    } else if (text.startsWith('?')) {
      index = Number(text.slice(1));
      if (!Number.isSafeInteger(index) || index < 1 || index > MAX_PARAMETER_INDEX) {
        continue; // the engine rejects it when preparing ("variable number must be between ...")
      }
      if (!indexByName.has(text)) indexByName.set(text, index);
    } else {
      const known = indexByName.get(text);
      index = known ?? count + 1;
      if (known === undefined) indexByName.set(text, index);
    }
    if (index > count) {
      for (let i = count; i < index; i += 1) names.push(null);
      count = index;
    }
    if (text !== '?' && names[index - 1] === null) names[index - 1] = text;
  }
  return { count, indexByName, names };
}

/** The first keyword of a statement, upper-cased ('' if it starts with something else). */
export function firstKeyword(statement: string): string {
  for (const token of tokenize(statement)) {
    if (token.kind === 'space') continue;
    return token.kind === 'word' ? statement.slice(token.start, token.end).toUpperCase() : '';
  }
  return '';
}
