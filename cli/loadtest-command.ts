/**
 * `parley loadtest` (also `npm run loadtest`): many simulated voice clients against a relay.
 * Options and bounds in loadtest/loadtest-options.ts, the run in loadtest/load-run.ts.
 *
 * Output: the progress line on stderr (stdout stays clean for --json), the summary table or the
 * JSON on stdout, and with --report an HTML page.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderHtmlReport } from './loadtest/html-report.js';
import { runLoad, SESSION_LIFETIME_MS, type LoadResult } from './loadtest/load-run.js';
import { LOADTEST_USAGE, LoadtestUsageError, parseLoadtestArgs, type LoadtestOptions } from './loadtest/loadtest-options.js';
import { createProvisioner, LoadTargetError } from './loadtest/member-provisioner.js';
import { formatProgress } from './loadtest/progress-format.js';
import { ProgressLine } from './progress-line.js';
import { formatSummary } from './loadtest/summary-table.js';
import { RelayApiError } from '../shared/relay-api/relay-api-client.js';
import type { CommandIo } from './srtp-command.js';

export { LOADTEST_USAGE };

export interface LoadtestIo extends CommandIo {
  readonly env?: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C by the entry point; the run then stops talking and cleans up. */
  readonly signal?: AbortSignal;
}

/** Whether the run passed: everyone joined, nothing failed to decrypt or carried a wrong payload. */
export function runPassed(result: LoadResult, options: LoadtestOptions): boolean {
  const replaysAsked = options.impairment !== null && (options.impairment.settings.duplicate > 0 || options.impairment.settings.reorder > 0);
  return (
    !result.interrupted &&
    result.clients.failedJoins === 0 &&
    result.failures.decrypt === 0 &&
    result.failures.corruptPayload === 0 &&
    (replaysAsked || result.failures.replay === 0)
  );
}

export async function runLoadtestCommand(argv: readonly string[], io: LoadtestIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(LOADTEST_USAGE);
    return 0;
  }
  let options: LoadtestOptions;
  try {
    options = parseLoadtestArgs(argv);
  } catch (error) {
    if (!(error instanceof LoadtestUsageError)) throw error;
    io.stderr.write(`parley loadtest: ${error.message}\n\nRun 'parley loadtest --help' for the options.\n`);
    return 2;
  }

  let provisioner;
  try {
    provisioner = await createProvisioner(options.target, io.env ?? process.env, SESSION_LIFETIME_MS);
  } catch (error) {
    if (!(error instanceof LoadTargetError)) throw error;
    io.stderr.write(`parley loadtest: ${error.message}\n`);
    return 2;
  }

  // Every report of the run (one a second) on a pipe too: CI logs show the whole run.
  const progress = new ProgressLine(io.stderr, { pipeIntervalMs: 0 });
  let result: LoadResult;
  try {
    result = await runLoad({
      shape: options.shape,
      provisioner,
      impairment: options.impairment,
      onProgress: (snapshot) => progress.update(formatProgress(snapshot)),
      ...(io.signal === undefined ? {} : { signal: io.signal }),
    });
  } catch (error) {
    progress.end();
    // A target that refuses (a wrong key, an endpoint not allowed): say so plainly, no stack.
    if (error instanceof LoadTargetError || error instanceof RelayApiError) {
      io.stderr.write(`parley loadtest: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  progress.end();
  if (result.clients.joined === 0 && result.clients.firstJoinError !== null) {
    io.stderr.write(`parley loadtest: no client could join: ${result.clients.firstJoinError}\n`);
  }

  if (options.reportFile !== null) {
    const path = resolve(options.reportFile);
    writeFileSync(path, renderHtmlReport(result));
    if (!options.json) io.stderr.write(`report: ${path}\n`);
  }
  io.stdout.write(options.json ? `${JSON.stringify(result)}\n` : formatSummary(result));
  return runPassed(result, options) ? 0 : 1;
}
