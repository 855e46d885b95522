/**
 * The processes of one benchmark run: the real relay, compiled and started as the Docker image
 * starts it, or the plain forwarder on one core, and the load generator on the other, each a
 * pinned child process.
 */
import { RELAY_NODE_FLAGS } from '../../relay/src/node-flags.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSECURE_DEV_API_KEYS, INSECURE_DEV_RELAY_PUBLIC_KEY } from '../../relay/src/config.js';
import { createInterface } from 'node:readline';
import { buildBenchProgram, C_LOAD_GENERATOR_ENV, type CLoadBuild } from './c-load-generator.js';
import {
  LOAD_CORE,
  nextMessage,
  RELAY_CORE,
  startPinnedChild,
  stopChild,
  waitForHttp,
  type Pinning,
  type RunningChild,
} from './child-processes.js';
import {
  isForwarderReply,
  isLoadReply,
  isProbeReply,
  type ForwarderRequest,
  type ForwardingEntry,
  type LoadReply,
  type LoadRequest,
  type LoadResults,
  type LoadTarget,
  type ProbeReply,
  type ProbeRequest,
} from './load-protocol.js';

export const BENCH_RELAY_ID = 'bench-relay';
/** Matches relay/src/relay-server.ts, so the plain forwarder gets the same kernel buffers. */
export const RELAY_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

export interface BenchPorts {
  readonly udp: number;
  readonly api: number;
  readonly metrics: number;
}

export interface RelayProcessOptions {
  readonly root: string;
  readonly pinning: Pinning;
  readonly ports: BenchPorts;
  /** Preload bench/relay/relay-probe.ts with --expose-gc (memory phase). */
  readonly probe?: boolean;
  /** Write a CPU profile into this directory on exit. */
  readonly cpuProfileDir?: string;
  readonly env?: Record<string, string>;
  /** Extra node flags for the relay (e.g. --trace-gc while investigating). */
  readonly nodeFlags?: readonly string[];
}

export interface RelayProcess {
  readonly child: RunningChild;
  readonly target: Extract<LoadTarget, { kind: 'relay' }>;
  readonly metricsUrl: string;
  /** Asks the probe (probe: true only) for memory figures, after a full GC; optionally a heap snapshot too. */
  memory(heapSnapshotPath?: string): Promise<ProbeReply>;
  stop(): Promise<void>;
}

/** Inherited variables that would override the development defaults the bench relies on. */
const STRIPPED = /^(RELAY_|PARLEY_ENV$|CONTROL_PLANE_URL$|FLY_)/;

function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!STRIPPED.test(name)) env[name] = value;
  return env;
}

/** The relay's entry once compiled, and the memory probe compiled beside it (bench/tsconfig.relay-probe.json). */
const COMPILED_RELAY = 'dist/relay/src/main.js';
const COMPILED_PROBE = './dist/bench/relay/relay-probe.js';

/**
 * Compiles the relay (`npm run relay:build`) and the memory probe into dist/, so that the
 * benchmark runs exactly what the Docker image runs: `node --enable-source-maps
 * dist/relay/src/main.js`, no TypeScript loader in the process (tsx's module-hook threads were
 * measured adding tens of milliseconds of p99 on the relay's core). tsc's output goes to stderr.
 */
