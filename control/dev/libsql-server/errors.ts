/**
 * The errors the local libSQL server answers with, in the shapes sqld (the libSQL server behind
 * Turso) uses, so that @libsql/client raises the same `LibsqlError` codes here as in production:
 *
 * - StatementError: one request of a pipeline failed (bad SQL, a constraint, SQLITE_BUSY …).
 *   It travels inside a 200 response as `{"type":"error","error":{"message","code"}}` and the
 *   other requests of the pipeline still run. The client raises `LibsqlError` with `code`.
 * - ProtocolError: the client broke the protocol (bad JSON, unknown baton, unknown sql_id).
 *   HTTP 400 with a text/plain body, as sqld does; the client raises code "SERVER_ERROR".
 * - StreamUnavailableError: a correct client may hit it (its stream expired, the server is out of
 *   streams or closing). HTTP 500/503 with an `application/json` `{"message","code"}` body, which
 *   the client raises as `LibsqlError` with that code (e.g. "STREAM_EXPIRED").
 */

/** The `{message, code}` error object of the Hrana protocol. */
export interface HranaErrorBody {
  readonly message: string;
  readonly code: string;
}

export class StatementError extends Error {
  override readonly name = 'StatementError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  toHrana(): HranaErrorBody {
    return { message: this.message, code: this.code };
  }
}

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

export class StreamUnavailableError extends Error {
  override readonly name = 'StreamUnavailableError';
  constructor(
    readonly code: 'STREAM_EXPIRED' | 'STREAMS_EXHAUSTED' | 'SERVER_CLOSING',
    readonly httpStatus: 500 | 503,
    message: string,
  ) {
    super(message);
  }

  toHrana(): HranaErrorBody {
    return { message: this.message, code: this.code };
  }
}

/**
 * sqld names an SQLite failure by its primary result code (the low byte of the extended code),
 * as rusqlite's ErrorCode does; codes rusqlite has no variant for, SQLITE_ERROR among them,
 * become SQLITE_UNKNOWN. https://sqlite.org/rescode.html
 */
const SQLITE_PRIMARY_CODE_NAMES: Readonly<Record<number, string>> = {
  2: 'SQLITE_INTERNAL',
  3: 'SQLITE_PERM',
  4: 'SQLITE_ABORT',
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  7: 'SQLITE_NOMEM',
  8: 'SQLITE_READONLY',
  9: 'SQLITE_INTERRUPT',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  12: 'SQLITE_NOTFOUND',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  15: 'SQLITE_PROTOCOL',
  17: 'SQLITE_SCHEMA',
  18: 'SQLITE_TOOBIG',
  19: 'SQLITE_CONSTRAINT',
  20: 'SQLITE_MISMATCH',
  21: 'SQLITE_MISUSE',
  22: 'SQLITE_NOLFS',
  23: 'SQLITE_AUTH',
  25: 'SQLITE_RANGE',
  26: 'SQLITE_NOTADB',
};

export const SQLITE_BUSY = 5;
/** SQLITE_BUSY_SNAPSHOT: a deferred transaction's snapshot is stale; waiting cannot help. */
export const SQLITE_BUSY_SNAPSHOT = 517;

/** What the `libsql` engine throws: SqliteError (or its raw native error) with code and rawCode. */
export interface EngineFailure {
  readonly message: string;
  /** Extended code name, e.g. "SQLITE_CONSTRAINT_UNIQUE". */
  readonly code: string;
  /** Extended numeric code, e.g. 2067. */
  readonly rawCode: number;
}

export function asEngineFailure(error: unknown): EngineFailure | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, rawCode, message } = error as { code?: unknown; rawCode?: unknown; message?: unknown };
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return undefined;
  return {
    code,
    rawCode: typeof rawCode === 'number' ? rawCode : 1,
    message: typeof message === 'string' ? message : code,
  };
}

export function primaryCodeName(rawCode: number): string {
  return SQLITE_PRIMARY_CODE_NAMES[rawCode & 0xff] ?? 'SQLITE_UNKNOWN';
}

/** Syntax errors as sqld's own SQL parser reports them, before SQLite sees the text. */
const PARSE_ERROR = /syntax error|incomplete input|unrecognized token/;

/**
 * An engine failure while preparing a statement. sqld parses SQL itself first (syntax errors
 * are SQL_PARSE_ERROR) and reports SQLite's own prepare errors, such as "no such table", as
 * SQL_INPUT_ERROR; other prepare failures keep their SQLite code.
 */
export function prepareError(failure: EngineFailure): StatementError {
  if ((failure.rawCode & 0xff) === 1) {
    return PARSE_ERROR.test(failure.message)
      ? new StatementError('SQL_PARSE_ERROR', `SQL string could not be parsed: ${failure.message}`)
      : new StatementError('SQL_INPUT_ERROR', `SQL input error: ${failure.message}`);
  }
  return executionError(failure);
}

/** An engine failure while running a prepared statement. */
export function executionError(failure: EngineFailure): StatementError {
  return new StatementError(primaryCodeName(failure.rawCode), `SQLite error: ${failure.message}`);
}
