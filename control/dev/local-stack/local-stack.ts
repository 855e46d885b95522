/**
 * The whole Parley stack on this machine, as `npm start` runs it and as the end-to-end tests and
 * the control-plane benchmark start it:
 *
 * 1. the local libSQL server (control/dev/libsql-server, Turso's stand-in) on a database file,
 *    migrated with the code `npm run db:migrate` uses (control/dev/migrate.ts);
 * 2. the control plane in `wrangler dev` (workerd), pointed at that server;
 * 3. a relay with the development keys, registered with the control plane;
 *
 * each a child process in its own process group, all on 127.0.0.1. startLocalStack() resolves
 * once every part is healthy (the relay listed as alive in the relay directory); stop() stops
 * them in reverse order, by process group, and is idempotent. A child that dies on its own is
 * reported through `childDied`; the caller decides (npm start stops the rest and exits 1).
 *
 * One stack per state directory (stack-lock.ts); processes a killed run left behind are found
 * and stopped first.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createClient } from '@libsql/client';
import { databaseFromClient } from '../../src/db/client.js';
import { MIGRATIONS_DIR, REPO_ROOT } from '../local-paths.js';
import { applyMigrations } from '../migrate.js';
import { findWorkerdProcesses, startControlPlane, waitForControlPlane, type ControlPlaneProcess, type WorkerdProcesses } from './control-plane-process.js';
import { findMigrationDrift } from './migration-drift.js';
import { ensureOperatorKey, type OperatorKey } from './operator-key.js';
import { choosePort, ephemeralPort, LOOPBACK, type PortKind } from './ports.js';
import { httpProbe, unlessAborted, waitUntilReady, type ProbeResult } from './readiness.js';
import { findLeftovers, StackLock, stopLeftovers } from './stack-lock.js';
import { removeStackInfo, writeStackInfo } from './stack-info.js';
import { compiledRelayIsCurrent, startStackRelay, waitForRelayAnnouncement, type RelayAnnouncement, type StackRelay } from './stack-relay.js';
import { SupervisedProcess, type ExitStatus } from './supervised-process.js';

/** A port setting: the number (0 = any free port) and whether the user chose it. */
export interface PortSetting {
  readonly port: number;
  readonly explicit: boolean;
}

export const DEFAULT_PORTS = {
  control: 8787,
  libsql: 8080,
  relayApi: 7400,
  relayUdp: 40000,
  relayMetrics: 9091,
} as const;

export type PortName = keyof typeof DEFAULT_PORTS;

/** The command-line option that sets each port (for messages). */
export const PORT_OPTIONS: Readonly<Record<PortName, string>> = {
  control: '--control-port',
  libsql: '--libsql-port',
  relayApi: '--relay-api-port',
  relayUdp: '--relay-udp-port',
  relayMetrics: '--relay-metrics-port',
};

const PORT_LABELS: Readonly<Record<PortName, { readonly name: string; readonly kind: PortKind }>> = {
  control: { name: 'control plane', kind: 'tcp' },
  libsql: { name: 'libSQL server', kind: 'tcp' },
  relayApi: { name: 'relay API', kind: 'tcp' },
  relayUdp: { name: 'relay UDP', kind: 'udp' },
  relayMetrics: { name: 'relay metrics', kind: 'tcp' },
};

/** Every port at 0: what tests and the benchmark use. */
export const EPHEMERAL_PORTS: Readonly<Record<PortName, PortSetting>> = {
  control: { port: 0, explicit: true },
  libsql: { port: 0, explicit: true },
  relayApi: { port: 0, explicit: true },
  relayUdp: { port: 0, explicit: true },
  relayMetrics: { port: 0, explicit: true },
};

export interface LocalStackOptions {
  /** Where the stack keeps its state: the lock, logs, the operator key, wrangler's storage. */
  readonly stateDir: string;
  /** The database file (default `<stateDir>/local.db`). */
  readonly database?: string;
  readonly ports?: Partial<Record<PortName, PortSetting>>;
  /** More control-plane bindings (test settings, throttle limits); never secrets of a deployment. */
  readonly controlBindings?: Readonly<Record<string, string>>;
  /** false: no relay (the control-plane benchmark). */
  readonly relay?:
    | false
    | {
        readonly relayId?: string;
        /** More RELAY_* variables, e.g. RELAY_HEARTBEAT_INTERVAL_MS. */
        readonly environment?: Readonly<Record<string, string>>;
        /** 'compiled' (default): dist/, rebuilt when its sources changed; 'tsx': relay/src through tsx. */
        readonly build?: 'compiled' | 'tsx';
      };
  /** Progress lines, for a terminal. */
  readonly log?: (line: string) => void;
  /** Upper bound of each wait (default 120 s: wrangler's first bundle on a busy machine). */
  readonly readyTimeoutMs?: number;
  /** Aborts the start (Ctrl-C while starting): what started is stopped, StartAbortedError thrown. */
  readonly signal?: AbortSignal;
}

