/**
 * One local stack per state directory, and nothing left behind by a killed one.
 *
 * The lock: `<state dir>/stack.lock` holds the owner's identity, `<pid>:<start time>` (the start
 * time from /proc, so a recycled pid is not mistaken for the owner). A second `npm start` on the
 * same directory is refused while the owner lives; a lock whose owner is gone is stale and taken
 * over.
 *
 * The leftovers: every process the stack starts carries PARLEY_STACK_DIR (the state directory)
 * and PARLEY_STACK_OWNER (the owner's identity) in its environment, and so does everything those
 * start (wrangler's workerd, esbuild). A previous run killed with SIGKILL cannot stop its
 * children; the next run finds them by these variables in /proc/<pid>/environ, sees their owner
 * is gone, and stops their process groups before it binds any port.
 */
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isAlive, listPids, readCommandLine, readProcessEnvironment, readProcessStat } from './proc.js';
import { signalGroup } from './supervised-process.js';

export const STACK_DIR_VARIABLE = 'PARLEY_STACK_DIR';
export const STACK_OWNER_VARIABLE = 'PARLEY_STACK_OWNER';
export const LOCK_FILE_NAME = 'stack.lock';

/** `<pid>:<start ticks>` of a process, or null if it does not exist. */
export function processIdentity(pid: number): string | null {
  const stat = readProcessStat(pid);
  return stat === null ? null : `${pid}:${stat.startTicks}`;
}

/** True if the process named by an identity still runs (and is the same process). */
export function identityAlive(identity: string): boolean {
  const pid = Number(identity.split(':', 1)[0]);
  return Number.isSafeInteger(pid) && pid > 0 && isAlive(pid) && processIdentity(pid) === identity;
}

export class StackAlreadyRunningError extends Error {
  override readonly name = 'StackAlreadyRunningError';
  constructor(
    readonly stateDir: string,
    readonly ownerPid: number,
  ) {
    super(`a local stack already runs on ${stateDir} (pid ${ownerPid}); stop it first (Ctrl-C in its terminal, or kill ${ownerPid})`);
  }
}

export class StackLock {
  readonly stateDir: string;
  /** This process's identity, written to the lock and to every child's environment. */
  readonly owner: string;
  readonly #path: string;
  #released = false;

  /** Takes the lock on `stateDir` (created if missing); throws StackAlreadyRunningError. */
  static acquire(stateDir: string): StackLock {
    const directory = resolve(stateDir);
    mkdirSync(directory, { recursive: true });
    const path = join(directory, LOCK_FILE_NAME);
    const owner = processIdentity(process.pid);
    if (owner === null) throw new Error('stack-lock: /proc/self/stat is unreadable (Linux only)');
    for (let attempt = 0; attempt < 2; attempt++) {
      let fd: number;
      try {
        fd = openSync(path, 'wx', 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        let holder = '';
        try {
          holder = readFileSync(path, 'utf8').trim();
        } catch {
          // Removed meanwhile: try again.
        }
        if (holder !== '' && identityAlive(holder)) throw new StackAlreadyRunningError(directory, Number(holder.split(':', 1)[0]));
        rmSync(path, { force: true });
        continue;
      }
      writeSync(fd, `${owner}\n`);
      closeSync(fd);
      return new StackLock(directory, owner, path);
    }
    throw new Error(`stack-lock: could not take ${path}: another process keeps creating it`);
  }

  private constructor(stateDir: string, owner: string, path: string) {
    this.stateDir = stateDir;
    this.owner = owner;
    this.#path = path;
  }

  /** The variables that mark a child as this stack's (module comment). */
  childEnvironment(): Record<string, string> {
    return { [STACK_DIR_VARIABLE]: this.stateDir, [STACK_OWNER_VARIABLE]: this.owner };
  }

  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    try {
      if (readFileSync(this.#path, 'utf8').trim() === this.owner) rmSync(this.#path, { force: true });
    } catch {
      // Already gone.
    }
  }
}

export interface Leftover {
  readonly pid: number;
  readonly processGroup: number;
  readonly commandLine: string;
}

export interface StackProcess extends Leftover {
  /** The identity of the stack owner it was started for. */
  readonly owner: string;
}

/** Every live process marked with `stateDir` (module comment), this one excepted. */
export function findStackProcesses(stateDir: string): StackProcess[] {
  const directory = resolve(stateDir);
  const found: StackProcess[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const environment = readProcessEnvironment(pid);
    if (environment?.get(STACK_DIR_VARIABLE) !== directory) continue;
    const stat = readProcessStat(pid);
    if (stat === null || stat.state === 'Z') continue;
    found.push({ pid, processGroup: stat.processGroup, commandLine: readCommandLine(pid), owner: environment.get(STACK_OWNER_VARIABLE) ?? '' });
  }
  return found;
}

/** Processes marked with `stateDir` whose owner is no longer alive (module comment). */
export function findLeftovers(stateDir: string): Leftover[] {
  return findStackProcesses(stateDir)
    .filter((p) => p.owner === '' || !identityAlive(p.owner))
    .map(({ pid, processGroup, commandLine }) => ({ pid, processGroup, commandLine }));
}

/**
 * Stops leftovers: SIGTERM to each of their process groups (never our own), SIGKILL to whatever
 * is left after `graceMs`. Resolves when none is alive, or after the SIGKILL wait.
 */
export async function stopLeftovers(leftovers: readonly Leftover[], graceMs = 5_000): Promise<void> {
  const ownGroup = readProcessStat(process.pid)?.processGroup;
  const groups = new Set(leftovers.map((l) => l.processGroup).filter((group) => group !== ownGroup && group > 1));
  const stillAlive = () => leftovers.filter((l) => isAlive(l.pid));
  const waitUntil = async (deadline: number) => {
    while (stillAlive().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  };
  for (const group of groups) signalGroup(group, 'SIGTERM');
  // A leftover in our own group (impossible for what the stack starts) gets a signal of its own.
  for (const leftover of leftovers) if (!groups.has(leftover.processGroup)) signalPid(leftover.pid, 'SIGTERM');
  await waitUntil(Date.now() + graceMs);
  for (const leftover of stillAlive()) {
    if (groups.has(leftover.processGroup)) signalGroup(leftover.processGroup, 'SIGKILL');
    else signalPid(leftover.pid, 'SIGKILL');
  }
  await waitUntil(Date.now() + 5_000);
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
