/**
 * The stack `parley demo` talks to: the local stack `npm start` already runs on the state
 * directory (found by its stack.json, control/dev/local-stack/stack-info.ts, and its health
 * URL), or one the demo starts itself, in this process, with the code `npm start` uses
 * (control/dev/local-stack/local-stack.ts), on free ports, and stops when it is done.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { displayPath, EPHEMERAL_PORTS, startLocalStack } from '../../control/dev/local-stack/local-stack.js';
import { OPERATOR_KEY_FILE } from '../../control/dev/local-stack/operator-key.js';
import { readStackInfo } from '../../control/dev/local-stack/stack-info.js';
import { StackAlreadyRunningError } from '../../control/dev/local-stack/stack-lock.js';

export interface DemoStack {
  readonly controlUrl: string;
  readonly operatorKey: string;
  /** True when the demo started it (and stop() stops it); false for a stack `npm start` runs. */
  readonly startedHere: boolean;
  /** Stops the stack if the demo started it. Idempotent. */
  stop(): Promise<void>;
}

export interface DemoStackOptions {
  readonly stateDir: string;
  readonly log: (line: string) => void;
  readonly signal?: AbortSignal;
  /** How long a stack that is still starting (another run holds the lock) is waited for (default 180 s). */
  readonly waitForOtherMs?: number;
}

/** A stack runs but cannot be used (not healthy, no operator key). */
export class DemoStackError extends Error {
  override readonly name = 'DemoStackError';
}

async function healthy(controlUrl: string): Promise<boolean> {
  try {
    const response = await fetch(new URL('/healthz', controlUrl), { signal: AbortSignal.timeout(5_000) });
    const body = (await response.json()) as { ok?: unknown; service?: unknown };
    return response.ok && body.ok === true && body.service === 'parley-control';
  } catch {
    return false;
  }
}

async function useRunning(stateDir: string, controlUrl: string): Promise<DemoStack> {
  if (!(await healthy(controlUrl))) throw new DemoStackError(`the local stack on ${stateDir} does not answer ${controlUrl}/healthz; stop it (Ctrl-C in its terminal) and run the demo again`);
  let operatorKey: string;
  try {
    operatorKey = readFileSync(join(stateDir, OPERATOR_KEY_FILE), 'utf8').trim();
  } catch {
    throw new DemoStackError(`the local stack on ${stateDir} has no ${OPERATOR_KEY_FILE}`);
  }
  return { controlUrl, operatorKey, startedHere: false, stop: () => Promise.resolve() };
}

export async function useOrStartStack(options: DemoStackOptions): Promise<DemoStack> {
  const running = readStackInfo(options.stateDir);
  if (running !== null) {
    options.log(`Using the local stack that runs on ${displayPath(options.stateDir)} (npm start): control plane ${running.controlUrl}`);
    return useRunning(options.stateDir, running.controlUrl);
  }
  options.log(`Starting the local stack (the code npm start runs), on free ports, state in ${displayPath(options.stateDir)}:`);
  try {
    const stack = await startLocalStack({
      stateDir: options.stateDir,
      ports: EPHEMERAL_PORTS,
      log: (line) => options.log(`  ${line}`),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return { controlUrl: stack.control.url, operatorKey: stack.operatorKey.key, startedHere: true, stop: () => stack.stop() };
  } catch (error) {
    if (!(error instanceof StackAlreadyRunningError)) throw error;
    // Another run holds the state directory and has not finished starting: wait for it.
    options.log(`  a local stack is starting on ${options.stateDir} (pid ${error.ownerPid}); waiting for it…`);
    const deadline = Date.now() + (options.waitForOtherMs ?? 180_000);
    while (Date.now() < deadline && options.signal?.aborted !== true) {
      const info = readStackInfo(options.stateDir);
      if (info !== null) return useRunning(options.stateDir, info.controlUrl);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new DemoStackError(`the local stack starting on ${options.stateDir} (pid ${error.ownerPid}) was not up in time`);
  }
}
