/**
 * The load test's live progress, as one line of text (shown by cli/progress-line.ts: rewritten
 * in place on a terminal, one plain line per report in a log).
 */
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
