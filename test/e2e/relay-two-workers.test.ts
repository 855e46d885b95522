/**
 * The relay process with two workers (RELAY_WORKERS=2), over real UDP on loopback: channels
 * sharded by channel id onto workers with ports of their own, the internal API routing every
 * call to the right worker, metrics summed over both, and SIGTERM draining both.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { workerForChannel } from '../../relay/src/workers/channel-shard.js';
import type { InstallSessionResponse } from '../../shared/relay-api/messages.js';
import { RelayApiError } from '../../shared/relay-api/relay-api-client.js';
import { startRelayProcess, type RelayProcess } from '../../cli/relay-process.js';
import { settle, UdpVoiceClient } from '../../cli/udp-voice-client.js';
import type { SessionKeyMaterial } from '../../relay/src/media/session-spec.js';
import { clientFor, randomKeyMaterial } from '../support/relay-fixtures.js';

const WORKERS = 2;

/** Two workers on ephemeral ports, budgets lifted for bursts (the limits have tests of their own). */
function startTwoWorkerRelay(relayId: string, env: Record<string, string> = {}): Promise<RelayProcess> {
  return startRelayProcess({
    relayId,
    env: {
      RELAY_WORKERS: String(WORKERS),
      RELAY_UDP_PORT: '0',
      RELAY_SESSION_PPS: '20000',
      RELAY_SESSION_PACKET_BURST: '20000',
      RELAY_SESSION_BPS: '10000000',
      RELAY_SESSION_BYTE_BURST: '10000000',
      ...env,
    },
  });
}

/** The first channel id of the form `${prefix}-n` that lands on `worker`. */
function channelOn(worker: number, prefix: string): string {
  for (let n = 0; n < 1000; n++) if (workerForChannel(`${prefix}-${n}`, WORKERS) === worker) return `${prefix}-${n}`;
  throw new Error('no channel id found');
}

let relay: RelayProcess;
let nextSsrc = 0x3000_0000;
const clients: UdpVoiceClient[] = [];

interface Joined {
  readonly sessionId: string;
  readonly keys: SessionKeyMaterial;
  readonly client: UdpVoiceClient;
  readonly installed: InstallSessionResponse;
}

async function join(
  target: RelayProcess,
  channelId: string,
  sessionId: string,
  options: { ssrc?: number; expiresInMs?: number } = {},
): Promise<Joined> {
  const keys = randomKeyMaterial(options.ssrc ?? nextSsrc++);
  const installed = await target.api.installSession({
    sessionId,
    userId: `user-${sessionId}`,
    channelId,
    ssrc: keys.ssrc,
    profile: 'aes128gcm',
    permissions: { canSpeak: true, canListen: true, muted: false, deafened: false },
    expiresAt: Date.now() + (options.expiresInMs ?? 600_000),
    keys: { clientToRelay: keys.clientToRelay, relayToClient: keys.relayToClient },
  });
  // The client sends where the install's answer says: its channel's worker.
  const client = await UdpVoiceClient.connect(clientFor({ ...keys, profile: 'aes128gcm' }), installed.udpPort);
  clients.push(client);
  await client.ping();
  return { sessionId, keys, client, installed };
}

function frame(i: number, tag: number): Uint8Array {
  const payload = new Uint8Array(120);
  new DataView(payload.buffer).setUint32(0, i);
  payload.fill(tag, 4);
  return payload;
}

async function speak(speaker: Joined, count: number, tag: number, first = 0): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for (let i = first; i < first + count; i++) {
    const f = frame(i, tag);
    frames.push(f);
    speaker.client.sendVoice(f);
    if (i % 20 === 19) await settle(5);
  }
  return frames;
}

async function metricsText(target: RelayProcess): Promise<string> {
  return (await fetch(`http://127.0.0.1:${target.ports.metrics}/metrics`)).text();
}

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no series ${series}`);
  return Number(line.slice(series.length + 1));
}

async function health(target: RelayProcess): Promise<{ ok: boolean; draining: boolean; sessions: number }> {
  return (await fetch(`http://127.0.0.1:${target.ports.api}/healthz`)).json() as Promise<{ ok: boolean; draining: boolean; sessions: number }>;
}

beforeAll(async () => {
  relay = await startTwoWorkerRelay('workers-relay');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  relay.kill('SIGKILL');
  await relay.exited();
});

