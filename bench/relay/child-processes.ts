/**
 * Starting, pinning and stopping the benchmark's child processes. Every child started here is
 * remembered until it exits, and `stopAllChildren` / the exit hook end all of them — also on
 * Ctrl-C and on errors — so a benchmark run never leaves a relay behind.
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** Cores the relay (or plain forwarder) and the load generator are pinned to. */
export const RELAY_CORE = 0;
export const LOAD_CORE = 1;

export interface Pinning {
  /** Whether taskset is used; false when it is missing, refused, or there are fewer than 2 cores. */
  readonly pinned: boolean;
  /** Why not, when not. */
  readonly reason: string | null;
}

/** Checks that `taskset` exists and may set this machine's cores 0 and 1. */
export function detectPinning(cores: number): Pinning {
  if (cores < 2) return { pinned: false, reason: `only ${cores} core(s) available` };
  for (const core of [RELAY_CORE, LOAD_CORE]) {
    const probe = spawnSync('taskset', ['-c', String(core), 'true'], { stdio: 'ignore' });
    if (probe.error !== undefined) return { pinned: false, reason: 'taskset (util-linux) not found' };
    if (probe.status !== 0) return { pinned: false, reason: `taskset -c ${core} refused (exit ${probe.status})` };
  }
  return { pinned: true, reason: null };
}

export interface PinnedChildOptions {
  readonly name: string;
  readonly core: number;
  readonly pinning: Pinning;
  /** Arguments after `node` (flags, then the script), or after `executable`. */
  readonly nodeArgs: readonly string[];
  /** A program to run instead of node (a compiled bench program). */
  readonly executable?: string;
  /** Give the child a stdin pipe (child.process.stdin) instead of none. */
  readonly stdinPipe?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  /** Open an IPC channel (process.send) to the child. */
  readonly ipc?: boolean;
  readonly cwd: string;
}

export interface RunningChild {
  readonly name: string;
  readonly process: ChildProcess;
  /** The child's process id (taskset execs the program, so the pid is the program's own). */
  readonly pid: number;
  /** Settles when the child exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Last lines the child wrote to stderr/stdout, for error messages. */
  tail(): string;
}

const running = new Set<RunningChild>();
const TAIL_LINES = 30;

export function startPinnedChild(options: PinnedChildOptions): RunningChild {
  const program = options.executable ?? process.execPath;
  const command = options.pinning.pinned ? 'taskset' : program;
  const args = options.pinning.pinned ? ['-c', String(options.core), program, ...options.nodeArgs] : [...options.nodeArgs];
  const stdin = options.stdinPipe ? 'pipe' : 'ignore';
  const stdio: StdioOptions = options.ipc ? [stdin, 'pipe', 'pipe', 'ipc'] : [stdin, 'pipe', 'pipe'];
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio });
  if (child.pid === undefined) throw new Error(`bench: could not start ${options.name}`);
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      lines.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
      if (lines.length > TAIL_LINES) lines.shift();
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  const handle: RunningChild = { name: options.name, process: child, pid: child.pid, exited, tail: () => lines.join('\n') };
  running.add(handle);
  void exited.then(() => running.delete(handle));
  return handle;
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves once the child has exited. */
export async function stopChild(child: RunningChild, graceMs = 3000): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...running].map((child) => stopChild(child)));
}

/** Last resort (process exit): kill what is left, synchronously, by pid. */
function killRemainingChildren(): void {
  for (const child of running) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

let hooksInstalled = false;

/** Ends every child on exit, Ctrl-C, SIGTERM and uncaught errors. */
export function installExitHooks(onSignal: (signal: NodeJS.Signals) => void): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killRemainingChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      onSignal(signal);
      void stopAllChildren().finally(() => process.exit(130));
    });
  }
}

async function udpPortFree(port: number): Promise<boolean> {
  const socket = createSocket('udp4');
  return new Promise((resolve) => {
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

async function tcpPortFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive fixed ports from `base` on, free for both UDP and TCP on 127.0.0.1 (the
 * bench chooses them, so the relay never binds an ephemeral port). Tries a few bases.
 */
export async function findFreePortBlock(base: number, count: number): Promise<number[]> {
  for (let start = base; start < base + 2000; start += count + 7) {
    const ports = Array.from({ length: count }, (_, i) => start + i);
    let free = true;
    for (const port of ports) {
      if (!(await udpPortFree(port)) || !(await tcpPortFree(port))) {
        free = false;
        break;
      }
    }
    if (free) return ports;
  }
  throw new Error(`bench: no ${count} free consecutive ports found from ${base}`);
}

/** Polls `url` until it answers 200 or `timeoutMs` passes; fails early if `child` exits. */
export async function waitForHttp(url: string, child: RunningChild, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`bench: ${child.name} exited during startup:\n${child.tail()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`bench: ${child.name} did not answer ${url} within ${timeoutMs} ms:\n${child.tail()}`);
}

/** Waits for one IPC message matching `accept` from `child`, or fails when it exits or time runs out. */
export function nextMessage<T>(child: RunningChild, accept: (message: unknown) => message is T, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      if (!accept(message)) return;
      cleanup();
      resolve(message);
    };
    const onExit = (): void => {
      cleanup();
      reject(new Error(`bench: ${child.name} exited:\n${child.tail()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`bench: ${child.name} did not answer within ${timeoutMs} ms:\n${child.tail()}`));
    }, timeoutMs);
    function cleanup(): void {
      clearTimeout(timer);
      child.process.off('message', onMessage);
      child.process.off('exit', onExit);
    }
    child.process.on('message', onMessage);
    child.process.once('exit', onExit);
  });
}
