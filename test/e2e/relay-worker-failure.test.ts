/**
 * A relay worker that dies must be visible, not a silently lost shard, and must heal: WorkerPool
 * (the main thread's side) with stand-in worker threads (test/support/dying-relay-worker.mjs) that
 * exit or hang on cue. The real worker thread crashing and hanging is relay-worker-healing.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { workerForChannel } from '../../relay/src/workers/channel-shard.js';
import { loadRelayConfig } from '../../relay/src/config.js';
import { WorkerUnavailableError } from '../../relay/src/media/session-directory.js';
import { WorkerPool } from '../../relay/src/workers/worker-pool.js';
import type { SessionSpec } from '../../relay/src/media/session-spec.js';
import { randomKeyMaterial } from '../support/relay-fixtures.js';

const DYING_WORKER = new URL('../support/dying-relay-worker.mjs', import.meta.url);

function channelOn(worker: number, prefix: string): string {
  for (let n = 0; n < 1000; n++) if (workerForChannel(`${prefix}-${n}`, 2) === worker) return `${prefix}-${n}`;
  throw new Error('no channel id found');
}

function spec(sessionId: string, channelId: string, ssrc: number): SessionSpec {
  return {
    sessionId,
    userId: `user-${sessionId}`,
    channelId,
    profile: 'aes128gcm',
    canSpeak: true,
    canListen: true,
    muted: false,
    deafened: false,
    expiresAt: Date.now() + 60_000,
    ...randomKeyMaterial(ssrc),
  };
}

const logs: Array<{ level: string; fields: Record<string, unknown> }> = [];
const log = {
  info: (fields: Record<string, unknown>) => logs.push({ level: 'info', fields }),
  warn: (fields: Record<string, unknown>) => logs.push({ level: 'warn', fields }),
  error: (fields: Record<string, unknown>) => logs.push({ level: 'error', fields }),
};
let workers: WorkerPool | undefined;

afterEach(async () => {
  await workers?.close();
  logs.length = 0;
});

describe('a relay worker that dies', () => {
  it('is logged, fails its request, reports its sessions lost, and is replaced on its port; the other worker carries on', async () => {
    const config = loadRelayConfig({ RELAY_WORKERS: '2', RELAY_UDP_PORT: '0' });
    const lostReported: string[][] = [];
    workers = await WorkerPool.start(config, log, { workerScript: DYING_WORKER, onSessionsLost: (ids) => lostReported.push([...ids]) });
    expect(workers.workers.map((w) => w.udpPort)).toEqual([50000, 50001]);
    const onZero = channelOn(0, 'room');
    const onOne = channelOn(1, 'room');
    const now = Date.now();
    expect((await workers.install(spec('s0', onZero, 1), now)).udpPort).toBe(50000);
    expect((await workers.install(spec('s1', onOne, 2), now)).udpPort).toBe(50001);
    expect(workers.size).toBe(2);
    expect(workers.healthy).toBe(true);
    expect((await workers.packetStats()).packetsIn).toBe(10 + 20);

    // The install that kills worker 1 fails with WorkerUnavailableError instead of hanging.
    await expect(workers.install(spec('s-die', channelOn(1, 'die'), 3), now)).rejects.toBeInstanceOf(WorkerUnavailableError);
    for (let i = 0; i < 100 && lostReported.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    // s1, and the install that was in flight (the worker may or may not have held it).
    expect(lostReported).toEqual([['s1', 's-die']]);
    expect(logs).toContainEqual({ level: 'error', fields: expect.objectContaining({ event: 'relay_worker.exited', worker: 1, sessionsLost: 2 }) });
    expect(workers.size).toBe(1); // s1 died with worker 1
    expect(workers.profileOf('s1')).toBeUndefined();
    expect(await workers.revoke('s1', now)).toBe(false);
    expect((await workers.sessionReport()).lostSessions).toEqual(['s1', 's-die']);

    // A new worker 1 takes the same port; health comes back, and its channels take sessions again.
    for (let i = 0; i < 200 && !workers.healthy; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(workers.healthy).toBe(true);
    expect(workers.workersUp).toBe(2);
    expect(workers.workers.map((w) => w.udpPort)).toEqual([50000, 50001]);
    expect(logs).toContainEqual({ level: 'info', fields: expect.objectContaining({ event: 'relay_worker.replaced', worker: 1, udpPort: 50001 }) });
    expect((await workers.install(spec('s1-again', onOne, 4), now)).worker).toBe(1);
    expect((await workers.install(spec('s0-b', onZero, 5), now)).worker).toBe(0);
    expect((await workers.list()).map((s) => s.sessionId).sort()).toEqual(['s0', 's0-b', 's1-again']);
    // Metrics keep the dead worker's last counters until the new one reports: totals never go down.
    expect((await workers.packetStats()).packetsIn).toBeGreaterThanOrEqual(10 + 20);
    // Once the control plane acknowledged a heartbeat listing them, they are not listed again.
    workers.acknowledgeLost(['s1', 's-die']);
    expect((await workers.sessionReport()).lostSessions).toEqual([]);
  });

  it('that hangs is declared unresponsive after the request timeout, terminated, reported and replaced like a crash', async () => {
    const config = loadRelayConfig({ RELAY_WORKERS: '2', RELAY_UDP_PORT: '0' });
    workers = await WorkerPool.start(config, log, { workerScript: DYING_WORKER, requestTimeoutMs: 300 });
    const now = Date.now();
    expect((await workers.install(spec('s0', channelOn(0, 'room'), 1), now)).worker).toBe(0);
    expect((await workers.install(spec('s1', channelOn(1, 'room'), 2), now)).worker).toBe(1);
    const started = Date.now();
    await expect(workers.install(spec('s-hang', channelOn(1, 'hang'), 3), now)).rejects.toBeInstanceOf(WorkerUnavailableError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    for (let i = 0; i < 200 && !logs.some((l) => l.fields['event'] === 'relay_worker.replaced'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(logs).toContainEqual({ level: 'error', fields: expect.objectContaining({ event: 'relay_worker.unresponsive', worker: 1 }) });
    expect(logs).toContainEqual({ level: 'error', fields: expect.objectContaining({ event: 'relay_worker.exited', worker: 1 }) });
    expect(logs).toContainEqual({ level: 'info', fields: expect.objectContaining({ event: 'relay_worker.replaced', worker: 1 }) });
    expect(workers.profileOf('s1')).toBeUndefined();
    // The install that hung was answered 503 (the control plane knows it failed); s1 was lost.
    expect((await workers.sessionReport()).lostSessions).toEqual(['s1']);
    expect(workers.healthy).toBe(true);
    // Worker 0 never noticed.
    expect((await workers.install(spec('s0-b', channelOn(0, 'room-b'), 4), now)).worker).toBe(0);
    expect((await workers.list()).map((s) => s.sessionId).sort()).toEqual(['s0', 's0-b']);
  });

  it('that hangs while nobody asks it anything is found by the liveness ping', async () => {
    const config = loadRelayConfig({ RELAY_WORKERS: '1', RELAY_UDP_PORT: '0' });
    workers = await WorkerPool.start(config, log, { workerScript: DYING_WORKER, livenessIntervalMs: 50, livenessTimeoutMs: 300 });
    // The stand-in answers this install, then hangs on its own: no request of ours is pending.
    await workers.install(spec('s-quiet', 'quiet-hang-room', 9), Date.now());
    for (let i = 0; i < 200 && !logs.some((l) => l.fields['event'] === 'relay_worker.replaced'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(logs).toContainEqual({ level: 'error', fields: expect.objectContaining({ event: 'relay_worker.unresponsive', worker: 0 }) });
    expect(logs).toContainEqual({ level: 'info', fields: expect.objectContaining({ event: 'relay_worker.replaced', worker: 0 }) });
    expect((await workers.sessionReport()).lostSessions).toEqual(['s-quiet']);
  });
});
