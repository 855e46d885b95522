/**
 * The C load generator (bench/relay/udp-load.c): built at bench time with the system C compiler,
 * as relay/native is, and run by the Node load generator for the timed part of each step. What
 * it does and why: the comment at the top of udp-load.c and docs/performance.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { LatencySummary } from './load-protocol.js';

/** Tells the load generator child where the built C load generator is (absent: its own Node loop). */
export const C_LOAD_GENERATOR_ENV = 'PARLEY_BENCH_C_LOAD_GENERATOR';

const SOURCE = 'bench/relay/udp-load.c';
const BINARY = 'dist/bench/udp-load';

export type CLoadBuild = { readonly path: string; readonly reason: null } | { readonly path: null; readonly reason: string };

/** Compiles udp-load.c (see buildBenchProgram). */
export function buildCLoadGenerator(root: string): CLoadBuild {
  return buildBenchProgram(root, SOURCE, BINARY);
}

/**
 * Compiles one of the bench's C programs (`source`, relative to `root`) with `cc` (or $CC) into
 * `binary` when that is missing or older than its source; says why not when there is no
 * compiler or the build fails.
 */
export function buildBenchProgram(root: string, sourcePath: string, binaryPath: string): CLoadBuild {
  const source = join(root, sourcePath);
  const binary = join(root, binaryPath);
  try {
    if (statSync(binary).mtimeMs >= statSync(source).mtimeMs) return { path: binary, reason: null };
  } catch {
    // not built yet
  }
  mkdirSync(join(root, 'dist', 'bench'), { recursive: true });
  const compiler = process.env.CC ?? 'cc';
  const result = spawnSync(compiler, ['-O2', '-Wall', '-Wextra', '-o', binary, source], { encoding: 'utf8' });
  if (result.error !== undefined) return { path: null, reason: `no C compiler (${compiler}: ${result.error.message})` };
  if (result.status !== 0) return { path: null, reason: `${compiler} failed on ${sourcePath}: ${result.stderr.trim().split('\n').slice(0, 3).join(' / ')}` };
  return { path: binary, reason: null };
}

export interface CStepInput {
  readonly binary: string;
  /** The step's protected packets, in send order, `size` bytes each. */
  readonly packetsFile: string;
  readonly size: number;
  readonly count: number;
  readonly channels: number;
  readonly intervalNs: number;
  /** fd of the speakers' socket, then the listeners' fds in listener order. */
  readonly speakerFd: number;
  readonly listenerFds: readonly number[];
  readonly ssrcBase: number;
  readonly recordLatency: boolean;
  readonly sampleEvery: number;
  readonly samplesPerListener: number;
  /** Listeners at or past this index (those of silent channels) keep no samples. */
  readonly sampleListenersBelow: number;
  /** Called once the program is set up, just before it starts sending (start CPU meters here). */
  readonly onStart: () => void;
}

export interface CStepOutput {
  readonly sent: number;
  readonly received: number;
  readonly rtcp: number;
  readonly send_calls: number;
  readonly send_errors: number;
  readonly receive_calls: number;
  readonly receive_datagrams: number;
  readonly max_lag_ms: number;
  readonly late_sends: number;
  readonly send_seconds: number;
  readonly drain_ms: number;
  readonly window_seconds: number;
  /** The C program's own CPU (user + system), seconds. */
  readonly cpu_seconds: number;
  readonly latency: LatencySummary | null;
  readonly samples: ReadonlyArray<{ readonly listener: number; readonly hex: string }>;
}

/** Runs one step in the C program (the sockets are inherited: fd 3 the speakers', 4.. the listeners'). */
export function runCStep(input: CStepInput): Promise<CStepOutput> {
  const args = [
    input.packetsFile,
    input.size,
    input.count,
    input.channels,
    input.intervalNs,
    input.listenerFds.length,
    input.ssrcBase,
    input.recordLatency ? 1 : 0,
    input.sampleEvery,
    input.samplesPerListener,
    input.sampleListenersBelow,
  ].map(String);
  const child = spawn(input.binary, args, { stdio: ['pipe', 'pipe', 'pipe', input.speakerFd, ...input.listenerFds] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  return new Promise<CStepOutput>((resolve, reject) => {
    let output: CStepOutput | null = null;
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line === 'ready') {
        input.onStart();
        child.stdin!.write('go\n');
      } else if (line.startsWith('{')) {
        output = JSON.parse(line) as CStepOutput;
      }
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0 && output !== null) resolve(output);
      else reject(new Error(`udp-load exited ${code ?? signal}: ${stderr.trim().slice(0, 400)}`));
    });
  });
}
