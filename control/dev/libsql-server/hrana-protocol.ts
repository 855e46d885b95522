/**
 * The JSON encoding of Hrana over HTTP (versions 2 and 3), as @libsql/hrana-client 0.10 writes
 * and reads it (lib-esm/http/json_encode.js, shared/json_decode.js) and as sqld defines it
 * (libsql-server/src/hrana/proto.rs, http/proto.rs):
 *
 *   POST /v2/pipeline, /v3/pipeline   {"baton": string|null, "requests": [StreamRequest]}
 *                                  -> {"baton": string|null, "base_url": null, "results": [StreamResult]}
 *   POST /v3/cursor                   {"baton": string|null, "batch": Batch}
 *                                  -> newline-delimited: {"baton","base_url"} then CursorEntry lines
 *
 * Request bodies are validated here with zod; a body that does not match is a ProtocolError
 * (HTTP 400). Values cross the wire as `{"type":"integer","value":"42"}` (a decimal string, so
 * 64-bit integers survive JSON), `{"type":"float","value":1.5}`, `{"type":"text","value":"…"}`,
 * `{"type":"blob","base64":"…"}` and `{"type":"null"}`.
 */
import { z } from 'zod';

import { ProtocolError } from './errors.js';

/** Hrana versions served over HTTP. Version 3 adds get_autocommit, is_autocommit and cursors. */
export type HranaVersion = 2 | 3;

// ---- values ---------------------------------------------------------------------------------

export type WireValue =
  | { readonly type: 'null' }
  | { readonly type: 'integer'; readonly value: string }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'text'; readonly value: string }
  | { readonly type: 'blob'; readonly base64: string };

/** A value as the engine binds and returns it: SQLite's five storage classes. */
export type SqlValue = null | bigint | number | string | Uint8Array;

const INTEGER_TEXT = /^-?[0-9]{1,19}$/;
const BASE64_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

const wireValueSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('null') }),
  z.object({ type: z.literal('integer'), value: z.string().regex(INTEGER_TEXT, 'a decimal 64-bit integer') }),
  z.object({ type: z.literal('float'), value: z.number() }),
  z.object({ type: z.literal('text'), value: z.string() }),
  z.object({ type: z.literal('blob'), base64: z.string().regex(BASE64_TEXT, 'base64') }),
]);

export function decodeValue(value: WireValue): SqlValue {
  switch (value.type) {
    case 'null':
      return null;
    case 'integer': {
      const integer = BigInt(value.value);
      if (integer < I64_MIN || integer > I64_MAX) {
        throw new ProtocolError(`integer value ${value.value} does not fit in 64 bits`);
      }
      return integer;
    }
    case 'float':
      return value.value;
    case 'text':
      return value.value;
    case 'blob':
      return Buffer.from(value.base64, 'base64');
  }
}

/**
 * Encodes an engine value. JSON has no Infinity, so a REAL of ±Infinity cannot be sent: the
 * caller turns the thrown RangeError into a statement error.
 */
export function encodeValue(value: SqlValue): WireValue {
  if (value === null) return { type: 'null' };
  switch (typeof value) {
    case 'bigint':
      return { type: 'integer', value: value.toString() };
    case 'number':
      if (!Number.isFinite(value)) throw new RangeError(`a REAL of ${value} has no JSON encoding`);
      return { type: 'float', value };
    case 'string':
      return { type: 'text', value };
    default:
      return { type: 'blob', base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
}

// ---- statements and batches -----------------------------------------------------------------

const sqlIdSchema = z.number().int().min(-(2 ** 31)).max(2 ** 31 - 1);

export interface WireStmt {
  readonly sql?: string | null | undefined;
  readonly sql_id?: number | null | undefined;
  readonly args?: readonly WireValue[] | undefined;
  readonly named_args?: readonly { readonly name: string; readonly value: WireValue }[] | undefined;
  readonly want_rows?: boolean | null | undefined;
}

const stmtSchema = z.object({
  sql: z.string().nullish(),
  sql_id: sqlIdSchema.nullish(),
  args: z.array(wireValueSchema).optional(),
  named_args: z.array(z.object({ name: z.string(), value: wireValueSchema })).optional(),
  want_rows: z.boolean().nullish(),
});

export type WireBatchCond =
  | { readonly type: 'ok'; readonly step: number }
  | { readonly type: 'error'; readonly step: number }
  | { readonly type: 'not'; readonly cond: WireBatchCond }
  | { readonly type: 'and'; readonly conds: readonly WireBatchCond[] }
  | { readonly type: 'or'; readonly conds: readonly WireBatchCond[] }
  | { readonly type: 'is_autocommit' };

const stepIndexSchema = z.number().int().min(0);
const batchCondSchema: z.ZodType<WireBatchCond> = z.lazy(() =>
  z.discriminatedUnion('type', [
    z.object({ type: z.literal('ok'), step: stepIndexSchema }),
    z.object({ type: z.literal('error'), step: stepIndexSchema }),
    z.object({ type: z.literal('not'), cond: batchCondSchema }),
    z.object({ type: z.literal('and'), conds: z.array(batchCondSchema) }),
    z.object({ type: z.literal('or'), conds: z.array(batchCondSchema) }),
    z.object({ type: z.literal('is_autocommit') }),
  ]),
);

export interface WireBatchStep {
  readonly condition?: WireBatchCond | null | undefined;
  readonly stmt: WireStmt;
}

export interface WireBatch {
  readonly steps: readonly WireBatchStep[];
}

const batchSchema = z.object({
  steps: z.array(z.object({ condition: batchCondSchema.nullish(), stmt: stmtSchema })),
});

// ---- stream requests ------------------------------------------------------------------------

export type WireStreamRequest =
  | { readonly type: 'close' }
  | { readonly type: 'execute'; readonly stmt: WireStmt }
  | { readonly type: 'batch'; readonly batch: WireBatch }
  | { readonly type: 'sequence'; readonly sql?: string | null | undefined; readonly sql_id?: number | null | undefined }
  | { readonly type: 'describe'; readonly sql?: string | null | undefined; readonly sql_id?: number | null | undefined }
  | { readonly type: 'store_sql'; readonly sql_id: number; readonly sql: string }
  | { readonly type: 'close_sql'; readonly sql_id: number }
  | { readonly type: 'get_autocommit' };

const streamRequestSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('close') }),
  z.object({ type: z.literal('execute'), stmt: stmtSchema }),
  z.object({ type: z.literal('batch'), batch: batchSchema }),
  z.object({ type: z.literal('sequence'), sql: z.string().nullish(), sql_id: sqlIdSchema.nullish() }),
  z.object({ type: z.literal('describe'), sql: z.string().nullish(), sql_id: sqlIdSchema.nullish() }),
  z.object({ type: z.literal('store_sql'), sql_id: sqlIdSchema, sql: z.string() }),
  z.object({ type: z.literal('close_sql'), sql_id: sqlIdSchema }),
  z.object({ type: z.literal('get_autocommit') }),
]);