export interface LocalStackRelay {
  readonly relayId: string;
  readonly process: SupervisedProcess;
  readonly build: StackRelay['build'];
  readonly announcement: RelayAnnouncement;
  /** The relay's internal API, http://127.0.0.1:PORT. */
  readonly apiUrl: string;
  readonly metricsUrl: string;
  /** Where clients send voice, one per relay worker. */
  readonly udpEndpoints: readonly string[];
}

export interface ChildDeath {
  readonly child: SupervisedProcess;
  readonly status: ExitStatus;
}

export interface LocalStack {
  readonly stateDir: string;
  readonly libsql: { readonly url: string; readonly authToken: string; readonly databasePath: string; readonly process: SupervisedProcess };
  readonly control: {
    readonly url: string;
    readonly openApiUrl: string;
    readonly process: SupervisedProcess;
    /** The workerd processes below wrangler dev (the Worker's runtime, wrangler's proxy), or null. */
    workerd(): WorkerdProcesses | null;
  };
  readonly relay: LocalStackRelay | null;
  readonly operatorKey: OperatorKey;
  /** Notices worth showing: ports that fell back, leftovers stopped. */
  readonly notices: readonly string[];
  /** Resolves when a child exits while the stack is not stopping. */
  readonly childDied: Promise<ChildDeath>;
  /** Stops everything, relay first. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL to every child's process group at once (a second Ctrl-C); stop() then ends quickly. */
  kill(): void;
}

/** The children in start order, for stop() in reverse. */
interface Started {
  libsql?: SupervisedProcess;
  relayBuild?: SupervisedProcess;
  control?: ControlPlaneProcess;
  relay?: SupervisedProcess;
}

/** A part of the stack cannot start for a reason the message explains (not a readiness timeout). */
export class StackStartError extends Error {
  override readonly name = 'StackStartError';
}

/** A path relative to the repository when inside it, else in full. */
export function displayPath(path: string): string {
  const inside = relative(REPO_ROOT, path);
  return inside === '' || inside.startsWith('..') ? path : inside;
}

