/**
 * The relay's structured log: one JSON object per line on stdout (fly.io and most platforms
 * collect stdout), with the relay's identity on every line.
 *
 * Nothing key-like is ever printed. Redaction is by field name, at any depth up to
 * REDACT_DEPTH, so `log.info({ spec })` cannot leak `spec.clientToRelay.masterKey` even if a
 * caller forgets. Redaction is a safety net, not a licence: code should still log ids and
 * counts, never key material.
 */
import { pino, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';
import type { RelayConfig } from './config.js';

export type RelayLogger = Logger;

/** Field names whose values never reach the log, wherever they appear. */
export const REDACTED_FIELDS = [
  'masterKey',
  'masterSalt',
  'sealedKeys',
  'clientToRelay',
  'relayToClient',
  'authorization',
  'Authorization',
  'cookie',
  'secret',
  'secrets',
  'token',
  'apiKeys',
  'privateKey',
] as const;

/** Nesting levels covered: `field`, `*.field`, ... up to this many wildcards. */
const REDACT_DEPTH = 4;

/**
 * Every field at depth 0, then every field at depth 1, and so on. The order matters: with
 * @pinojs/redact 0.4 (pino 10), a deeper path listed before a shallower one that covers its
 * parent (`*.*.masterKey` before `*.clientToRelay`) writes "[Redacted]" into the caller's own
 * object, which here could be live key material. Shallow-first does not (test/unit/relay/
 * logger.test.ts checks both properties on random objects). Related upstream:
 * https://github.com/pinojs/redact/pull/37.
 */
export function redactPaths(): string[] {
  const paths: string[] = [];
  for (let depth = 0; depth <= REDACT_DEPTH; depth++) {
    for (const field of REDACTED_FIELDS) paths.push(`${'*.'.repeat(depth)}${field}`);
  }
  return paths;
}

/**
 * Creates the relay's logger. `destination` defaults to stdout; tests pass a stream to read
 * the lines back.
 */
export function createRelayLogger(
  config: Pick<RelayConfig, 'logLevel' | 'relayId' | 'region'>,
  destination?: DestinationStream,
): RelayLogger {
  const options = {
    level: config.logLevel,
    base: { service: 'parley-relay', relayId: config.relayId, region: config.region, pid: process.pid },
    timestamp: stdTimeFunctions.isoTime,
    // "level":"warn" rather than "level":40: readable in `fly logs` and log search.
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: redactPaths(), censor: '[Redacted]' },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
