/**
 * What a failed database call means for the client, and what of it may be logged.
 *
 * drizzle-orm wraps every failed statement in a DrizzleQueryError whose message holds the SQL
 * and its parameters — password hashes, refresh-token hashes, key hashes — so neither that
 * message nor its cause's may reach a log line or a response. Only names and libSQL's error
 * codes are kept.
 *
 * A database that cannot be reached (the connection refused or lost, Turso answering 5xx or
 * refusing the token) is `unavailable`: the client may retry, and gets 503 with Retry-After.
 * Anything else (a constraint the code did not expect, a malformed statement) is a bug: 500.
 */
import { DrizzleQueryError } from 'drizzle-orm';

export type DatabaseFailure = 'unavailable' | 'statement';

export interface DatabaseFailureReport {
  readonly failure: DatabaseFailure;
  /** Error class names from the outermost to the root cause, e.g. ["DrizzleQueryError", "Error"]. */
  readonly chain: readonly string[];
  /** libSQL's error code (e.g. SERVER_ERROR, SQLITE_CONSTRAINT_UNIQUE), when there is one. */
  readonly code?: string;
}

/**
 * libSQL codes for "the server could not be used" rather than "the statement failed"
 * (@libsql/client maps Hrana client errors to these; see its hrana.js mapHranaErrorCode).
 */
const UNAVAILABLE_CODES = new Set([
  'SERVER_ERROR',
  'HRANA_CLOSED_ERROR',
  'HRANA_WEBSOCKET_ERROR',
  'HRANA_PROTO_ERROR',
  'PROTOCOL_VERSION_ERROR',
]);

/** Node's socket and undici errors (`cause.code` of a failed fetch). */
const SYSTEM_NETWORK_CODE = /^(E(CONNREFUSED|CONNRESET|CONNABORTED|TIMEDOUT|HOSTUNREACH|NETUNREACH|PIPE|AI_AGAIN)|ENOTFOUND|UND_ERR_[A-Z_]+)$/;

/** A fetch that never got an HTTP answer: workerd says "Network connection lost.", Node "fetch failed". */
const NETWORK_MESSAGE = /network connection lost|fetch failed|connection refused|econnrefused|timed? ?out|socket hang up/i;

/**
 * A failed batch. drizzle wraps a failed statement in DrizzleQueryError, but a batch's failure
 * (drizzle's or the client's own) comes through as it was thrown: with the server unreachable,
 * a bare `TypeError: fetch failed` (workerd: "Network connection lost."), which says nothing of
 * the database — so a login check or a refresh in a batch answered 500, not 503. openDatabase's
 * client wraps every batch failure in this (client.ts), and the chain below it is classified
 * like a statement's.
 */
export class DatabaseBatchError extends Error {
  override readonly name = 'DatabaseBatchError';
  constructor(cause: unknown) {
    super('a database batch failed', { cause });
  }
}

/** Undefined when `error` did not come from the database client. */
export function classifyDatabaseError(error: unknown): DatabaseFailureReport | undefined {
  const chain: Error[] = [];
  for (let link: unknown = error; link instanceof Error && chain.length < 8; link = link.cause) chain.push(link);
  const fromDatabase = chain.some((link) => link instanceof DrizzleQueryError || link instanceof DatabaseBatchError || link.name === 'LibsqlError' || link.name === 'LibsqlBatchError');
  if (!fromDatabase) return undefined;
  const codes = chain.map(errorCode).filter((c): c is string => c !== undefined);
  const code = codes[0];
  // SQLite refused the statement: the server was reached. Otherwise a libSQL transport code, a
  // system error code from Node's fetch (ECONNREFUSED, UND_ERR_SOCKET) or a network message
  // anywhere in the chain means it was not.
  const refusedBySqlite = codes.some((c) => c.startsWith('SQLITE_'));
  const unreachable =
    !refusedBySqlite &&
    (codes.some((c) => UNAVAILABLE_CODES.has(c) || SYSTEM_NETWORK_CODE.test(c)) || chain.some((link) => NETWORK_MESSAGE.test(link.message)));
  return {
    failure: unreachable ? 'unavailable' : 'statement',
    chain: chain.map((link) => (link instanceof DrizzleQueryError ? 'DrizzleQueryError' : link.name)),
    ...(code === undefined ? {} : { code }),
  };
}

function errorCode(error: Error): string | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code) ? code : undefined;
}