function elapsed(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/** Starts the local stack; on any failure stops what it started and rethrows. */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.readyTimeoutMs ?? 120_000;
  const lock = StackLock.acquire(options.stateDir);
  const stateDir = lock.stateDir;
  const logsDir = join(stateDir, 'logs');
  const notices: string[] = [];
  const notice = (line: string) => {
    notices.push(line);
    log(`  ! ${line}`);
  };

  const started: Started = {};
  let stopping = false;
  const stopStarted = async (): Promise<void> => {
    stopping = true;
    // Reverse order: the relay stops heartbeating first, the database goes last.
    if (started.relay !== undefined) await started.relay.stop();
    if (started.relayBuild !== undefined) await started.relayBuild.stop();
    if (started.control !== undefined) {
      await started.control.process.stop();
      started.control.removeEnvFile();
    }
    if (started.libsql !== undefined) await started.libsql.stop();
    removeStackInfo(stateDir, lock.owner);
    lock.release();
  };

  try {
    mkdirSync(logsDir, { recursive: true });
    const leftovers = findLeftovers(stateDir);
    if (leftovers.length > 0) {
      await stopLeftovers(leftovers);
      const groups = [...new Set(leftovers.map((l) => l.processGroup))];
      notice(`stopped ${leftovers.length} process(es) that a killed run on ${displayPath(stateDir)} left behind (process groups ${groups.join(', ')})`);
    }

    const ports = {} as Record<PortName, number>;
    const wanted = options.ports ?? {};
    const relayWanted = options.relay !== false;
    for (const name of Object.keys(DEFAULT_PORTS) as PortName[]) {
      if (!relayWanted && name.startsWith('relay')) continue;
      const setting = wanted[name] ?? { port: DEFAULT_PORTS[name], explicit: false };
      const chosen = await choosePort({ ...PORT_LABELS[name], port: setting.port, explicit: setting.explicit, option: PORT_OPTIONS[name] });
      if (chosen.notice !== undefined) notice(chosen.notice);
      ports[name] = chosen.port;
    }
    const childEnvironment: NodeJS.ProcessEnv = { ...process.env, ...lock.childEnvironment() };
    const logFile = (name: string) => {
      const path = join(logsDir, `${name}.log`);
      writeFileSync(path, `--- ${new Date().toISOString()} ---\n`, { mode: 0o600 });
      return path;
    };

    // 1. The database.
    let since = Date.now();
    log('Starting the local libSQL server…');
    const databasePath = options.database ?? join(stateDir, 'local.db');
    const libsqlToken = randomBytes(24).toString('base64url');
    const libsql = SupervisedProcess.start({
      name: 'libSQL server',
      command: process.execPath,
      args: ['--import', 'tsx', join('control', 'dev', 'libsql-server', 'cli.ts'), '--database', databasePath, '--port', String(ports.libsql)],
      cwd: REPO_ROOT,
      env: { ...childEnvironment, LIBSQL_AUTH_TOKEN: libsqlToken },
      logFile: logFile('libsql-server'),
    });
    started.libsql = libsql;
    const libsqlUrl = `http://${LOOPBACK}:${ports.libsql}`;
    await waitUntilReady({
      what: 'waiting for the libSQL server',
      probe: httpProbe(`${libsqlUrl}/v2`),
      watch: [libsql],
      timeoutMs,
      signal: options.signal,
      onWaiting: (ms, detail) => log(`  … still waiting for the libSQL server (${Math.round(ms / 1000)} s: ${detail})`),
    });
    const client = createClient({ url: libsqlUrl, authToken: libsqlToken, intMode: 'number' });
    let operatorKey: OperatorKey;
    try {
      if ((await findMigrationDrift(client, MIGRATIONS_DIR)) !== null) {
        throw new StackStartError(
          `${displayPath(databasePath)} was migrated with migrations that have changed since (migrations/0000_initial.sql is regenerated until the first deployment). ` +
            `It holds local development data only: remove it (rm ${displayPath(databasePath)}*) and start again, or pass --database PATH for a new one.`,
        );
      }
      const outcome = await applyMigrations(client, MIGRATIONS_DIR);
      const migrated =
        outcome.kind === 'no-migrations'
          ? 'no migrations'
          : `${outcome.applied.length} migration(s) applied, ${outcome.alreadyApplied} already there`;
      log(`  libSQL server on ${libsqlUrl}, database ${displayPath(databasePath)} (${migrated}; ${elapsed(since)})`);
      operatorKey = await ensureOperatorKey(databaseFromClient(client), stateDir);
    } finally {
      client.close();
    }

    // 2. The control plane (and, meanwhile, the compiled relay's build).
    const relayOptions = options.relay === false ? null : (options.relay ?? {});
    const build = relayOptions === null ? null : (relayOptions.build ?? 'compiled');
    if (build === 'compiled' && compiledRelayIsCurrent(REPO_ROOT)) {
      log('  the compiled relay (dist/) is newer than its sources: not rebuilding it');
    } else if (build === 'compiled') {
      started.relayBuild = SupervisedProcess.start({
        name: 'relay build (npm run relay:build)',
        command: 'npm',
        args: ['run', '--silent', 'relay:build'],
        cwd: REPO_ROOT,
        env: childEnvironment,
        logFile: logFile('relay-build'),
      });
    }
    since = Date.now();
    log(`Starting the control plane (wrangler dev) on port ${ports.control}…`);
    const control = startControlPlane({
      repoRoot: REPO_ROOT,
      stateDir,
      port: ports.control,
      inspectorPort: await ephemeralPort('tcp'),
      bindings: { LIBSQL_URL: libsqlUrl, LIBSQL_AUTH_TOKEN: libsqlToken, ...options.controlBindings },
      environment: childEnvironment,
      logFile: logFile('control-plane'),
    });
    started.control = control;
    await waitForControlPlane(control, {
      timeoutMs,
      signal: options.signal,
      onWaiting: (ms, detail) => log(`  … still waiting for the control plane (${Math.round(ms / 1000)} s: ${detail}; ${lastLine(control.process)})`),
    });
    log(`  control plane on ${control.url} (${elapsed(since)})`);

    // 3. The relay.
    let relay: LocalStackRelay | null = null;
    if (relayOptions !== null && build !== null) {
      if (started.relayBuild !== undefined) {
        since = Date.now();
        log('Building the relay (npm run relay:build)…');
        const status = await unlessAborted(started.relayBuild.exited, options.signal, 'building the relay');
        if (status.code !== 0) {
          throw new StackStartError(`relay build failed (${status.code ?? status.signal}): ${started.relayBuild.tail().slice(-5).join(' | ')}`);
        }
        log(`  relay built (${elapsed(since)} after the control plane was up)`);
      }
      since = Date.now();
      log('Starting the relay…');
      const stackRelay = startStackRelay(
        {
          repoRoot: REPO_ROOT,
          relayId: relayOptions.relayId ?? 'local-relay',
          controlPlaneUrl: control.url,
          ports: { udp: ports.relayUdp, api: ports.relayApi, metrics: ports.relayMetrics },
          environment: childEnvironment,
          // A local relay with calls in progress should not hold Ctrl-C for the production 300 s.
          relayEnvironment: { RELAY_DRAIN_DEADLINE_SECONDS: '2', ...relayOptions.environment },
          logFile: logFile('relay'),
        },
        build === 'compiled',
      );
      started.relay = stackRelay.process;
      const announcement = await unlessAborted(waitForRelayAnnouncement(stackRelay, timeoutMs), options.signal, 'waiting for the relay to listen');
      relay = {
        relayId: stackRelay.relayId,
        process: stackRelay.process,
        build: stackRelay.build,
        announcement,
        apiUrl: `http://${LOOPBACK}:${announcement.apiPort}`,
        metricsUrl: `http://${LOOPBACK}:${announcement.metricsPort}/metrics`,
        udpEndpoints: announcement.udpPorts.map((port) => `${LOOPBACK}:${port}`),
      };
      log(`  relay ${relay.relayId} listening (${stackRelay.build}; ${elapsed(since)}); waiting for it to register…`);
      since = Date.now();
      await waitUntilReady({
        what: 'waiting for the relay to register',
        probe: relayAliveProbe(control.url, operatorKey.key, relay.relayId),
        watch: [control.process, stackRelay.process],
        timeoutMs,
        signal: options.signal,
        onWaiting: (ms, detail) => log(`  … still waiting for the relay to register (${Math.round(ms / 1000)} s: ${detail})`),
      });
      log(`  relay ${relay.relayId} is alive in the relay directory (${elapsed(since)})`);
    }

    const children = [libsql, control.process, ...(started.relay === undefined ? [] : [started.relay])];
    const childDied = new Promise<ChildDeath>((resolve) => {
      for (const child of children) {
        void child.exited.then((status) => {
          if (!stopping) resolve({ child, status });
        });
      }
    });

    writeStackInfo(stateDir, {
      owner: lock.owner,
      controlUrl: control.url,
      ...(relay === null ? {} : { relayId: relay.relayId, relayUdp: relay.udpEndpoints }),
    });
    let stopped: Promise<void> | null = null;
    return {
      stateDir,
      libsql: { url: libsqlUrl, authToken: libsqlToken, databasePath, process: libsql },
      control: {
        url: control.url,
        openApiUrl: `${control.url}/v1/openapi.json`,
        process: control.process,
        workerd: () => findWorkerdProcesses(control.process.pid),
      },
      relay,
      operatorKey,
      notices,
      childDied,
      stop() {
        stopped ??= stopStarted();
        return stopped;
      },
      kill() {
        for (const child of [started.relay, started.relayBuild, started.control?.process, started.libsql]) child?.kill();
      },
    };
  } catch (error) {
    await stopStarted();
    throw error;
  }
}

