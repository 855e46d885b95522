/**
 * Runs the requests of one Hrana pipeline (or the batch of one cursor) on a stream.
 *
 * Semantics follow sqld (libsql-server/src/hrana/http/request.rs, batch.rs):
 * - requests run in order; a request that fails with a StatementError yields an "error" result
 *   and the following requests still run;
 * - a ProtocolError (unknown sql_id, a condition naming a later step, a version-3 feature on
 *   /v2) fails the whole HTTP request;
 * - a batch checks all its statements before running any; each step runs only if its condition
 *   holds, judged on the steps before it ("ok": ran and succeeded, "error": ran and failed, a
 *   skipped step is neither) and, for is_autocommit, on the connection's state at that moment.
 */
import { ProtocolError, StatementError } from './errors.js';
import {
  decodeValue,
  type HranaVersion,
  type WireBatch,
  type WireBatchCond,
  type WireBatchResult,
  type WireCursorEntry,
  type WireError,
  type WireStmt,
  type WireStmtResult,
  type WireStreamRequest,
  type WireStreamResponse,
  type WireStreamResult,
} from './hrana-protocol.js';
import { singleStatement, type ResolvedStatement, type ResponseBudget, type SqlConnection } from './sql-connection.js';
import type { HranaStream } from './stream-manager.js';

/** sqld's limits on SQL texts stored per stream (http/request.rs). */
export const MAX_STORED_SQL_COUNT = 50;
export const MAX_STORED_SQL_BYTES = 5_000;

function sqlText(
  sql: string | null | undefined,
  sqlId: number | null | undefined,
  stream: HranaStream,
): string {
  const hasSql = sql !== undefined && sql !== null;
  const hasId = sqlId !== undefined && sqlId !== null;
  if (hasSql && hasId) throw new ProtocolError('Both sql and sql_id were given');
  if (hasSql) return sql;
  if (!hasId) throw new ProtocolError('Neither sql nor sql_id was given');
  const stored = stream.sqls.get(sqlId);
  if (stored === undefined) throw new ProtocolError(`No SQL text is stored under sql_id ${sqlId}`);
  return stored;
}

function resolveStatement(stmt: WireStmt, stream: HranaStream): ResolvedStatement {
  const sql = singleStatement(sqlText(stmt.sql, stmt.sql_id, stream));
  const args = (stmt.args ?? []).map(decodeValue);
  const namedArgs = (stmt.named_args ?? []).map(({ name, value }) => ({ name, value: decodeValue(value) }));
  if (args.length > 0 && namedArgs.length > 0) {
    throw new StatementError(
      'ARGS_BOTH_POSITIONAL_AND_NAMED',
      'Specifying both positional and named arguments is not supported',
    );
  }
  return { sql, args, namedArgs, wantRows: stmt.want_rows ?? true };
}

function checkCondition(cond: WireBatchCond, stepIndex: number, version: HranaVersion): void {
  switch (cond.type) {
    case 'ok':
    case 'error':
      if (cond.step >= stepIndex) {
        throw new ProtocolError(`A condition of step ${stepIndex} refers to step ${cond.step}, which is not before it`);
      }
      return;
    case 'not':
      checkCondition(cond.cond, stepIndex, version);
      return;
    case 'and':
    case 'or':
      for (const inner of cond.conds) checkCondition(inner, stepIndex, version);
      return;
    case 'is_autocommit':
      if (version < 3) throw new ProtocolError('The is_autocommit condition needs Hrana version 3 (/v3)');
      return;
  }
}

/** What one batch step came to. */
export type StepOutcome =
  | { readonly kind: 'ok'; readonly result: WireStmtResult }
  | { readonly kind: 'error'; readonly error: WireError }
  | { readonly kind: 'skipped' };

function holds(cond: WireBatchCond, outcomes: readonly StepOutcome[], connection: SqlConnection): boolean {
  switch (cond.type) {
    case 'ok':
      return outcomes[cond.step]?.kind === 'ok';
    case 'error':
      return outcomes[cond.step]?.kind === 'error';
    case 'not':
      return !holds(cond.cond, outcomes, connection);
    case 'and':
      return cond.conds.every((inner) => holds(inner, outcomes, connection));
    case 'or':
      return cond.conds.some((inner) => holds(inner, outcomes, connection));
    case 'is_autocommit':
      return connection.isAutocommit;
  }
}

