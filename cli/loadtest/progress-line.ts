/**
 * The load test's live progress: on a terminal one line rewritten in place; otherwise (a pipe,
 * a CI log) plain lines, one per report, so logs stay readable.
 */
import type { Writable } from 'node:stream';
import type { ProgressSnapshot } from './load-run.js';

export function formatProgress(s: ProgressSnapshot): string {
  const loss = s.expected === 0 ? '-' : `${((Math.max(0, s.expected - s.received) / s.expected) * 100).toFixed(2)}%`;
  const latency = Number.isNaN(s.recentLatencyP50Ms) ? '-' : `${s.recentLatencyP50Ms.toFixed(2)} ms`;
  const failed = s.failedJoins > 0 ? ` (${s.failedJoins} failed)` : '';
  return (
    `t=${(s.elapsedMs / 1000).toFixed(0).padStart(3)}s ${s.phase.padEnd(8)} clients ${s.joined}/${s.planned}${failed}  ` +
    `sent ${s.sent}  received ${s.received}/${s.expected}  loss ${loss}  p50 ${latency}  ` +
    `decrypt-fail ${s.decryptFailures}  replay ${s.replayFailures}`
  );
}

export class ProgressLine {
  readonly #out: Writable;
  readonly #tty: boolean;
  #drawn = false;

  /** `out` is a terminal when it says so (`isTTY`), as process.stderr does. */
  constructor(out: Writable) {
    this.#out = out;
    this.#tty = (out as { isTTY?: boolean }).isTTY === true;
  }

  update(snapshot: ProgressSnapshot): void {
    const line = formatProgress(snapshot);
    if (this.#tty) {
      // Carriage return and "erase line" (ECMA-48 EL), so a shorter line leaves no tail.
      this.#out.write(`\r\x1b[2K${line}`);
      this.#drawn = true;
    } else {
      this.#out.write(`${line}\n`);
    }
  }

  /** Ends the rewritten line (terminal only), so what follows starts on its own line. Idempotent. */
  finish(): void {
    if (this.#drawn) this.#out.write('\n');
    this.#drawn = false;
  }
}
