/**
 * Workers that heal, with the real relay: a RelayServer with two real worker threads, a control
 * plane stand-in that verifies every heartbeat, and faults injected into worker 1 from outside
 * through the inspector (an uncaught exception; a busy loop that never yields). Each time the
 * worker is replaced on the same UDP port within seconds, /healthz comes back, its sessions are
 * reported lost in a heartbeat, and their keys are gone from this process's memory (searched
 * byte by byte: the addon cleanses a dead worker's secret memory as its thread is torn down).
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../cli/relay-process.js';
import { UdpVoiceClient } from '../../cli/udp-voice-client.js';
import { loadRelayConfig, type RelayConfig } from '../../relay/src/config.js';
import { createRelayLogger } from '../../relay/src/logger.js';
import type { SessionSpec } from '../../relay/src/media/session-spec.js';
import { RelayServer } from '../../relay/src/relay-server.js';
import { workerForChannel } from '../../relay/src/workers/channel-shard.js';
import { ControlPlaneStandIn } from '../support/control-plane-stand-in.js';
import { countSplitInOwnMemory } from '../support/process-memory.js';
import { clientFor } from '../support/relay-fixtures.js';
import { WorkerInspector } from '../support/worker-inspector.js';

let controlPlane: ControlPlaneStandIn;
let server: RelayServer;
let inspector: WorkerInspector;
const clients: UdpVoiceClient[] = [];

beforeAll(async () => {
  const loaded = loadRelayConfig({
    PARLEY_ENV: 'development',
    RELAY_WORKERS: '2',
    RELAY_UDP_HOST: '127.0.0.1',
    RELAY_UDP_PORT: '0',
    RELAY_API_PORT: String(await freePort('tcp')),
    RELAY_METRICS_PORT: String(await freePort('tcp')),
    RELAY_LOG_LEVEL: 'silent',
    RELAY_HEARTBEAT_INTERVAL_MS: '200',
  });
  controlPlane = await ControlPlaneStandIn.start(loaded.controlPlaneKey);
  const config: RelayConfig = { ...loaded, controlPlaneUrl: controlPlane.url };
  server = await RelayServer.start({ config, logger: createRelayLogger(config), register: true });
  inspector = await WorkerInspector.open();
  await controlPlane.waitFor((b) => b.bootId === server.bootId, 5000, 'the registration');
}, 30_000);

afterAll(async () => {
  for (const client of clients) await client.close();
  inspector?.close();
  await server?.close();
  await controlPlane?.close();
});

let nextChannel = 0;
function channelOnWorkerOne(): string {
  for (;;) {
    const id = `heal-room-${nextChannel++}`;
    if (workerForChannel(id, 2) === 1) return id;
  }
}

/**
 * A session whose four secrets exist in this process only as separate halves (the search's
 * needles) until install() has packed them for the worker; the full keys are then wiped here.
 */
async function installOnWorkerOne(sessionId: string, ssrc: number, wipe = true): Promise<{ pairs: Array<[Uint8Array, Uint8Array]>; spec: SessionSpec }> {
  const pairs: Array<[Uint8Array, Uint8Array]> = [];
  const secret = (length: number): Uint8Array => {
    const head = new Uint8Array(randomBytes(8));
    const tail = new Uint8Array(randomBytes(length - 8));
    pairs.push([head, tail]);
    const whole = new Uint8Array(new ArrayBuffer(length));
    whole.set(head, 0);
    whole.set(tail, 8);
    return whole;
  };
  const spec: SessionSpec = {
    sessionId,
    userId: `user-${sessionId}`,
    channelId: channelOnWorkerOne(),
    profile: 'aes128gcm',
    ssrc,
    canSpeak: true,
    canListen: true,
    muted: false,
    deafened: false,
    expiresAt: Date.now() + 600_000,
    clientToRelay: { masterKey: secret(16), masterSalt: secret(12) },
    relayToClient: { masterKey: secret(16), masterSalt: secret(12) },
  };
  const placement = server.sessions.install(spec, Date.now());
  for (const direction of wipe ? [spec.clientToRelay, spec.relayToClient] : []) {
    direction.masterKey.fill(0);
    direction.masterSalt.fill(0);
  }
  expect((await placement).worker).toBe(1);
  return { pairs, spec };
}

