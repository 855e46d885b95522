/**
 * One SQLite connection on the `libsql` engine (SQLite 3.45.1), and the statement executor that
 * runs Hrana statements on it.
 *
 * Each Hrana stream owns one of these, so a transaction on one stream neither sees nor affects
 * another's uncommitted state. Connections use WAL (set once on the database file),
 * `PRAGMA foreign_keys=ON` (Turso's default) and busy_timeout=0: SQLITE_BUSY is waited out
 * asynchronously in LockWaits, up to `busyTimeoutMs`, then returned to the client.
 *
 * Values are bound and read with safe integers: INTEGER is a bigint (all 64 bits survive),
 * REAL a number, TEXT a string, BLOB a Buffer, NULL null — the five storage classes, which map
 * one to one onto Hrana's value types.
 */
import { performance } from 'node:perf_hooks';

import Database from 'libsql';

import {
  SQLITE_BUSY,
  SQLITE_BUSY_SNAPSHOT,
  StatementError,
  asEngineFailure,
  executionError,
  prepareError,
  type EngineFailure,
} from './errors.js';
import {
  encodeValue,
  type SqlValue,
  type WireCol,
  type WireDescribeResult,
  type WireStmtResult,
  type WireValue,
} from './hrana-protocol.js';
import type { LockWaits } from './lock-waits.js';
import { firstKeyword, scanParameters, splitStatements } from './sql-lexer.js';

/** A statement ready to run: one SQL statement, its arguments decoded. */
export interface ResolvedStatement {
  readonly sql: string;
  readonly args: readonly SqlValue[];
  readonly namedArgs: readonly { readonly name: string; readonly value: SqlValue }[];
  readonly wantRows: boolean;
}

/**
 * Bounds the size of one HTTP response, as sqld's max_response_size does: rows are counted as
 * they are read; past the limit the statement fails with RESPONSE_TOO_LARGE.
 */
export class ResponseBudget {
  #remaining: number;

  constructor(readonly maxBytes: number) {
    this.#remaining = maxBytes;
  }

  /** Charges an estimate of a value's JSON size; false once the budget is spent. */
  charge(value: WireValue): boolean {
    let size = 24;
    if (value.type === 'text') size += value.value.length;
    else if (value.type === 'blob') size += value.base64.length;
    else if (value.type === 'integer') size += value.value.length;
    this.#remaining -= size;
    return this.#remaining >= 0;
  }
}

/** Checks that SQL text holds exactly one statement, as sqld does before running it. */
export function singleStatement(sql: string): string {
  const statements = splitStatements(sql);
  if (statements.length === 0) {
    throw new StatementError('SQL_NO_STATEMENT', 'SQL string does not contain any statement');
  }
  if (statements.length > 1) {
    throw new StatementError('SQL_MANY_STATEMENTS', 'SQL string contains more than one statement');
  }
  return statements[0] as string;
}

/** Maps Hrana's positional and named arguments onto the statement's parameter indexes. */
function bindArguments(statement: ResolvedStatement): SqlValue[] {
  const parameters = scanParameters(statement.sql);
  const values: SqlValue[] = new Array<SqlValue>(parameters.count).fill(null);
  if (statement.args.length > parameters.count) {
    throw new StatementError(
      'ARGS_INVALID',
      `Arguments do not match SQL parameters: ${statement.args.length} arguments for ${parameters.count} parameters`,
    );
  }
  statement.args.forEach((value, i) => {
    values[i] = value;
  });
  for (const { name, value } of statement.namedArgs) {
    // Clients send names with or without their prefix: "a" may mean :a, @a or $a.
    const index =
      parameters.indexByName.get(name) ??
      parameters.indexByName.get(`:${name}`) ??
      parameters.indexByName.get(`@${name}`) ??
      parameters.indexByName.get(`$${name}`);
    if (index === undefined) {
      throw new StatementError('ARGS_INVALID', `Arguments do not match SQL parameters: no parameter named ${name}`);
    }
    values[index - 1] = value;
  }
  return values;
}

export interface SqlConnectionOptions {
  readonly lockWaits: LockWaits;
  /** How long a statement waits for SQLite's write lock before it fails with SQLITE_BUSY. */
  readonly busyTimeoutMs: number;
}

/** An engine connection with this server's settings, and the statement that reads change counts. */
interface EngineHandle {
  readonly db: Database.Database;
  /** SELECT total_changes(), changes(), last_insert_rowid() */
  readonly changes: Database.Statement;
}

