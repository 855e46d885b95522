/**
 * The relay as the local stack runs it: one relay process with the development keys, on
 * loopback, registering with (and heartbeating to) the stack's control plane.
 *
 * The compiled relay by default (`npm run relay:build`, `dist/relay/src/main.js`, what the Docker
 * image runs; benchmarks measure that build), rebuilt only when its sources are newer; or
 * relay/src/main.ts through tsx's loader in the same node process (`node --import tsx`), so that
 * SIGTERM reaches the relay itself rather than a wrapper. The relay refuses its development keys
 * under PARLEY_ENV=production.
 *
 * RELAY_ANNOUNCE_PORTS=true makes the relay print one JSON line with the ports it bound, which
 * also says it is listening.
 */
import { RELAY_NODE_FLAGS } from '../../../relay/src/node-flags.js';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LOOPBACK } from './ports.js';
import { ChildDiedError, NotReadyError } from './readiness.js';
import { SupervisedProcess } from './supervised-process.js';

export interface RelayLaunch {
  readonly repoRoot: string;
  readonly relayId: string;
  /** The control plane's base URL (http://127.0.0.1:PORT). */
  readonly controlPlaneUrl: string;
  /** 0 for an ephemeral port (tests). */
  readonly ports: { readonly udp: number; readonly api: number; readonly metrics: number };
  /** The child's environment, before the relay's variables are added. */
  readonly environment: NodeJS.ProcessEnv;
  /** More RELAY_* variables (RELAY_HEARTBEAT_INTERVAL_MS, …); they win over the stack's. */
  readonly relayEnvironment?: Readonly<Record<string, string>>;
  readonly logFile: string;
}

/** The relay's announcement line (relay/src/main.ts, RELAY_ANNOUNCE_PORTS). */
export interface RelayAnnouncement {
  readonly udpPorts: readonly number[];
  readonly apiPort: number;
  readonly metricsPort: number;
  /** This run's boot id, when the relay announces one. */
  readonly bootId?: string;
  /** base64url X25519 public key, when the relay announces it. */
  readonly publicKey?: string;
}

export interface StackRelay {
  readonly process: SupervisedProcess;
  readonly relayId: string;
  /** Whether this is the compiled build (dist/) or relay/src through tsx. */
  readonly build: 'compiled' | 'tsx';
}

export const COMPILED_RELAY_ENTRY = join('dist', 'relay', 'src', 'main.js');

/** Newest modification time (ms) of the .ts and .json files below `path` (or of `path` itself). */
function newestSource(path: string): number {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return /\.(ts|json)$/.test(path) ? stat.mtimeMs : 0;
  let newest = 0;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry === 'build') continue;
    newest = Math.max(newest, newestSource(join(path, entry)));
  }
  return newest;
}

/**
 * True when dist/relay/src/main.js is newer than every source the build reads (relay/src,
 * shared/, the tsconfig files), so `npm run relay:build` would change nothing that matters.
 */
export function compiledRelayIsCurrent(repoRoot: string): boolean {
  let built: number;
  try {
    built = statSync(join(repoRoot, COMPILED_RELAY_ENTRY)).mtimeMs;
  } catch {
    return false;
  }
  const sources = [join('relay', 'src'), 'shared', join('relay', 'tsconfig.build.json'), 'tsconfig.base.json', 'package-lock.json'];
  return sources.every((source) => newestSource(join(repoRoot, source)) < built);
}

export function relayEnvironment(launch: RelayLaunch): NodeJS.ProcessEnv {
  return {
    ...launch.environment,
    PARLEY_ENV: 'development',
    RELAY_ID: launch.relayId,
    RELAY_UDP_HOST: LOOPBACK,
    RELAY_UDP_PORT: String(launch.ports.udp),
    RELAY_API_HOST: LOOPBACK,
    RELAY_API_PORT: String(launch.ports.api),
    RELAY_METRICS_HOST: LOOPBACK,
    RELAY_METRICS_PORT: String(launch.ports.metrics),
    CONTROL_PLANE_URL: `${launch.controlPlaneUrl}/`,
    RELAY_ANNOUNCE_PORTS: 'true',
    ...launch.relayEnvironment,
  };
}

/** Starts the relay (compiled if `compiled`, which needs `npm run relay:build` first). */
export function startStackRelay(launch: RelayLaunch, compiled: boolean): StackRelay {
  const entry = compiled ? COMPILED_RELAY_ENTRY : join('relay', 'src', 'main.ts');
  if (compiled && !existsSync(join(launch.repoRoot, entry))) throw new Error(`stack-relay: ${entry} is missing; run npm run relay:build`);
  const args = compiled ? [...RELAY_NODE_FLAGS, entry] : ['--import', 'tsx', entry];
  const process_ = SupervisedProcess.start({
    name: 'relay',
    command: process.execPath,
    args,
    cwd: launch.repoRoot,
    env: relayEnvironment(launch),
    logFile: launch.logFile,
  });
  return { process: process_, relayId: launch.relayId, build: compiled ? 'compiled' : 'tsx' };
}

/** Parses the announcement line; null for any other line. */
export function parseRelayAnnouncement(line: string): RelayAnnouncement | null {
  if (!line.includes('"parleyRelay":"ready"')) return null;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  const fields = value as Partial<Record<keyof RelayAnnouncement, unknown>>;
  const port = (p: unknown): p is number => typeof p === 'number' && Number.isInteger(p) && p > 0 && p < 65536;
  if (!Array.isArray(fields.udpPorts) || !fields.udpPorts.every(port) || !port(fields.apiPort) || !port(fields.metricsPort)) return null;
  return {
    udpPorts: fields.udpPorts,
    apiPort: fields.apiPort,
    metricsPort: fields.metricsPort,
    ...(typeof fields.bootId === 'string' ? { bootId: fields.bootId } : {}),
    ...(typeof fields.publicKey === 'string' ? { publicKey: fields.publicKey } : {}),
  };
}

/** Resolves with the relay's announcement; rejects if it dies or stays silent for `timeoutMs`. */
export function waitForRelayAnnouncement(relay: StackRelay, timeoutMs: number): Promise<RelayAnnouncement> {
  return new Promise<RelayAnnouncement>((resolve, reject) => {
    const timer = setTimeout(() => {
      stopListening();
      reject(new NotReadyError(`waiting for the relay: no announcement after ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    const stopListening = relay.process.onLine((line) => {
      const announcement = parseRelayAnnouncement(line);
      if (announcement === null) return;
      clearTimeout(timer);
      stopListening();
      resolve(announcement);
    });
    void relay.process.exited.then(() => {
      clearTimeout(timer);
      stopListening();
      reject(new ChildDiedError(relay.process, 'waiting for the relay to listen'));
    });
  });
}
