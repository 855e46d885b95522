import { describe, expect, it } from 'vitest';
import type { RelayRoute } from '../../../../control/src/room/relay-catalog.js';
import { chooseMoveTarget, directoryVerdict, PROBE_MIN_INTERVAL_MS, ProbeLimiter, probeVerdict } from '../../../../control/src/room/relay-failover.js';

function relay(relayId: string, region: string, extra: Partial<RelayRoute> = {}): RelayRoute {
  return { relayId, region, bootId: 'b1', apiUrl: 'http://r/', publicKey: 'k', udpEndpoints: [], load: { sessions: 0, channels: 0 }, draining: false, lastSeenAt: 1_000, ...extra };
}

const now = 1_000;
const from = { relayId: 'a', bootId: 'b1', apiUrl: 'http://r/', publicKey: 'k', region: 'fra' };

describe('when a room moves its sessions (§5.9)', () => {
  it("acts on the room's own probe, never on the report alone", () => {
    const ids = ['vs_1', 'vs_2'];
    expect(probeVerdict({ kind: 'unreachable', status: 0 }, ids)).toEqual({ reason: 'relay_failed', sessionIds: ids });
    expect(probeVerdict({ kind: 'unreachable', status: 503 }, ids)).toEqual({ reason: 'relay_failed', sessionIds: ids });
    expect(probeVerdict({ kind: 'answered', draining: true, sessionIds: new Set(ids) }, ids)).toEqual({ reason: 'relay_draining', sessionIds: ids });
    expect(probeVerdict({ kind: 'answered', draining: false, sessionIds: new Set(['vs_2']) }, ids)).toEqual({ reason: 'relay_lost_session', sessionIds: ['vs_1'] });
    // The relay holds every session: the reporter's own path failed; nothing moves.
    expect(probeVerdict({ kind: 'answered', draining: false, sessionIds: new Set(ids) }, ids)).toBeNull();
    // A relay that refused the listing (4xx) is running: nothing is known of the sessions.
    expect(probeVerdict({ kind: 'answered', draining: false, sessionIds: null }, ids)).toBeNull();
    expect(probeVerdict({ kind: 'unreachable', status: 0 }, [])).toBeNull();
  });

  it('reads the directory: gone, restarted or silent is relay_failed, draining relay_draining', () => {
    expect(directoryVerdict(from, [relay('a', 'fra')], now, 30_000)).toBeNull();
    expect(directoryVerdict(from, [], now, 30_000)).toBe('relay_failed');
    expect(directoryVerdict(from, [relay('a', 'fra', { bootId: 'b2' })], now, 30_000)).toBe('relay_failed');
    expect(directoryVerdict(from, [relay('a', 'fra', { lastSeenAt: now - 31_000 })], now, 30_000)).toBe('relay_failed');
    expect(directoryVerdict(from, [relay('a', 'fra', { draining: true })], now, 30_000)).toBe('relay_draining');
  });

  it('moves to a healthy relay other than the run being left (the region kept); a lost session back onto its own relay', () => {
    const base = { from, now, deadAfterMs: 30_000, pinnedRegion: null, client: { kind: 'unknown' } as const };
    const routes = [relay('a', 'fra'), relay('b', 'ams'), relay('c', 'fra', { load: { sessions: 9, channels: 3 } })];
    // A SIGKILLed relay still looks alive in the directory: it is never the target.
    expect(chooseMoveTarget({ ...base, routes, reason: 'relay_failed' })?.relayId).toBe('c');
    expect(chooseMoveTarget({ ...base, routes, reason: 'relay_lost_session' })?.relayId).toBe('a');
    expect(chooseMoveTarget({ ...base, routes: [relay('a', 'fra', { draining: true }), relay('b', 'ams')], reason: 'relay_lost_session' })?.relayId).toBe('b');
    expect(chooseMoveTarget({ ...base, routes: [relay('a', 'fra')], reason: 'relay_failed' })).toBeNull();
    expect(chooseMoveTarget({ ...base, routes, reason: 'relay_draining', pinnedRegion: 'ams' })?.relayId).toBe('b');
    // The same relay restarted is a new run and may be chosen, with its new boot id.
    expect(chooseMoveTarget({ ...base, routes: [relay('a', 'fra', { bootId: 'b2' })], reason: 'relay_failed' })).toMatchObject({ relayId: 'a', bootId: 'b2' });
  });

  it('probes one relay run at most once per interval, whoever reports', () => {
    const limiter = new ProbeLimiter();
    expect(limiter.admit(from, 0)).toBe(true);
    expect(limiter.admit(from, PROBE_MIN_INTERVAL_MS - 1)).toBe(false);
    expect(limiter.admit({ relayId: 'a', bootId: 'b2' }, 1)).toBe(true);
    expect(limiter.admit(from, PROBE_MIN_INTERVAL_MS)).toBe(true);
  });
});
