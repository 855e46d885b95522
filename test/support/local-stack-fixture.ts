/**
 * One real local stack per e2e test file (npm start's own code: the libSQL server, the control
 * plane in wrangler dev, the compiled relay; loopback, ephemeral ports), in a temporary state
 * directory, with more temporary directories for the file's tests.
 *
 * `useLocalStack(label)` registers the file's beforeAll (start) and afterAll (stop, then remove
 * every directory it handed out). Before removing a directory it SIGKILLs, by process group, any
 * stack process still running on it: a run killed mid-way must not leave a stack behind for the
 * next one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { EPHEMERAL_PORTS, startLocalStack, type LocalStack } from '../../control/dev/local-stack/local-stack.js';
import { findStackProcesses } from '../../control/dev/local-stack/stack-lock.js';

export interface LocalStackFixture {
  /** The running stack; read it inside tests (it starts in beforeAll). */
  readonly stack: LocalStack;
  /** The stack's state directory (`npm start --state-dir`). */
  readonly stateDir: string;
  /** A fresh directory, `parley-e2e-<label>-<name>-…` under the OS temp dir, removed in afterAll. */
  tempDir(name: string): string;
}

export function useLocalStack(label: string): LocalStackFixture {
  const temporary: string[] = [];
  let started: { readonly stack: LocalStack; readonly stateDir: string } | undefined;

  function tempDir(name: string): string {
    const dir = mkdtempSync(join(tmpdir(), `parley-e2e-${label}-${name}-`));
    temporary.push(dir);
    return dir;
  }

  function running(): { readonly stack: LocalStack; readonly stateDir: string } {
    if (started === undefined) throw new Error(`useLocalStack(${label}): the stack is read before its beforeAll started it`);
    return started;
  }

  beforeAll(async function startFileStack() {
    const stateDir = tempDir('stack');
    started = { stack: await startLocalStack({ stateDir, ports: EPHEMERAL_PORTS }), stateDir };
  }, 240_000);

  afterAll(async function stopFileStack() {
    await started?.stack.stop();
    for (const dir of temporary) {
      for (const leftover of findStackProcesses(dir)) process.kill(-leftover.processGroup, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  return {
    get stack() {
      return running().stack;
    },
    get stateDir() {
      return running().stateDir;
    },
    tempDir,
  };
}
