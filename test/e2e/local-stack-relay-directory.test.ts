/**
 * The relay directory end to end, from npm start's own parts (control/dev/local-stack/): the
 * local libSQL server, the control plane in wrangler dev (workerd) and a real relay process,
 * all on loopback and ephemeral ports, stopped by process group.
 *
 * The relay reaches the control plane through a recording proxy, so the test holds the relay's
 * real signed register and heartbeat requests. It checks that the relay registers and
 * heartbeats (listed alive with its endpoints, public key, boot id and the internal API URL it
 * announced, which answers as that relay), that once killed with
 * SIGKILL it is listed dead after RELAY_DEAD_AFTER_SECONDS without a heartbeat, and that those
 * requests replayed, altered, or signed with another key are refused and change nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EPHEMERAL_PORTS, startLocalStack, type LocalStack } from '../../control/dev/local-stack/local-stack.js';
import { ephemeralPort } from '../../control/dev/local-stack/ports.js';
import { findStackProcesses } from '../../control/dev/local-stack/stack-lock.js';
import { INSECURE_DEV_CONTROL_KEY, INSECURE_DEV_RELAY_PUBLIC_KEY } from '../../relay/src/config.js';
import { decodeBase64Url } from '../../shared/relay-api/base64url.js';
import { CONTROL_PLANE_AUDIENCE, signRequest } from '../../shared/relay-api/request-signing.js';
import { RecordingProxy, sendRaw, type RecordedRequest } from '../support/recording-proxy.js';

const RELAY_ID = 'e2e-directory-relay';
const HEARTBEAT_INTERVAL_MS = 300;
const DEAD_AFTER_SECONDS = 2;
const REGISTER = '/internal/relays/register';
const HEARTBEAT = '/internal/relays/heartbeat';

interface DirectoryEntry {
  readonly relayId: string;
  readonly status: string;
  readonly region: string;
  readonly apiUrl: string | null;
  readonly draining: boolean;
  readonly load: { readonly sessions: number; readonly channels: number };
  readonly udpEndpoints: readonly { readonly host: string; readonly port: number }[];
  readonly publicKey: string;
  readonly controlKeyId: string;
  readonly registeredAt: number;
  readonly lastSeenAt: number;
  readonly bootId?: string;
}

let stateDir: string;
let proxy: RecordingProxy;
let stack: LocalStack;
let controlPort: number;

async function directoryEntry(): Promise<DirectoryEntry | undefined> {
  const response = await fetch(`${stack.control.url}/v1/admin/relays`, { headers: { authorization: `Bearer ${stack.operatorKey.key}` } });
  expect(response.status).toBe(200);
  const listing = (await response.json()) as { relays: DirectoryEntry[]; deadAfterSeconds: number };
  expect(listing.deadAfterSeconds).toBe(DEAD_AFTER_SECONDS);
  return listing.relays.find((r) => r.relayId === RELAY_ID);
}

const [controlKeyId, controlSecret] = INSECURE_DEV_CONTROL_KEY.split(':') as [string, string];

/** A request signed now, as the relay signs (relay/src/api/control-plane-client.ts). */
function signedNow(path: string, body: Buffer, key = { keyId: controlKeyId, secret: decodeBase64Url(controlSecret)! }) {
  const authorization = signRequest({ method: 'POST', url: `${stack.control.url}${path}`, body, audience: CONTROL_PLANE_AUDIENCE, key, now: Date.now() });
  return { method: 'POST', path, headers: { 'content-type': 'application/json', authorization }, body };
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'parley-e2e-directory-'));
  controlPort = await ephemeralPort('tcp');
  proxy = await RecordingProxy.start(controlPort);
  stack = await startLocalStack({
    stateDir,
    ports: { ...EPHEMERAL_PORTS, control: { port: controlPort, explicit: true } },
    controlBindings: { RELAY_DEAD_AFTER_SECONDS: String(DEAD_AFTER_SECONDS) },
    relay: {
      relayId: RELAY_ID,
      environment: { RELAY_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_INTERVAL_MS), CONTROL_PLANE_URL: `${proxy.url}/` },
    },
  });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  await proxy?.close();
  // Nothing the stack started is left.
  expect(findStackProcesses(stateDir)).toEqual([]);
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

