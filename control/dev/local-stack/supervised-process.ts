/**
 * A child process the local stack started and must stop: spawned as the leader of its own
 * process group, so that stopping it stops everything it started below itself (wrangler runs
 * a second node, esbuild and two workerd processes), and so that a Ctrl-C in the terminal
 * reaches only `npm start`, which then stops its children in order.
 *
 * Its output (stdout and stderr, line by line) goes to a log file and to listeners; the last
 * lines are kept for the message when it dies. stop() signals the whole group (SIGTERM, then
 * SIGKILL after a grace period) and resolves once no member of the group is left. It is
 * idempotent: every call returns the same promise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { processGroupMembers } from './proc.js';

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** "exited with code 1", "was killed by SIGKILL". */
export function describeExit(status: ExitStatus): string {
  if (status.signal !== null) return `was killed by ${status.signal}`;
  return `exited with code ${status.code ?? 'unknown'}`;
}

export interface SupervisedProcessOptions {
  /** What the process is, for messages: "control plane (wrangler dev)". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Every output line is appended here (created if missing). */
  readonly logFile?: string;
  /** How many of the last output lines to keep (default 40). */
  readonly tailLines?: number;
}

export type OutputStream = 'stdout' | 'stderr';
export type LineListener = (line: string, stream: OutputStream) => void;

const POLL_MS = 50;
/** After SIGKILL, how long to wait for the group to vanish before giving up. */
const KILL_WAIT_MS = 5_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class ProcessStartError extends Error {
  override readonly name = 'ProcessStartError';
}

export class SupervisedProcess {
  readonly name: string;
  /** The leader's pid; also the process group id. */
  readonly pid: number;
  /** Resolves when the leader has exited (members of its group may still run: see stop()). */
  readonly exited: Promise<ExitStatus>;

  readonly #child: ChildProcess;
  readonly #listeners = new Set<LineListener>();
  readonly #tail: string[] = [];
  readonly #tailLines: number;
  readonly #log: WriteStream | null;
  #exitStatus: ExitStatus | null = null;
  #stopping: Promise<ExitStatus> | null = null;

  /** Starts the process. Throws ProcessStartError if it could not be spawned at all. */
  static start(options: SupervisedProcessOptions): SupervisedProcess {
    return new SupervisedProcess(options);
  }

  private constructor(options: SupervisedProcessOptions) {
    this.name = options.name;
    this.#tailLines = options.tailLines ?? 40;
    // detached: setsid(), so the child leads a new session and process group (pgid = pid).
    const child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) {
      // spawn reports ENOENT and friends asynchronously, but then pid is always undefined.
      child.on('error', () => {});
      throw new ProcessStartError(`${options.name}: could not start ${options.command}`);
    }
    this.#child = child;
    this.pid = child.pid;
    this.#log = options.logFile === undefined ? null : createWriteStream(options.logFile, { flags: 'a', mode: 0o600 });
    this.#readLines(child.stdout!, 'stdout');
    this.#readLines(child.stderr!, 'stderr');
    this.exited = new Promise<ExitStatus>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exitStatus = { code, signal };
        resolve(this.#exitStatus);
      });
    });
    child.on('error', (error) => this.#record(`[${options.name}: ${error.message}]`, 'stderr'));
  }

  /** Null while the leader runs. */
  get exitStatus(): ExitStatus | null {
    return this.#exitStatus;
  }

  get running(): boolean {
    return this.#exitStatus === null;
  }

  /** Calls `listener` with every later output line. Returns a function that removes it. */
  onLine(listener: LineListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The last output lines, oldest first. */
  tail(): readonly string[] {
    return [...this.#tail];
  }

  /** Pids of the live members of the process group, the leader included while it runs. */
  groupMembers(): number[] {
    return processGroupMembers(this.pid).map((member) => member.pid);
  }

  /** Sends a signal to the leader only (e.g. SIGKILL to the relay in a test). */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.#child.kill(signal);
  }

  /** SIGKILL to the whole group now (a second Ctrl-C); a stop() in progress then ends at once. */
  kill(): void {
    if (this.running || this.groupMembers().length > 0) signalGroup(this.pid, 'SIGKILL');
  }

  /**
   * Stops the whole process group: SIGTERM, then SIGKILL after `graceMs` if any member is left.
   * Resolves with the leader's exit status once the group is empty (or KILL_WAIT_MS after
   * SIGKILL, if the kernel still lists a member).
   */
  stop(graceMs = 10_000): Promise<ExitStatus> {
    this.#stopping ??= this.#stopGroup(graceMs);
    return this.#stopping;
  }

  async #stopGroup(graceMs: number): Promise<ExitStatus> {
    const groupGone = async (untilMs: number): Promise<boolean> => {
      while (Date.now() < untilMs) {
        if (this.#exitStatus !== null && this.groupMembers().length === 0) return true;
        await delay(POLL_MS);
      }
      return this.#exitStatus !== null && this.groupMembers().length === 0;
    };
    if (this.running || this.groupMembers().length > 0) {
      signalGroup(this.pid, 'SIGTERM');
      if (!(await groupGone(Date.now() + graceMs))) {
        signalGroup(this.pid, 'SIGKILL');
        await groupGone(Date.now() + KILL_WAIT_MS);
      }
    }
    const status = await this.exited;
    await new Promise<void>((resolve) => (this.#log === null ? resolve() : this.#log.end(resolve)));
    return status;
  }

  #readLines(stream: NodeJS.ReadableStream, which: OutputStream): void {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        this.#record(buffered.slice(0, newline).replace(/\r$/, ''), which);
        buffered = buffered.slice(newline + 1);
      }
    });
    stream.on('end', () => {
      if (buffered !== '') this.#record(buffered, which);
      buffered = '';
    });
  }

  #record(line: string, which: OutputStream): void {
    this.#tail.push(line);
    if (this.#tail.length > this.#tailLines) this.#tail.shift();
    if (this.#log !== null && this.#log.writable) this.#log.write(`${line}\n`);
    for (const listener of this.#listeners) listener(line, which);
  }
}

/** kill(-pgid, signal); a group that no longer exists is not an error. */
export function signalGroup(processGroup: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-processGroup, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