/** Runs a batch step by step; throws only for errors that fail the whole request. */
export async function runBatch(
  stream: HranaStream,
  batch: WireBatch,
  version: HranaVersion,
  budget: ResponseBudget,
): Promise<StepOutcome[]> {
  const connection = stream.connection;
  const steps = batch.steps.map((step, index) => {
    if (step.condition !== undefined && step.condition !== null) checkCondition(step.condition, index, version);
    return { condition: step.condition ?? undefined, statement: resolveStatement(step.stmt, stream) };
  });
  const outcomes: StepOutcome[] = [];
  for (const { condition, statement } of steps) {
    if (condition !== undefined && !holds(condition, outcomes, connection)) {
      outcomes.push({ kind: 'skipped' });
      continue;
    }
    try {
      outcomes.push({ kind: 'ok', result: await connection.execute(statement, budget) });
    } catch (error) {
      if (!(error instanceof StatementError)) throw error;
      outcomes.push({ kind: 'error', error: error.toHrana() });
    }
  }
  return outcomes;
}

function batchResult(outcomes: readonly StepOutcome[]): WireBatchResult {
  return {
    step_results: outcomes.map((outcome) => (outcome.kind === 'ok' ? outcome.result : null)),
    step_errors: outcomes.map((outcome) => (outcome.kind === 'error' ? outcome.error : null)),
  };
}

async function respond(
  stream: HranaStream,
  request: WireStreamRequest,
  version: HranaVersion,
  budget: ResponseBudget,
): Promise<WireStreamResponse> {
  switch (request.type) {
    case 'close':
      stream.close();
      return { type: 'close' };
    case 'execute': {
      const connection = stream.connection;
      const result = await connection.execute(resolveStatement(request.stmt, stream), budget);
      return { type: 'execute', result };
    }
    case 'batch':
      return { type: 'batch', result: batchResult(await runBatch(stream, request.batch, version, budget)) };
    case 'sequence': {
      const connection = stream.connection;
      await connection.executeSequence(sqlText(request.sql, request.sql_id, stream), budget);
      return { type: 'sequence' };
    }
    case 'describe': {
      const connection = stream.connection;
      return { type: 'describe', result: connection.describe(sqlText(request.sql, request.sql_id, stream)) };
    }
    case 'store_sql': {
      if (stream.sqls.has(request.sql_id)) {
        throw new ProtocolError(`SQL text with sql_id ${request.sql_id} is already stored`);
      }
      if (stream.sqls.size >= MAX_STORED_SQL_COUNT) {
        throw new StatementError(
          'SQL_STORE_TOO_MANY',
          `The server already stores ${stream.sqls.size} SQL texts, it cannot store more`,
        );
      }
      const bytes = Buffer.byteLength(request.sql, 'utf8');
      if (bytes > MAX_STORED_SQL_BYTES) {
        throw new StatementError(
          'SQL_STORE_TOO_LARGE',
          `The statement is too large to be stored: ${bytes}/${MAX_STORED_SQL_BYTES} bytes`,
        );
      }
      stream.sqls.set(request.sql_id, request.sql);
      return { type: 'store_sql' };
    }
    case 'close_sql':
      stream.sqls.delete(request.sql_id);
      return { type: 'close_sql' };
    case 'get_autocommit':
      if (version < 3) throw new ProtocolError('The get_autocommit request needs Hrana version 3 (/v3)');
      return { type: 'get_autocommit', is_autocommit: stream.connection.isAutocommit };
  }
}

/** Runs every request of a pipeline; throws only for errors that fail the whole HTTP request. */
export async function runPipeline(
  stream: HranaStream,
  requests: readonly WireStreamRequest[],
  version: HranaVersion,
  budget: ResponseBudget,
): Promise<WireStreamResult[]> {
  const results: WireStreamResult[] = [];
  for (const request of requests) {
    try {
      results.push({ type: 'ok', response: await respond(stream, request, version, budget) });
    } catch (error) {
      if (!(error instanceof StatementError)) throw error;
      results.push({ type: 'error', error: error.toHrana() });
    }
  }
  return results;
}

/** The entries of a /v3/cursor response for a batch (after its first line). */
export async function runCursor(
  stream: HranaStream,
  batch: WireBatch,
  budget: ResponseBudget,
): Promise<WireCursorEntry[]> {
  let outcomes: StepOutcome[];
  try {
    outcomes = await runBatch(stream, batch, 3, budget);
  } catch (error) {
    if (!(error instanceof StatementError)) throw error;
    return [{ type: 'error', error: error.toHrana() }];
  }
  const entries: WireCursorEntry[] = [];
  outcomes.forEach((outcome, step) => {
    if (outcome.kind === 'ok') {
      entries.push({ type: 'step_begin', step, cols: outcome.result.cols });
      for (const row of outcome.result.rows) entries.push({ type: 'row', row });
      entries.push({
        type: 'step_end',
        affected_row_count: outcome.result.affected_row_count,
        last_insert_rowid: outcome.result.last_insert_rowid,
      });
    } else if (outcome.kind === 'error') {
      entries.push({ type: 'step_error', step, error: outcome.error });
    }
  });
  return entries;
}
