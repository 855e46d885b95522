/**
 * Where a running local stack can be reached: `<state dir>/stack.json`, written once every part
 * is healthy and removed when it stops, so tools (`parley demo`) use a stack `npm start` runs
 * instead of starting another. The file names the stack's owner (stack-lock.ts's identity): a
 * file whose owner is gone (a killed run) describes nothing.
 *
 * It holds URLs only; the operator key stays in its own 0600 file (operator-key.ts).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityAlive } from './stack-lock.js';

export const STACK_INFO_FILE = 'stack.json';

export interface StackInfo {
  /** stack-lock.ts's identity of the process that runs the stack. */
  readonly owner: string;
  readonly controlUrl: string;
  readonly relayId?: string;
  readonly relayUdp?: readonly string[];
}

export function writeStackInfo(stateDir: string, info: StackInfo): void {
  writeFileSync(join(stateDir, STACK_INFO_FILE), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

/** Removes the file if it is still `owner`'s. Never throws. */
export function removeStackInfo(stateDir: string, owner: string): void {
  try {
    if (readStackInfoFile(stateDir)?.owner === owner) rmSync(join(stateDir, STACK_INFO_FILE), { force: true });
  } catch {
    // Already gone.
  }
}

function readStackInfoFile(stateDir: string): StackInfo | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(stateDir, STACK_INFO_FILE), 'utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { owner, controlUrl } = parsed as Record<string, unknown>;
  if (typeof owner !== 'string' || typeof controlUrl !== 'string') return null;
  return parsed as StackInfo;
}

/** The stack running on `stateDir`, or null when none runs (or it has not finished starting). */
export function readStackInfo(stateDir: string): StackInfo | null {
  const info = readStackInfoFile(stateDir);
  return info !== null && identityAlive(info.owner) ? info : null;
}
