/**
 * Drives a line-oriented child process (libsrtp-peer, the parley CLI): streams input lines to
 * its stdin while collecting stdout lines, then waits for it to exit.
 *
 * stdin is written in batches that respect back-pressure, and stdout is split as it arrives,
 * so 70,000 packets (tens of MB of hex) never sit in one string on either side.
 */
import { spawn } from 'node:child_process';

export interface LineProcessResult {
  /** stdout split on '\n' (no trailing empty line). */
  readonly lines: string[];
  readonly stderr: string;
  /** Exit code, or null if killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface LineProcessOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Input lines per stdin write. */
  readonly batchSize?: number;
}

export function runLineProcess(
  command: string,
  args: readonly string[],
  input: Iterable<string>,
  options: LineProcessOptions = {},
): Promise<LineProcessResult> {
  const batchSize = options.batchSize ?? 512;
  return new Promise<LineProcessResult>((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let partial = '';
    let stderr = '';

    child.stdout.setEncoding('utf8');
    child.stdout.on('data', function collectStdout(chunk: string) {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) lines.push(part);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', function collectStderr(chunk: string) {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', function finish(code, signal) {
      if (partial !== '') lines.push(partial);
      resolve({ lines, stderr, code, signal });
    });

    // The child may exit early (bad arguments) and close its stdin: that is a result, not an error.
    child.stdin.on('error', function ignoreEpipe(error: NodeJS.ErrnoException) {
      if (error.code !== 'EPIPE') reject(error);
    });

    const iterator = input[Symbol.iterator]();
    function writeBatches(): void {
      for (;;) {
        let batch = '';
        let count = 0;
        let done = false;
        while (count < batchSize) {
          const next = iterator.next();
          if (next.done === true) {
            done = true;
            break;
          }
          batch += `${next.value}\n`;
          count += 1;
        }
        if (done) {
          child.stdin.end(batch);
          return;
        }
        if (!child.stdin.write(batch)) {
          child.stdin.once('drain', writeBatches);
          return;
        }
      }
    }
    writeBatches();
  });
}
