/**
 * Structured JSON logs, one object per line on the Worker's console (Workers Logs and
 * `wrangler tail` index them), each carrying the request id that the response also returns in
 * `X-Request-Id`.
 *
 * What may be logged is decided by the call site, and call sites pass only ids, codes, counts
 * and timings. As a second line of defence, fields whose names say they hold a secret are
 * replaced by "[redacted]" whatever they contain, and long strings are cut, so a mistake cannot
 * write a password, token, key or hash out in full.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const SECRET_FIELD = /pass(word)?|secret|token|authorization|cookie|key(?!Id$|_id$)|hash|seal|private|signature|sig$/i;
const MAX_STRING = 200;

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth > 3) return '[…]';
  if (Array.isArray(value)) return value.slice(0, 20).map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELD.test(k) ? '[redacted]' : scrub(v, depth + 1);
  return out;
}

export interface RequestLog {
  readonly requestId: string;
  write(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
}

export function createRequestLog(requestId: string, sink: (line: string, level: LogLevel) => void = consoleSink): RequestLog {
  return {
    requestId,
    write(level, event, fields = {}) {
      const record = { level, event, requestId, ...(scrub(fields, 0) as Record<string, unknown>) };
      sink(JSON.stringify(record), level);
    },
  };
}

function consoleSink(line: string, level: LogLevel): void {
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}