async function healthStatus(): Promise<number> {
  return (await fetch(`http://127.0.0.1:${server.apiPort}/healthz`)).status;
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('a relay worker that crashes or hangs is replaced on its port, its sessions reported lost and its keys wiped', () => {
  const port = (): number => server.udpPorts[1]!;

  it('crash (an uncaught exception in the worker)', async () => {
    const portBefore = port();
    const installed = await Promise.all([installOnWorkerOne('ses-crash-1', 0x9001), installOnWorkerOne('ses-crash-2', 0x9002)]);
    const pairs = installed.flatMap((i) => i.pairs);
    // The search finds each of them once: in worker 1's secret memory.
    expect(countSplitInOwnMemory(pairs)).toEqual(pairs.map(() => 1));
    const victim = await inspector.waitForWorker('relay-worker-1');
    const from = controlPlane.received.length;

    inspector.fire(victim, 'setTimeout(() => { throw new Error("injected crash") }, 0)');
    const report = await controlPlane.waitFor((b) => b.lostSessions.includes('ses-crash-1') && b.lostSessions.includes('ses-crash-2'), 10_000, 'lostSessions in a heartbeat', from);
    expect(report.path).toBe('/internal/relays/heartbeat');
    await waitUntil(async () => server.sessions.healthy && (await healthStatus()) === 200, 10_000, 'worker 1 replaced and /healthz 200');
    expect(port()).toBe(portBefore);
    expect(countSplitInOwnMemory(pairs)).toEqual(pairs.map(() => 0));

    // The new worker serves its channels on the same port: a session installs and answers a keepalive.
    const again = await installOnWorkerOne('ses-after-crash', 0x9003, false); // keeps its keys: a client uses them
    const client = await UdpVoiceClient.connect(clientFor({ ...again.spec }), port());
    clients.push(client);
    await client.ping();
    // Acknowledged once, the lost sessions are not listed again.
    const later = controlPlane.received.length;
    await controlPlane.waitFor(() => true, 5000, 'a later heartbeat', later + 1);
    expect(controlPlane.received.at(-1)!.body.lostSessions).toEqual([]);
    expect(controlPlane.refused).toEqual([]);
  });

  it('hang (a loop that never yields): found by the liveness ping, terminated, replaced', async () => {
    const portBefore = port();
    const { pairs } = await installOnWorkerOne('ses-hang-1', 0x9101);
    expect(countSplitInOwnMemory(pairs)).toEqual(pairs.map(() => 1));
    const victim = await inspector.waitForWorker('relay-worker-1');
    const from = controlPlane.received.length;

    inspector.fire(victim, 'setTimeout(() => { for (;;); }, 0)');
    await controlPlane.waitFor((b) => b.lostSessions.includes('ses-hang-1'), 20_000, 'the hung worker\'s session reported lost', from);
    await waitUntil(async () => server.sessions.healthy && (await healthStatus()) === 200, 10_000, 'worker 1 replaced and /healthz 200');
    expect(port()).toBe(portBefore);
    expect(countSplitInOwnMemory(pairs)).toEqual(pairs.map(() => 0));
  }, 40_000);
});

describe('why a dead worker leaves no keys behind', () => {
  /** Copies of a 16-byte pattern left in this process after a thread that held it 20 times died. */
  async function copiesAfterThreadDies(native: boolean): Promise<number> {
    const head = new Uint8Array(randomBytes(8));
    const tail = new Uint8Array(randomBytes(8));
    const addonPath = fileURLToPath(new URL('../../relay/native/build/Release/parley_gcm.node', import.meta.url));
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const addon = require(workerData.addonPath);
       const held = [];
       for (let i = 0; i < 20; i++) {
         const buffer = workerData.native ? addon.createSecretBuffer(49152) : new ArrayBuffer(49152);
         const slot = new Uint8Array(buffer, 96 * 7, 16);
         slot.set(workerData.head, 0);
         slot.set(workerData.tail, 8);
         held.push(buffer);
       }
       setTimeout(() => { throw new Error('injected crash'); }, 10);`,
      { eval: true, workerData: { native, head, tail, addonPath }, env: {} },
    );
    worker.on('error', () => {});
    await new Promise((resolve) => worker.once('exit', resolve));
    return countSplitInOwnMemory([[head, tail]])[0]!;
  }

  it('the addon cleanses its secret buffers as a crashed thread is torn down; plain ArrayBuffers stay in memory (the control)', async () => {
    expect(await copiesAfterThreadDies(false)).toBeGreaterThan(0);
    expect(await copiesAfterThreadDies(true)).toBe(0);
  });
});