function lastLine(child: SupervisedProcess): string {
  return lastTellingLine(child.tail());
}

/**
 * The last line of a child's output that says something, for a "still waiting" line: not a
 * rule, and not a row of a table — wrangler prints its bindings as a box-drawing table whose
 * rows ("│ env.LIBSQL_URL │ Environment Variable │ local │") read as noise out of context.
 */
export function lastTellingLine(lines: readonly string[]): string {
  const line = lines.filter((l) => /[A-Za-z0-9]/.test(l) && !/^\s*[\u2500-\u257F]/.test(l)).at(-1) ?? '';
  return line.length > 100 ? `${line.slice(0, 99)}…` : line || 'no output yet';
}

interface DirectoryListing {
  readonly relays?: readonly { readonly relayId?: string; readonly status?: string }[];
}

/** Ready when GET /v1/admin/relays lists the relay as alive. */
export function relayAliveProbe(controlUrl: string, operatorKey: string, relayId: string): () => Promise<ProbeResult> {
  return httpProbe(
    `${controlUrl}/v1/admin/relays`,
    async (response): Promise<ProbeResult> => {
      if (!response.ok) return { state: 'waiting', detail: `GET /v1/admin/relays: HTTP ${response.status}` };
      const listing = (await response.json()) as DirectoryListing;
      const entry = listing.relays?.find((r) => r.relayId === relayId);
      if (entry === undefined) return { state: 'waiting', detail: `${relayId} is not in the directory yet` };
      if (entry.status !== 'alive') return { state: 'waiting', detail: `${relayId} is ${entry.status ?? 'of unknown status'}` };
      return { state: 'ready' };
    },
    { authorization: `Bearer ${operatorKey}` },
  );
}