describe('two relay workers', () => {
  it('announce a port each, and worker 0 keeps udpPort', () => {
    expect(relay.udpPorts).toHaveLength(WORKERS);
    expect(new Set(relay.udpPorts).size).toBe(WORKERS);
    expect(relay.ports.udp).toBe(relay.udpPorts[0]);
  });

  it("put channels on their hash's worker and port; each channel's voice reaches its own listeners with their keys", async () => {
    const roomA = channelOn(0, 'room-a');
    const roomB = channelOn(1, 'room-b');
    const speakerA = await join(relay, roomA, 'a-speaker');
    const listenersA = [await join(relay, roomA, 'a-listener-1'), await join(relay, roomA, 'a-listener-2')];
    const speakerB = await join(relay, roomB, 'b-speaker');
    const listenersB = [await join(relay, roomB, 'b-listener-1'), await join(relay, roomB, 'b-listener-2')];

    for (const m of [speakerA, ...listenersA]) {
      expect(m.installed.udpPort).toBe(relay.udpPorts[0]);
      expect(m.installed.udpEndpoint).toEqual({ host: '127.0.0.1', port: relay.udpPorts[0] });
    }
    for (const m of [speakerB, ...listenersB]) expect(m.installed.udpPort).toBe(relay.udpPorts[1]);

    const framesA = await speak(speakerA, 100, 0xaa);
    const framesB = await speak(speakerB, 100, 0xbb);
    for (const l of [...listenersA, ...listenersB]) await l.client.waitFor(() => l.client.voice().length >= 100, 5000, 'all frames');
    await settle(100);
    for (const l of listenersA) {
      expect(l.client.voice().map((v) => v.payload)).toEqual(framesA);
      expect(new Set(l.client.voice().map((v) => v.ssrc))).toEqual(new Set([speakerA.keys.ssrc]));
      expect(l.client.rejected).toBe(0);
    }
    for (const l of listenersB) {
      expect(l.client.voice().map((v) => v.payload)).toEqual(framesB);
      expect(l.client.rejected).toBe(0);
    }
    expect(speakerA.client.voice()).toEqual([]);
    expect(speakerB.client.voice()).toEqual([]);
  });

  it("drops a channel's voice sent to the other worker's port (unknown there)", async () => {
    const roomA = channelOn(0, 'room-wrong');
    const speaker = await join(relay, roomA, 'wrong-speaker');
    const listener = await join(relay, roomA, 'wrong-listener');
    const before = sample(await metricsText(relay), 'parley_relay_packets_dropped_total{reason="unknown-ssrc"}');
    const misdirected = await UdpVoiceClient.connect(speaker.client.media, relay.udpPorts[1]!);
    clients.push(misdirected);
    for (let i = 0; i < 10; i++) misdirected.sendVoice(frame(i, 0xcc));
    await settle(300);
    expect(listener.client.voice()).toEqual([]);
    expect(sample(await metricsText(relay), 'parley_relay_packets_dropped_total{reason="unknown-ssrc"}')).toBe(before + 10);
  });

  it('routes list, update, rotate and revoke to the worker that holds the session', async () => {
    const roomA = channelOn(0, 'room-api');
    const roomB = channelOn(1, 'room-api');
    const speakerA = await join(relay, roomA, 'api-a-speaker');
    const listenerA = await join(relay, roomA, 'api-a-listener');
    const speakerB = await join(relay, roomB, 'api-b-speaker');
    const listenerB = await join(relay, roomB, 'api-b-listener');

    const listed = (await relay.api.listSessions()).sessions.map((s) => s.sessionId);
    expect(listed).toEqual(expect.arrayContaining(['api-a-speaker', 'api-a-listener', 'api-b-speaker', 'api-b-listener']));

    // Update on worker 1: B's speaker is muted; A is untouched.
    await relay.api.updateSession('api-b-speaker', { muted: true });
    await speak(speakerA, 10, 0x01);
    await speak(speakerB, 10, 0x02);
    await listenerA.client.waitFor(() => listenerA.client.voice().length >= 10, 5000, 'A frames');
    await settle(200);
    expect(listenerB.client.voice()).toEqual([]);

    // Rotate on worker 1: new SSRC and keys; the listener gets voice under them.
    await relay.api.updateSession('api-b-speaker', { muted: false });
    const rotated = randomKeyMaterial(nextSsrc++);
    await relay.api.rotateSession('api-b-speaker', rotated.ssrc, 'aes128gcm', rotated);
    speakerB.client.media = clientFor({ ...rotated, profile: 'aes128gcm' });
    const afterRotation = await speak(speakerB, 10, 0x03);
    await listenerB.client.waitFor(() => listenerB.client.voice().length >= 10, 5000, 'B frames after rotation');
    expect(listenerB.client.voice().map((v) => v.payload)).toEqual(afterRotation);
    expect((await relay.api.listSessions()).sessions.find((s) => s.sessionId === 'api-b-speaker')?.ssrcs).toEqual([rotated.ssrc, speakerB.keys.ssrc]);

    // Revoke on worker 0: gone from the list, and a second revoke or an update is 404.
    await relay.api.revokeSession('api-a-listener');
    expect((await relay.api.listSessions()).sessions.map((s) => s.sessionId)).not.toContain('api-a-listener');
    await expect(relay.api.revokeSession('api-a-listener')).rejects.toMatchObject({ status: 404 });
    await expect(relay.api.updateSession('api-a-listener', { muted: true })).rejects.toMatchObject({ status: 404 });
    // A session id is unique on the relay, across workers.
    await expect(join(relay, roomA, 'api-b-speaker')).rejects.toMatchObject({ status: 409 });
  });

  it('checks SSRCs per worker: the same SSRC is refused in one worker, allowed on the other', async () => {
    const roomA = channelOn(0, 'room-ssrc');
    const roomB = channelOn(1, 'room-ssrc');
    const first = await join(relay, roomA, 'ssrc-a-1');
    await expect(join(relay, roomA, 'ssrc-a-2', { ssrc: first.keys.ssrc })).rejects.toBeInstanceOf(RelayApiError);
    const other = await join(relay, roomB, 'ssrc-b-1', { ssrc: first.keys.ssrc });
    expect(other.installed.udpPort).toBe(relay.udpPorts[1]);
  });

  it('sums both workers in the metrics', async () => {
    const roomA = channelOn(0, 'room-metrics');
    const roomB = channelOn(1, 'room-metrics');
    const a = [await join(relay, roomA, 'm-a-1'), await join(relay, roomA, 'm-a-2')];
    const b = [await join(relay, roomB, 'm-b-1'), await join(relay, roomB, 'm-b-2')];
    const before = await metricsText(relay);
    await speak(a[0]!, 30, 0x11);
    await speak(b[0]!, 20, 0x22);
    await a[1]!.client.waitFor(() => a[1]!.client.voice().length >= 30, 5000, 'A frames');
    await b[1]!.client.waitFor(() => b[1]!.client.voice().length >= 20, 5000, 'B frames');
    const after = await metricsText(relay);
    // 50 voice packets in, one copy each out (one listener per channel): both workers counted.
    expect(sample(after, 'parley_relay_packets_in_total') - sample(before, 'parley_relay_packets_in_total')).toBe(50);
    expect(sample(after, 'parley_relay_packets_out_total') - sample(before, 'parley_relay_packets_out_total')).toBe(50);
    expect(sample(after, 'parley_relay_packet_processing_seconds_count')).toBeGreaterThanOrEqual(sample(before, 'parley_relay_packet_processing_seconds_count'));
    expect(sample(after, 'parley_relay_workers')).toBe(2);
    expect(sample(after, 'parley_relay_workers_up')).toBe(2);
    const { sessions } = await relay.api.listSessions();
    expect(sample(after, 'parley_relay_sessions')).toBe(sessions.length);
    expect((await health(relay)).sessions).toBe(sessions.length);
  });

  it('forgets a session that expires in its worker: the id is free again, the count goes down', async () => {
    const room = channelOn(1, 'room-expiry');
    await join(relay, room, 'short-lived', { expiresInMs: 1200 });
    const during = (await health(relay)).sessions;
    const deadline = Date.now() + 5000;
    while ((await relay.api.listSessions()).sessions.some((s) => s.sessionId === 'short-lived') && Date.now() < deadline) await settle(100);
    await settle(100); // the worker's "ended" message follows its sweep
    expect((await health(relay)).sessions).toBe(during - 1);
    // Had the main thread kept the entry, this would be 409 duplicate-session.
    const again = await join(relay, room, 'short-lived');
    expect(again.installed.udpPort).toBe(relay.udpPorts[1]);
  });
});

