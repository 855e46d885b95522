/**
 * Runs the real relay process (relay/src/main.ts) as a child, on loopback ports of its own, with
 * the development keys, and drives it through its signed internal API. Used by `parley demo`
 * and the end-to-end tests. Development only: it uses the well-known insecure keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { INSECURE_DEV_API_KEYS } from '../relay/src/config.js';
import { decodeBase64Url } from '../shared/relay-api/base64url.js';
import { RelayApiClient } from '../shared/relay-api/relay-api-client.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** A TCP and a UDP port that were free a moment ago (the relay binds them right after). */
export async function freePort(kind: 'tcp' | 'udp'): Promise<number> {
  if (kind === 'udp') {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const { port } = socket.address();
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return port;
  }
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface RelayPorts {
  readonly udp: number;
  readonly api: number;
  readonly metrics: number;
}

export interface RelayProcess {
  readonly child: ChildProcess;
  /** The ports the relay announced (`udp` is worker 0's). */
  readonly ports: RelayPorts;
  /** Every relay worker's UDP port, worker i at index i (RELAY_WORKERS; 1 by default in development). */
  readonly udpPorts: readonly number[];
  readonly api: RelayApiClient;
  readonly relayId: string;
  /** This run's boot id (seals name it; a restart draws a new one). */
  readonly bootId: string;
  /** Every line the relay wrote to stdout (JSON logs). */
  readonly output: string[];
  /** Resident set size of the relay process, bytes (Linux /proc). */
  rssBytes(): number;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited(): Promise<number | NodeJS.Signals>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * The signed client toward a relay on loopback that runs with the development keys, from what
 * it announced (its API port, boot id and base64url public key): this process's relays and the
 * local stack's alike.
 */
export function devRelayApiClient(relay: { readonly apiPort: number; readonly relayId: string; readonly bootId: string; readonly publicKey: string }): RelayApiClient {
  const [keyId, secret] = INSECURE_DEV_API_KEYS.split(':') as [string, string];
  return new RelayApiClient({
    baseUrl: `http://127.0.0.1:${relay.apiPort}/`,
    relayId: relay.relayId,
    relayBootId: relay.bootId,
    relayPublicKey: decodeBase64Url(relay.publicKey)!,
    key: { keyId, secret: decodeBase64Url(secret)! },
    fetch: (request) => fetch(request),
    now: Date.now,
  });
}

export async function allocateRelayPorts(): Promise<RelayPorts> {
  return { udp: await freePort('udp'), api: await freePort('tcp'), metrics: await freePort('tcp') };
}

/** The relay's `RELAY_ANNOUNCE_PORTS` line (relay/src/main.ts). */
interface ReadyLine {
  readonly udpPort: number;
  readonly udpPorts: readonly number[];
  readonly apiPort: number;
  readonly metricsPort: number;
  readonly pid: number;
  readonly bootId: string;
  readonly publicKey: string;
}

/**
 * Starts relay/src/main.ts and waits for it to listen. With `RELAY_UDP_PORT: '0'` in `env`,
 * every worker binds an ephemeral port; the announced ports are in `ports` and `udpPorts`.
 */
export async function startRelayProcess(options: RelayStartOptions = {}): Promise<RelayProcess> {
  // Ports found free here can be taken before the relay binds them (another process, or a relay
  // started at the same moment that drew the same port): with ports of our own choosing, draw
  // again, a few times. Ports the caller chose are the caller's to fix.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRelayOnce(options, options.ports ?? (await allocateRelayPorts()));
    } catch (error) {
      const taken = error instanceof Error && error.message.includes('EADDRINUSE');
      if (!taken || options.ports !== undefined || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

/** Tries at starting a relay on freshly drawn ports before a port taken in between is an error. */
const PORT_ATTEMPTS = 3;

interface RelayStartOptions {
  readonly ports?: RelayPorts;
  readonly env?: Record<string, string>;
  readonly relayId?: string;
  readonly cpu?: string;
}

async function startRelayOnce(options: RelayStartOptions, ports: RelayPorts): Promise<RelayProcess> {
  const relayId = options.relayId ?? 'test-relay';
  const env = {
    ...process.env,
    PARLEY_ENV: 'development',
    RELAY_ID: relayId,
    RELAY_UDP_HOST: '127.0.0.1',
    RELAY_UDP_PORT: String(ports.udp),
    RELAY_API_PORT: String(ports.api),
    RELAY_METRICS_PORT: String(ports.metrics),
    RELAY_REGISTER: 'false',
    RELAY_ANNOUNCE_PORTS: 'true',
    RELAY_LOG_LEVEL: 'info',
    ...options.env,
  };
  const command = options.cpu ? 'taskset' : process.execPath;
  const args = [...(options.cpu ? ['-c', options.cpu, process.execPath] : []), '--import', 'tsx', 'relay/src/main.ts'];
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  let stderr = '';
  const exit = new Promise<number | NodeJS.Signals>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)));
  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`relay did not start in 20 s; stderr: ${stderr}`)), 20_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        output.push(line);
        if (line.includes('"parleyRelay":"ready"')) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as ReadyLine);
        }
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited (${code}) before it was ready; stderr: ${stderr}`));
    });
  });
  const announced: RelayPorts = { udp: ready.udpPort, api: ready.apiPort, metrics: ready.metricsPort };
  const api = devRelayApiClient({ apiPort: announced.api, relayId, bootId: ready.bootId, publicKey: ready.publicKey });
  return {
    child,
    ports: announced,
    udpPorts: ready.udpPorts,
    api,
    relayId,
    bootId: ready.bootId,
    output,
    rssBytes() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
      if (kb === undefined) throw new Error('no VmRSS for the relay process');
      return Number(kb) * 1024;
    },
    exited: () => exit,
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