export function buildCompiledRelay(root: string): void {
  for (const project of ['relay/tsconfig.build.json', 'bench/tsconfig.relay-probe.json']) {
    const result = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: root, stdio: ['ignore', 2, 2] });
    if (result.status !== 0) throw new Error(`bench:relay: tsc -p ${project} failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
}

/** Starts the compiled relay (buildCompiledRelay first). */
export async function startRelay(options: RelayProcessOptions): Promise<RelayProcess> {
  const { ports } = options;
  const nodeArgs: string[] = [];
  if (options.probe) nodeArgs.push('--expose-gc');
  if (options.cpuProfileDir !== undefined) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir);
  nodeArgs.push(...(options.nodeFlags ?? []));
  // The Docker image's command line: node <RELAY_NODE_FLAGS> dist/relay/src/main.js.
  nodeArgs.push(...RELAY_NODE_FLAGS);
  if (options.probe) nodeArgs.push('--import', COMPILED_PROBE);
  nodeArgs.push(COMPILED_RELAY);
  const child = startPinnedChild({
    name: 'relay',
    core: RELAY_CORE,
    pinning: options.pinning,
    nodeArgs,
    cwd: options.root,
    ipc: options.probe === true,
    env: {
      ...baseEnv(),
      // Development mode with its well-known keys (RELAY_API_KEYS, RELAY_PRIVATE_KEY unset).
      PARLEY_ENV: 'development',
      RELAY_ID: BENCH_RELAY_ID,
      RELAY_REGISTER: 'false',
      RELAY_ANNOUNCE_PORTS: 'true',
      RELAY_UDP_HOST: '127.0.0.1',
      RELAY_UDP_PORT: String(ports.udp),
      RELAY_API_HOST: '127.0.0.1',
      RELAY_API_PORT: String(ports.api),
      RELAY_METRICS_HOST: '127.0.0.1',
      RELAY_METRICS_PORT: String(ports.metrics),
      // One log line per installed session would be measured too; production runs at info, but
      // at the rates here the log pipe is not what this benchmark is about.
      RELAY_LOG_LEVEL: 'warn',
      RELAY_DRAIN_DEADLINE_SECONDS: '0',
      // One relay worker: the benchmark measures what one core forwards (the relay is pinned to
      // RELAY_CORE). Development's default too, but said here so that it cannot drift.
      RELAY_WORKERS: '1',
      ...options.env,
    },
  });
  const metricsUrl = `http://127.0.0.1:${ports.metrics}/metrics`;
  await waitForHttp(metricsUrl, child, 20_000);
  // Which run of the relay this is: seals name it (docs/protocol.md §8.4).
  const health = (await (await fetch(`http://127.0.0.1:${ports.api}/healthz`)).json()) as { bootId: string };
  const colon = INSECURE_DEV_API_KEYS.indexOf(':');
  return {
    child,
    metricsUrl,
    target: {
      kind: 'relay',
      udpPort: ports.udp,
      pid: child.pid,
      apiUrl: `http://127.0.0.1:${ports.api}`,
      metricsUrl,
      relayId: BENCH_RELAY_ID,
      relayBootId: health.bootId,
      relayPublicKey: INSECURE_DEV_RELAY_PUBLIC_KEY,
      apiKeyId: INSECURE_DEV_API_KEYS.slice(0, colon),
      apiSecret: INSECURE_DEV_API_KEYS.slice(colon + 1),
    },
    async memory(heapSnapshotPath) {
      const request: ProbeRequest = heapSnapshotPath === undefined ? { type: 'memory', gc: true } : { type: 'memory', gc: true, heapSnapshotPath };
      child.process.send(request);
      return nextMessage(child, isProbeReply, heapSnapshotPath === undefined ? 10_000 : 120_000);
    },
    stop: () => stopChild(child, 5000),
  };
}

export interface PlainForwarderProcess {
  readonly child: RunningChild;
  readonly target: Extract<LoadTarget, { kind: 'plain' }>;
  setTable(entries: readonly ForwardingEntry[]): Promise<void>;
  stop(): Promise<void>;
}

/** 'dgram': node:dgram per datagram (the ratio target's ceiling); 'batched': the relay's recvmmsg/sendmmsg I/O. */
export type PlainForwarderIo = 'dgram' | 'batched';

export async function startPlainForwarder(root: string, pinning: Pinning, port: number, io: PlainForwarderIo): Promise<PlainForwarderProcess> {
  const child = startPinnedChild({
    name: 'plain-forwarder',
    core: RELAY_CORE,
    pinning,
    nodeArgs: ['--import', 'tsx', 'bench/relay/plain-forwarder.ts'],
    cwd: root,
    ipc: true,
    env: { ...baseEnv(), PLAIN_FORWARDER_PORT: String(port), PLAIN_FORWARDER_BUFFER_BYTES: String(RELAY_SOCKET_BUFFER_BYTES), PLAIN_FORWARDER_IO: io },
  });
  // Ready once it answers an (empty) table.
  const plain: PlainForwarderProcess = {
    child,
    target: { kind: 'plain', udpPort: port, pid: child.pid },
    async setTable(entries) {
      const request: ForwarderRequest = { type: 'table', entries };
      child.process.send(request);
      await nextMessage(child, isForwarderReply, 20_000);
    },
    stop: () => stopChild(child),
  };
  await plain.setTable([]);
  return plain;
}