describe('SIGTERM with two workers', () => {
  it('drains both: no new sessions on either, calls continue on both, exit once the last session ends', async () => {
    const own = await startTwoWorkerRelay('drain-workers', { RELAY_DRAIN_DEADLINE_SECONDS: '20' });
    try {
      const roomA = channelOn(0, 'room-drain');
      const roomB = channelOn(1, 'room-drain');
      const a = [await join(own, roomA, 'd-a-1'), await join(own, roomA, 'd-a-2')];
      const b = [await join(own, roomB, 'd-b-1'), await join(own, roomB, 'd-b-2')];
      own.kill('SIGTERM');
      await settle(300);
      expect(await health(own)).toMatchObject({ ok: true, draining: true, sessions: 4 });
      await expect(join(own, roomA, 'd-a-late')).rejects.toMatchObject({ status: 503 });
      await expect(join(own, roomB, 'd-b-late')).rejects.toMatchObject({ status: 503 });
      await speak(a[0]!, 10, 0x31);
      await speak(b[0]!, 10, 0x32);
      await a[1]!.client.waitFor(() => a[1]!.client.voice().length >= 10, 5000, 'A frames while draining');
      await b[1]!.client.waitFor(() => b[1]!.client.voice().length >= 10, 5000, 'B frames while draining');
      for (const id of ['d-a-1', 'd-a-2', 'd-b-1']) await own.api.revokeSession(id);
      await settle(500);
      expect(own.child.exitCode).toBeNull(); // one session left, on worker 1
      await own.api.revokeSession('d-b-2');
      expect(await own.exited()).toBe(0);
    } finally {
      own.kill('SIGKILL');
    }
  });
});
