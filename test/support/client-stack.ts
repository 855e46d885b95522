/**
 * The parts of the Parley stack the client SDK's end-to-end tests talk to, on loopback and
 * ephemeral ports: the local libSQL server (in this process, migrated), the control plane in
 * `wrangler dev` (workerd, a child in its own process group), and an app key with the
 * `tokens:mint` scope written straight to the database (as `npm run admin:create-key` does).
 *
 * stop() stops what start started, by process group, and is idempotent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueAppKey } from '../../control/src/auth/app-keys.js';
import { databaseFromClient } from '../../control/src/db/client.js';
import { MIGRATIONS_DIR, REPO_ROOT } from '../../control/dev/local-paths.js';
import { applyMigrations } from '../../control/dev/migrate.js';
import { freePort } from '../../cli/relay-process.js';
import { startTestLibsqlServer, type TestLibsqlServer } from './libsql.js';

export interface ClientTestStack {
  /** http://127.0.0.1:PORT of `wrangler dev`. */
  readonly controlUrl: string;
  readonly libsql: TestLibsqlServer;
  /** An app key with `tokens:mint` (`ak_….secret`), for minting tokens as an app's server does. */
  readonly mintKey: string;
  /** Everything wrangler dev printed, for a failing test's message. */
  readonly output: () => string;
  stop(): Promise<void>;
}

export interface ClientTestStackOptions {
  /** More Worker bindings (e.g. ACCESS_TOKEN_TTL_SECONDS). */
  readonly bindings?: Readonly<Record<string, string>>;
  readonly readyTimeoutMs?: number;
}

const WRANGLER = join(REPO_ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

export async function startClientTestStack(options: ClientTestStackOptions = {}): Promise<ClientTestStack> {
  const stateDir = mkdtempSync(join(tmpdir(), 'parley-client-e2e-'));
  const libsql = await startTestLibsqlServer();
  let child: ChildProcess | null = null;
  let output = '';
  const stop = once(async () => {
    if (child !== null) await stopGroup(child);
    await libsql.close();
    rmSync(stateDir, { recursive: true, force: true });
  });
  try {
    const client = libsql.client();
    await applyMigrations(client, MIGRATIONS_DIR);
    const issued = await issueAppKey(databaseFromClient(client), { name: 'client e2e app', scopes: ['tokens:mint'], createdBy: 'test', now: Date.now() });

    const port = await freePort('tcp');
    const inspectorPort = await freePort('tcp');
    const bindings: Record<string, string> = {
      PARLEY_ENV: 'development',
      LIBSQL_URL: libsql.url,
      LIBSQL_AUTH_TOKEN: libsql.authToken,
      PASSWORD_HASH_MEMORY_KIB: '64',
      PASSWORD_HASH_ITERATIONS: '1',
      THROTTLE_LOGIN_PER_ADDRESS_FREE_ATTEMPTS: '100000',
      THROTTLE_REGISTER_PER_ADDRESS_FREE_ATTEMPTS: '100000',
      ...options.bindings,
    };
    // Settings through an env file (not the command line, which `ps` shows).
    const envFile = join(stateDir, 'control.env');
    writeFileSync(envFile, Object.entries(bindings).map(([k, v]) => `${k}='${v}'\n`).join(''), { mode: 0o600 });
    child = spawn(
      process.execPath,
      [WRANGLER, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-ip', '127.0.0.1', '--inspector-port', String(inspectorPort),
        '--persist-to', join(stateDir, 'wrangler-state'), '--env-file', envFile, '--show-interactive-dev-session=false'],
      {
        cwd: REPO_ROOT,
        detached: true, // its own process group: workerd children stop with it
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          WRANGLER_SEND_METRICS: 'false',
          WRANGLER_SEND_ERROR_REPORTS: 'false',
          CLOUDFLARE_CF_FETCH_ENABLED: 'false',
          WRANGLER_LOG_PATH: join(stateDir, 'logs'),
          WRANGLER_REGISTRY_PATH: join(stateDir, 'registry'),
        },
      },
    );
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const controlUrl = `http://127.0.0.1:${port}`;
    await waitForHealth(controlUrl, child, options.readyTimeoutMs ?? 120_000, () => output);
    return { controlUrl, libsql, mintKey: issued.key, output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Mints an access token as an app's server does (docs/protocol.md §4.5). */
export async function mintToken(
  stack: ClientTestStack,
  body: { userId: string; displayName: string; grants: Array<{ channelId: string; permissions: string[] }>; ttlSeconds?: number },
): Promise<{ accessToken: string; expiresAt: number; expiresIn: number }> {
  const response = await fetch(`${stack.controlUrl}/v1/tokens`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${stack.mintKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status !== 201) throw new Error(`minting failed: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as { accessToken: string; expiresAt: number; expiresIn: number };
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`wrangler dev exited before it was ready:\n${output().slice(-4000)}`);
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
      if (response.status === 503) throw new Error(`the control plane is misconfigured:\n${output().slice(-4000)}`);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('the control plane is misconfigured')) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`wrangler dev was not ready within ${timeoutMs} ms:\n${output().slice(-4000)}`);
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
  signal('SIGKILL'); // workerd children that outlived wrangler
}

function once(action: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => (running ??= action());
}