describe('the relay directory, end to end (local stack)', () => {
  it('lists the relay alive with its endpoints and public key once it registered, and heartbeats keep it alive', async () => {
    const relay = stack.relay!;
    const entry = await directoryEntry();
    expect(entry).toMatchObject({
      relayId: RELAY_ID,
      status: 'alive',
      region: 'local',
      draining: false,
      load: { sessions: 0, channels: 0 },
      udpEndpoints: relay.announcement.udpPorts.map((port) => ({ host: '127.0.0.1', port })),
      publicKey: relay.announcement.publicKey ?? INSECURE_DEV_RELAY_PUBLIC_KEY,
      controlKeyId,
    });
    expect(proxy.find(REGISTER)).toHaveLength(1);

    // Heartbeats arrive, each moves lastSeenAt on, and the relay stays alive past RELAY_DEAD_AFTER_SECONDS.
    const first = entry!.lastSeenAt;
    await expect.poll(() => proxy.find(HEARTBEAT).length, { timeout: 30_000, interval: 100 }).toBeGreaterThanOrEqual(3);
    await expect.poll(async () => (await directoryEntry())?.lastSeenAt ?? 0, { timeout: 30_000 }).toBeGreaterThan(first);
    await expect
      .poll(async () => (await directoryEntry())?.lastSeenAt ?? 0, { timeout: 30_000, interval: 250 })
      .toBeGreaterThan(first + DEAD_AFTER_SECONDS * 1000);
    expect((await directoryEntry())?.status).toBe('alive');
  });

  it('lists the internal API URL the relay announced (its own listener, no local-stack help), and that URL reaches the relay', async () => {
    const relay = stack.relay!;
    const apiUrl = `http://127.0.0.1:${relay.announcement.apiPort}/`;
    const registered = JSON.parse(proxy.find(REGISTER)[0]!.body.toString('utf8')) as { apiUrl?: string };
    expect(registered.apiUrl).toBe(apiUrl);
    const heartbeat = JSON.parse(proxy.find(HEARTBEAT).at(-1)!.body.toString('utf8')) as { apiUrl?: string };
    expect(heartbeat.apiUrl).toBe(apiUrl);
    expect((await directoryEntry())?.apiUrl).toBe(apiUrl);
    // The URL is the relay's API: its health answer names this relay and run.
    const health = (await (await fetch(new URL('healthz', apiUrl))).json()) as { relayId?: string; bootId?: string };
    expect(health).toMatchObject({ relayId: RELAY_ID, bootId: relay.announcement.bootId });
  });

  it('lists the boot id the relay announced and signed into its registration', async () => {
    const bootId = stack.relay!.announcement.bootId;
    expect(bootId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const registered = JSON.parse(proxy.find(REGISTER)[0]!.body.toString('utf8')) as { bootId?: string };
    expect(registered.bootId).toBe(bootId);
    expect((await directoryEntry())?.bootId).toBe(bootId);
  });

  it('marks the relay dead once it was killed and RELAY_DEAD_AFTER_SECONDS passed without a heartbeat', async () => {
    const relay = stack.relay!;
    relay.process.signal('SIGKILL');
    const killedAt = Date.now();
    expect(await relay.process.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const death = await stack.childDied;
    expect(death.child).toBe(relay.process);

    await expect.poll(async () => (await directoryEntry())?.status, { timeout: DEAD_AFTER_SECONDS * 1000 + 20_000, interval: 200 }).toBe('dead');
    const entry = await directoryEntry();
    // No heartbeat after the death, and the directory's last sight of the relay is the last
    // heartbeat it sent (one in flight at the kill may be answered just after killedAt).
    const heartbeats = proxy.find(HEARTBEAT);
    await new Promise((resolve) => setTimeout(resolve, 3 * HEARTBEAT_INTERVAL_MS));
    expect(proxy.find(HEARTBEAT)).toHaveLength(heartbeats.length);
    expect(entry!.lastSeenAt).toBeLessThanOrEqual(Math.max(killedAt, heartbeats.at(-1)!.answeredAt));
    expect(proxy.recorded.map((r) => r.status).filter((status) => status !== 200)).toEqual([]);
  });

  it('refuses the relay\'s own requests replayed, altered, or signed with another key, and nothing changes', async () => {
    const before = await directoryEntry();
    expect(before?.status).toBe('dead');
    const register = proxy.find(REGISTER).at(-1)!;
    const heartbeat = proxy.find(HEARTBEAT).at(-1)!;
    const heartbeatBody = JSON.parse(heartbeat.body.toString('utf8')) as Record<string, unknown>;
    const altered = (changes: Record<string, unknown>): RecordedRequest => ({ ...heartbeat, body: Buffer.from(JSON.stringify({ ...heartbeatBody, ...changes })) });
    const authorization = String(heartbeat.headers['authorization']);
    const lastSig = authorization.at(-1) === 'A' ? 'B' : 'A';

    const attempts: [string, { method: string; path: string; headers: RecordedRequest['headers']; body: Buffer }][] = [
      ['the register request replayed', register],
      ['a heartbeat replayed', heartbeat],
      ['a heartbeat with its body altered (draining)', altered({ draining: true })],
      ['a heartbeat with its body altered (load)', altered({ load: { sessions: 7, channels: 1 } })],
      ['a heartbeat sent to the register path', { ...heartbeat, path: REGISTER }],
      ['a heartbeat with its signature altered', { ...heartbeat, headers: { ...heartbeat.headers, authorization: `${authorization.slice(0, -1)}${lastSig}` } }],
      ['a heartbeat signed with another secret under the relay\'s key id', signedNow(HEARTBEAT, heartbeat.body, { keyId: controlKeyId, secret: new Uint8Array(32).fill(7) })],
      ['a heartbeat signed with a key the control plane does not know', signedNow(HEARTBEAT, heartbeat.body, { keyId: 'someone-else', secret: new Uint8Array(32).fill(9) })],
      ['a registration signed with another secret', signedNow(REGISTER, register.body, { keyId: controlKeyId, secret: new Uint8Array(32).fill(7) })],
    ];
    for (const [what, request] of attempts) {
      const answer = await sendRaw(controlPort, request);
      expect({ what, status: answer.status }).toEqual({ what, status: 401 });
      expect(answer.headers['www-authenticate']).toBe('Parley-HMAC-SHA256 realm="parley-control"');
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'unauthorized' });
    }
    expect(await directoryEntry()).toEqual(before);
  });

  it('accepts a heartbeat freshly signed as the relay signs it, once', async () => {
    const before = await directoryEntry();
    const heartbeat = proxy.find(HEARTBEAT).at(-1)!;
    const fresh = signedNow(HEARTBEAT, heartbeat.body);
    expect((await sendRaw(controlPort, fresh)).status).toBe(200);
    const after = await directoryEntry();
    expect(after?.status).toBe('alive');
    expect(after!.lastSeenAt).toBeGreaterThan(before!.lastSeenAt);
    // And that exact request, again, is a replay.
    expect((await sendRaw(controlPort, fresh)).status).toBe(401);
    expect(await directoryEntry()).toEqual(after);
  });
});