export interface PipelineRequestBody {
  readonly baton?: string | null | undefined;
  readonly requests: readonly WireStreamRequest[];
}

export interface CursorRequestBody {
  readonly baton?: string | null | undefined;
  readonly batch: WireBatch;
}

const pipelineRequestSchema = z.object({
  baton: z.string().nullish(),
  requests: z.array(streamRequestSchema),
});

const cursorRequestSchema = z.object({
  baton: z.string().nullish(),
  batch: batchSchema,
});

function parseWith<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
    throw new ProtocolError(`Invalid ${what}${where}: ${issue?.message ?? 'does not match the protocol'}`);
  }
  return parsed.data;
}

export function parsePipelineRequest(body: unknown): PipelineRequestBody {
  return parseWith(pipelineRequestSchema, body, 'pipeline request');
}

export function parseCursorRequest(body: unknown): CursorRequestBody {
  return parseWith(cursorRequestSchema, body, 'cursor request');
}

// ---- responses ------------------------------------------------------------------------------

export interface WireCol {
  readonly name: string | null;
  readonly decltype: string | null;
}

export interface WireStmtResult {
  readonly cols: readonly WireCol[];
  readonly rows: readonly (readonly WireValue[])[];
  readonly affected_row_count: number;
  readonly last_insert_rowid: string | null;
}

export interface WireError {
  readonly message: string;
  readonly code: string;
}

export interface WireBatchResult {
  /** One entry per step: the result, or null if the step failed or did not run. */
  readonly step_results: readonly (WireStmtResult | null)[];
  /** One entry per step: the error, or null if the step succeeded or did not run. */
  readonly step_errors: readonly (WireError | null)[];
}

export interface WireDescribeResult {
  readonly params: readonly { readonly name: string | null }[];
  readonly cols: readonly { readonly name: string; readonly decltype: string | null }[];
  readonly is_explain: boolean;
  readonly is_readonly: boolean;
}

export type WireStreamResponse =
  | { readonly type: 'close' }
  | { readonly type: 'execute'; readonly result: WireStmtResult }
  | { readonly type: 'batch'; readonly result: WireBatchResult }
  | { readonly type: 'sequence' }
  | { readonly type: 'describe'; readonly result: WireDescribeResult }
  | { readonly type: 'store_sql' }
  | { readonly type: 'close_sql' }
  | { readonly type: 'get_autocommit'; readonly is_autocommit: boolean };

export type WireStreamResult =
  | { readonly type: 'ok'; readonly response: WireStreamResponse }
  | { readonly type: 'error'; readonly error: WireError };

export interface PipelineResponseBody {
  readonly baton: string | null;
  readonly base_url: string | null;
  readonly results: readonly WireStreamResult[];
}

export type WireCursorEntry =
  | { readonly type: 'step_begin'; readonly step: number; readonly cols: readonly WireCol[] }
  | { readonly type: 'step_end'; readonly affected_row_count: number; readonly last_insert_rowid: string | null }
  | { readonly type: 'step_error'; readonly step: number; readonly error: WireError }
  | { readonly type: 'row'; readonly row: readonly WireValue[] }
  | { readonly type: 'error'; readonly error: WireError };