function openHandle(path: string): EngineHandle {
  const db = new Database(path, { timeout: 0 });
  try {
    db.exec('PRAGMA busy_timeout = 0');
    db.exec('PRAGMA foreign_keys = ON');
    const changes = db.prepare('SELECT total_changes(), changes(), last_insert_rowid()');
    changes.raw(true).safeIntegers(true);
    return { db, changes };
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Closes an engine connection. The engine's close() leaves a connection whose prepared
 * statements are not yet garbage collected as a zombie (sqlite3_close_v2) that keeps its
 * transaction and locks; an explicit ROLLBACK releases them first.
 */
function closeHandle(handle: EngineHandle): void {
  try {
    if (handle.db.inTransaction) handle.db.exec('ROLLBACK');
  } catch {
    // SQLite already rolled it back (SQLITE_FULL, SQLITE_IOERR …): nothing is held.
  }
  handle.db.close();
}

function isPlainRollback(statement: string): boolean {
  return /^\s*ROLLBACK(\s+TRANSACTION)?\s*;?\s*$/i.test(statement);
}

export class SqlConnection {
  readonly #path: string;
  readonly #options: SqlConnectionOptions;
  #handle: EngineHandle;
  /** The transaction was rolled back when a statement gave up on SQLITE_BUSY (see #abandon). */
  #transactionLost = false;
  #closed = false;

  private constructor(path: string, options: SqlConnectionOptions) {
    this.#path = path;
    this.#options = options;
    this.#handle = openHandle(path);
  }

  /** Opens a connection to a database file that is already in WAL mode. */
  static open(path: string, options: SqlConnectionOptions): SqlConnection {
    return new SqlConnection(path, options);
  }

  /** True outside an explicit transaction (Hrana's get_autocommit and is_autocommit). */
  get isAutocommit(): boolean {
    return !this.#handle.db.inTransaction;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs one statement (already checked to be a single statement). */
  async execute(statement: ResolvedStatement, budget: ResponseBudget): Promise<WireStmtResult> {
    this.#assertOpen();
    const values = bindArguments(statement);
    return this.#run(statement.sql, values, statement.wantRows, budget);
  }

  /** Runs every statement of `sql` in order without arguments; stops at the first error. */
  async executeSequence(sql: string, budget: ResponseBudget): Promise<void> {
    this.#assertOpen();
    for (const statement of splitStatements(sql)) {
      await this.#run(statement, [], false, budget);
    }
  }

  /** Describes one statement without running it (Hrana's describe). */
  describe(sql: string): WireDescribeResult {
    this.#assertOpen();
    const statement = singleStatement(sql);
    const prepared = this.#prepare(statement);
    const cols = prepared.reader
      ? prepared.columns().map((column) => ({ name: column.name, decltype: column.type }))
      : [];
    const isExplain = firstKeyword(statement) === 'EXPLAIN';
    return {
      params: scanParameters(statement).names.map((name) => ({ name })),
      cols,
      is_explain: isExplain,
      is_readonly: isExplain || this.#isReadonly(statement),
    };
  }

  /** Closes the connection; an open transaction rolls back. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      closeHandle(this.#handle);
    } finally {
      this.#options.lockWaits.notify();
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new StatementError('STREAM_CLOSED', 'The connection of this stream is closed');
  }

  #prepare(statement: string): Database.Statement {
    try {
      return this.#handle.db.prepare(statement);
    } catch (error) {
      const failure = asEngineFailure(error);
      if (failure === undefined) throw error;
      throw prepareError(failure);
    }
  }

  /**
   * sqlite3_stmt_readonly() is not exposed by the engine; its bytecode tells the same thing: a
   * statement that writes opens a write transaction (opcode Transaction with P2 != 0).
   */
  #isReadonly(statement: string): boolean {
    const program = this.#prepare(`EXPLAIN ${statement}`).raw(true).all() as unknown[][];
    return !program.some((instruction) => instruction[1] === 'Transaction' && instruction[3] !== 0);
  }

  /**
   * Runs a statement, waiting out SQLITE_BUSY. The same prepared statement is retried: with
   * this engine a statement that returned SQLITE_BUSY stays active (the engine never resets
   * it), and an active write statement makes every later COMMIT on the connection fail with
   * "cannot commit transaction - SQL statements in progress". Re-running it resets it.
   */
  async #run(statement: string, values: readonly SqlValue[], wantRows: boolean, budget: ResponseBudget): Promise<WireStmtResult> {
    if (this.#transactionLost) {
      this.#transactionLost = false;
      // The client's ROLLBACK after the failure: its transaction is already gone.
      if (isPlainRollback(statement)) return { cols: [], rows: [], affected_row_count: 0, last_insert_rowid: '0' };
    }
    const prepared = this.#prepare(statement);
    const deadline = performance.now() + this.#options.busyTimeoutMs;
    for (;;) {
      let failure: EngineFailure;
      try {
        const result = this.#runOnce(prepared, values, wantRows, budget);
        this.#options.lockWaits.notify();
        return result;
      } catch (error) {
        if (!(error instanceof BusyFailure)) {
          this.#options.lockWaits.notify();
          throw error;
        }
        // No notify here: two waiters would wake each other in a loop.
        failure = error.failure;
      }
      const remaining = deadline - performance.now();
      // A stale snapshot (SQLITE_BUSY_SNAPSHOT) stays stale however long one waits.
      if (failure.rawCode === SQLITE_BUSY_SNAPSHOT || remaining <= 0 || this.#options.lockWaits.closed) {
        this.#abandon();
        throw executionError(failure);
      }
      await this.#options.lockWaits.wait(remaining);
      this.#assertOpen();
    }
  }

  /**
   * Gives up on a statement that got SQLITE_BUSY. It cannot be reset without running it, so
   * the connection is replaced by a fresh one (this server's settings re-applied; per-connection
   * state such as temp tables or changed pragmas is lost). An open transaction is rolled back,
   * which SQLite itself may do on SQLITE_BUSY (https://sqlite.org/lang_transaction.html); the
   * stream then continues in autocommit, and its next plain ROLLBACK is accepted as a no-op.
   */
  #abandon(): void {
    const wasInTransaction = this.#handle.db.inTransaction;
    const poisoned = this.#handle;
    this.#handle = openHandle(this.#path);
    this.#transactionLost = wasInTransaction;
    closeHandle(poisoned);
    this.#options.lockWaits.notify();
  }

  #runOnce(prepared: Database.Statement, values: readonly SqlValue[], wantRows: boolean, budget: ResponseBudget): WireStmtResult {
    // raw() (rows as arrays) is only allowed on statements that return rows.
    if (prepared.reader) prepared.raw(true);
    prepared.safeIntegers(true);
    const [totalBefore] = this.#handle.changes.get() as [bigint, bigint, bigint];
    let cols: WireCol[] = [];
    const rows: WireValue[][] = [];
    let unencodable: string | undefined;
    let overBudget = false;
    try {
      if (prepared.reader) {
        cols = prepared.columns().map((column) => ({ name: column.name, decltype: column.type }));
        // Every row is read, even past the budget: an abandoned statement would hold its read
        // transaction open until garbage collection.
        for (const row of prepared.iterate([...values]) as Iterable<SqlValue[]>) {
          if (!wantRows || overBudget || unencodable !== undefined) continue;
          try {
            const encoded = row.map(encodeValue);
            overBudget = !encoded.every((value) => budget.charge(value));
            rows.push(encoded);
          } catch (error) {
            unencodable = error instanceof Error ? error.message : String(error);
          }
        }
      } else {
        prepared.run([...values]);
      }
    } catch (error) {
      const failure = asEngineFailure(error);
      if (failure === undefined) throw error;
      if ((failure.rawCode & 0xff) === SQLITE_BUSY) throw new BusyFailure(failure);
      throw executionError(failure);
    }
    if (overBudget) throw new StatementError('RESPONSE_TOO_LARGE', 'Response is too large');
    if (unencodable !== undefined) {
      throw new StatementError('VALUE_NOT_REPRESENTABLE', `A value cannot be encoded in JSON: ${unencodable}`);
    }
    const [totalAfter, changes, lastInsertRowid] = this.#handle.changes.get() as [bigint, bigint, bigint];
    return {
      cols,
      rows,
      // changes() keeps the count of the last INSERT/UPDATE/DELETE; only a statement that
      // changed rows itself (total_changes moved) reports it, as sqld reports 0 for the rest.
      affected_row_count: totalAfter === totalBefore ? 0 : Number(changes),
      last_insert_rowid: lastInsertRowid.toString(),
    };
  }
}

/** SQLITE_BUSY from one attempt, to be waited out (internal to the busy-wait loop). */
class BusyFailure extends Error {
  constructor(readonly failure: EngineFailure) {
    super(failure.message);
  }
}
