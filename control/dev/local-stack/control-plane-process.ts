/**
 * The control plane in `wrangler dev` (local mode: workerd on this machine, nothing sent to
 * Cloudflare), as the local stack runs it.
 *
 * Settings reach the Worker through an env file that only this run writes,
 * `<state dir>/control-plane.env` (mode 0600, passed with --env-file, removed when the stack
 * stops): the local database's token must not appear in `ps` or in wrangler's banner, and a
 * developer's own `.dev.vars` must not change what the stack runs. Development secrets are not
 * written at all: control/src/config.ts falls back to its public development values, which
 * production refuses.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpProbe, waitUntilReady, type ProbeResult } from './readiness.js';
import { LOOPBACK } from './ports.js';
import { processDescendants, readCommandLine } from './proc.js';
import { SupervisedProcess } from './supervised-process.js';

/** Wrangler offline: no telemetry, no error reports, no fetch of Cloudflare's `request.cf` data. */
export const WRANGLER_OFFLINE_ENVIRONMENT: Readonly<Record<string, string>> = {
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
};

export const CONTROL_PLANE_ENV_FILE = 'control-plane.env';

export interface ControlPlaneLaunch {
  readonly repoRoot: string;
  readonly stateDir: string;
  readonly port: number;
  /** workerd's DevTools port; never one the user needs, so always a free one. */
  readonly inspectorPort: number;
  /** Bindings for the Worker (LIBSQL_URL, LIBSQL_AUTH_TOKEN, test settings, …). */
  readonly bindings: Readonly<Record<string, string>>;
  /** The child's environment, before the offline variables are added. */
  readonly environment: NodeJS.ProcessEnv;
  readonly logFile: string;
}

export interface ControlPlaneProcess {
  readonly process: SupervisedProcess;
  /** http://127.0.0.1:PORT (no trailing slash). */
  readonly url: string;
  /** Removes the env file. Idempotent. */
  removeEnvFile(): void;
}

/** dotenv text for the bindings; single quotes, which dotenv takes literally. */
export function envFileText(bindings: Readonly<Record<string, string>>): string {
  return Object.entries(bindings)
    .map(([name, value]) => {
      if (!/^[A-Z][A-Z0-9_]*$/.test(name)) throw new RangeError(`control-plane-process: binding name ${JSON.stringify(name)} is not NAME_LIKE_THIS`);
      if (/['\n\r]/.test(value)) throw new RangeError(`control-plane-process: the value of ${name} contains a quote or a line break`);
      return `${name}='${value}'\n`;
    })
    .join('');
}

export function wranglerDevArguments(launch: Pick<ControlPlaneLaunch, 'port' | 'inspectorPort' | 'stateDir'>, envFile: string): string[] {
  return [
    'dev',
    '--ip',
    LOOPBACK,
    '--port',
    String(launch.port),
    '--inspector-ip',
    LOOPBACK,
    '--inspector-port',
    String(launch.inspectorPort),
    // Durable Object storage (the auth throttle) stays with the stack's other state.
    '--persist-to',
    join(launch.stateDir, 'wrangler-state'),
    '--env-file',
    envFile,
    '--show-interactive-dev-session=false',
  ];
}

/** Starts `wrangler dev`. Wait for it with waitForControlPlane. */
export function startControlPlane(launch: ControlPlaneLaunch): ControlPlaneProcess {
  const envFile = join(launch.stateDir, CONTROL_PLANE_ENV_FILE);
  writeFileSync(envFile, envFileText(launch.bindings), { mode: 0o600 });
  const wrangler = join(launch.repoRoot, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
  let process_: SupervisedProcess;
  try {
    process_ = SupervisedProcess.start({
      name: 'control plane (wrangler dev)',
      command: process.execPath,
      args: [wrangler, ...wranglerDevArguments(launch, envFile)],
      cwd: launch.repoRoot,
      env: {
        ...launch.environment,
        ...WRANGLER_OFFLINE_ENVIRONMENT,
        // Wrangler's debug logs and its registry of running dev sessions: kept with this stack,
        // so several stacks (a developer's, a test's) never see each other.
        WRANGLER_LOG_PATH: join(launch.stateDir, 'logs'),
        WRANGLER_REGISTRY_PATH: join(launch.stateDir, 'wrangler-registry'),
      },
      logFile: launch.logFile,
    });
  } catch (error) {
    rmSync(envFile, { force: true });
    throw error;
  }
  return {
    process: process_,
    url: `http://${LOOPBACK}:${launch.port}`,
    removeEnvFile: () => rmSync(envFile, { force: true }),
  };
}

/** Ready when GET /healthz answers 200; a 503 `misconfigured` fails at once (the log says why). */
export async function waitForControlPlane(
  control: ControlPlaneProcess,
  options: { timeoutMs: number; onWaiting?: (waitedMs: number, detail: string) => void; signal?: AbortSignal },
): Promise<void> {
  await waitUntilReady({
    what: 'waiting for the control plane',
    probe: httpProbe(`${control.url}/healthz`, async (response): Promise<ProbeResult> => {
      if (response.ok) return { state: 'ready' };
      const body = (await response.json().catch(() => null)) as { error?: string } | null;
      if (response.status === 503 && body?.error === 'misconfigured') {
        return { state: 'failed', detail: 'the Worker reports "misconfigured" (its log line "misconfigured" names the variables)' };
      }
      return { state: 'waiting', detail: `HTTP ${response.status}` };
    }),
    watch: [control.process],
    timeoutMs: options.timeoutMs,
    onWaiting: options.onWaiting,
    signal: options.signal,
  });
}

export interface WorkerdProcesses {
  /** The workerd that runs the Worker (and its Durable Objects). */
  readonly runtime: number;
  /** wrangler dev's proxy in front of it (a local-development cost; a deployment has none). */
  readonly proxy: number | null;
}

/**
 * The two workerd processes below `wrangler dev`: a proxy on the public port, and behind it the
 * runtime of the Worker itself, the one with the DevTools inspector (`--inspector-addr`). The
 * control-plane benchmark reads their CPU time. Null while they are not (or no longer) running.
 */
export function findWorkerdProcesses(wranglerPid: number): WorkerdProcesses | null {
  const workerds = processDescendants(wranglerPid).filter((p) => p.command === 'workerd');
  const runtime = workerds.find((p) => readCommandLine(p.pid, 100_000).includes('--inspector-addr'));
  if (runtime === undefined) return null;
  return { runtime: runtime.pid, proxy: workerds.find((p) => p.pid !== runtime.pid)?.pid ?? null };
}

/**
 * A relay heartbeats every 10 s, and each heartbeat is two log lines of the control plane
 * (wrangler's and the Worker's): npm start keeps the successful ones out of the terminal.
 */
export function isRoutineHeartbeatLine(line: string): boolean {
  return (
    /^\[wrangler:info\] POST \/internal\/relays\/heartbeat 200 /.test(line) ||
    (line.includes('"route":"/internal/relays/heartbeat"') && line.includes('"status":200'))
  );
}