const C_FORWARDER_SOURCE = 'bench/relay/c-forwarder.c';
const C_FORWARDER_BINARY = 'dist/bench/c-forwarder';

/** Compiles bench/relay/c-forwarder.c (the kernel floor) when needed; says why not. */
export function buildCForwarder(root: string): CLoadBuild {
  return buildBenchProgram(root, C_FORWARDER_SOURCE, C_FORWARDER_BINARY);
}

/**
 * The kernel floor (bench/relay/c-forwarder.c): the relay's I/O shape in C with none of its
 * work, pinned where the relay runs. Same interface as the plain forwarder; its table goes over
 * stdin, one line per speaker, and it answers each table on stdout.
 */
export async function startCForwarder(root: string, pinning: Pinning, port: number, binary: string): Promise<PlainForwarderProcess> {
  const child = startPinnedChild({
    name: 'c-forwarder',
    core: RELAY_CORE,
    pinning,
    executable: binary,
    nodeArgs: [String(port), String(RELAY_SOCKET_BUFFER_BYTES)],
    cwd: root,
    stdinPipe: true,
  });
  const lines = createInterface({ input: child.process.stdout! });
  const waiters: Array<(line: string) => void> = [];
  lines.on('line', (line) => {
    if (line === 'ready' || line.startsWith('table-ok')) waiters.shift()?.(line);
  });
  const nextLine = (what: string): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`c-forwarder: no ${what} within 20 s: ${child.tail()}`)), 20_000);
      waiters.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
      void child.exited.then(({ code, signal }) => reject(new Error(`c-forwarder exited ${code ?? signal} before ${what}: ${child.tail()}`)));
    });
  await nextLine('ready line');
  return {
    child,
    target: { kind: 'plain', udpPort: port, pid: child.pid },
    async setTable(entries) {
      const answered = nextLine('table-ok');
      child.process.stdin!.write(`${entries.map((e) => `${e.ssrc} ${e.ports.join(' ')}`).join('\n')}${entries.length > 0 ? '\n' : ''}.\n`);
      await answered;
    },
    async stop() {
      child.process.stdin!.end();
      await Promise.race([child.exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
      await stopChild(child);
    },
  };
}

/** The load generator child and a typed request/answer client for it. */
export class LoadGenerator {
  #nextId = 1;

  private constructor(readonly child: RunningChild) {}

  /** `cLoadGenerator`: the built udp-load binary the generator runs its timed steps in, or null for its own loop. */
  static start(root: string, pinning: Pinning, cLoadGenerator: string | null): LoadGenerator {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env[C_LOAD_GENERATOR_ENV];
    if (cLoadGenerator !== null) env[C_LOAD_GENERATOR_ENV] = cLoadGenerator;
    return new LoadGenerator(
      startPinnedChild({
        name: 'load-generator',
        core: LOAD_CORE,
        pinning,
        nodeArgs: ['--import', 'tsx', 'bench/relay/load-generator.ts'],
        cwd: root,
        ipc: true,
        env,
      }),
    );
  }

  async call<M extends LoadRequest['method']>(method: M, params: Extract<LoadRequest, { method: M }>['params'], timeoutMs = 120_000): Promise<LoadResults[M]> {
    const id = this.#nextId++;
    this.child.process.send({ id, method, params });
    const reply = await nextMessage(this.child, (m): m is LoadReply => isLoadReply(m) && m.id === id, timeoutMs);
    if ('error' in reply) throw new Error(`load generator: ${method} failed: ${reply.error}`);
    return reply.result as LoadResults[M];
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}

export function makeProfileDir(): string {
  return mkdtempSync(join(tmpdir(), 'parley-relay-prof-'));
}
