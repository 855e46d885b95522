/**
 * The UDP workers hold no long-term secrets. A real relay (RelayServer, two real worker threads)
 * is started from an environment that carries a private key, API key, control key and metrics
 * token; then each worker is inspected from outside (the inspector protocol, as a debugger
 * would): its process.env, and a heap snapshot searched for every form of those secrets. The
 * session ids it serves are in that snapshot, which shows the search finds what a worker holds.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../cli/relay-process.js';
import { loadRelayConfig } from '../../relay/src/config.js';
import { createRelayLogger } from '../../relay/src/logger.js';
import { RelayServer } from '../../relay/src/relay-server.js';
import { workerForChannel } from '../../relay/src/workers/channel-shard.js';
import { WORKER_ENV_VARIABLES } from '../../relay/src/workers/worker-pool.js';
import { RelayApiClient } from '../../shared/relay-api/relay-api-client.js';
import { randomKeyMaterial } from '../unit/relay-api/helpers.js';
import { WorkerInspector } from '../support/worker-inspector.js';

const privateKey = randomBytes(32);
const apiSecret = randomBytes(32);
const controlSecret = randomBytes(32);
const metricsToken = `metrics-${randomBytes(12).toString('hex')}`;
const SECRET_ENV = {
  RELAY_PRIVATE_KEY: privateKey.toString('base64url'),
  RELAY_API_KEYS: `k1:${apiSecret.toString('base64url')}`,
  RELAY_CONTROL_KEY: `ctl:${controlSecret.toString('base64url')}`,
  RELAY_METRICS_TOKEN: metricsToken,
};
/** Every spelling of a secret a worker could plausibly hold. */
const SECRET_FORMS = [
  ...[privateKey, apiSecret, controlSecret].flatMap((bytes) => [bytes.toString('base64url'), bytes.toString('base64'), bytes.toString('hex')]),
  metricsToken,
];

const saved: Record<string, string | undefined> = {};
let server: RelayServer;
let inspector: WorkerInspector;
const probes = [`ses-probe-${randomBytes(6).toString('hex')}`, `ses-probe-${randomBytes(6).toString('hex')}`];

function channelOn(worker: number): string {
  for (let n = 0; ; n++) if (workerForChannel(`secret-room-${n}`, 2) === worker) return `secret-room-${n}`;
}

beforeAll(async () => {
  // In this process's environment, as a deployed relay has them: a worker must not inherit them.
  for (const [name, value] of Object.entries(SECRET_ENV)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  const config = loadRelayConfig({
    ...process.env,
    PARLEY_ENV: 'development',
    RELAY_WORKERS: '2',
    RELAY_UDP_HOST: '127.0.0.1',
    RELAY_UDP_PORT: '0',
    RELAY_API_PORT: String(await freePort('tcp')),
    RELAY_METRICS_PORT: String(await freePort('tcp')),
    RELAY_LOG_LEVEL: 'silent',
  });
  server = await RelayServer.start({ config, logger: createRelayLogger(config), register: false });
  inspector = await WorkerInspector.open();
  const api = new RelayApiClient({
    baseUrl: `http://127.0.0.1:${server.apiPort}/`,
    relayId: config.relayId,
    relayBootId: server.bootId,
    relayPublicKey: config.publicKey,
    key: { keyId: 'k1', secret: new Uint8Array(apiSecret) },
    fetch: (request) => fetch(request),
    now: Date.now,
  });
  for (const [worker, sessionId] of probes.entries()) {
    await api.installSession({
      sessionId,
      userId: 'user-probe',
      channelId: channelOn(worker),
      ssrc: 0x7000 + worker,
      profile: 'aes128gcm',
      permissions: { canSpeak: true, canListen: true, muted: false, deafened: false },
      expiresAt: Date.now() + 600_000,
      keys: randomKeyMaterial(),
    });
  }
}, 30_000);

afterAll(async () => {
  inspector?.close();
  await server?.close();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe('relay workers hold no long-term secrets', () => {
  it.each([0, 1])('worker %i: its process.env has none of the secret variables, only the few it is given', async (index) => {
    const [worker] = inspector.workersNamed(`relay-worker-${index}`);
    expect(worker, `worker ${index} attached: ${JSON.stringify(inspector.attached)}`).toBeDefined();
    const env = JSON.parse((await inspector.evaluate(worker!, 'JSON.stringify(process.env)')) as string) as Record<string, string>;
    for (const name of Object.keys(env)) expect(WORKER_ENV_VARIABLES).toContain(name);
    const text = JSON.stringify(env);
    for (const secret of SECRET_FORMS) expect(text).not.toContain(secret);
  });

  it.each([0, 1])('worker %i: a heap snapshot holds its session, and no private key, API key, control key or metrics token', async (index) => {
    const [worker] = inspector.workersNamed(`relay-worker-${index}`);
    const snapshot = await inspector.heapSnapshot(worker!);
    expect(snapshot.length).toBeGreaterThan(100_000);
    expect(snapshot).toContain(probes[index]); // the worker's own session: the search sees what it holds
    for (const secret of SECRET_FORMS) expect(snapshot.includes(secret), 'a secret in the worker heap').toBe(false);
  });
});
