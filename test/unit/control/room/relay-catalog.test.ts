import { describe, expect, it } from 'vitest';
import { chooseRelay, isRelayUsable, type RelayRoute } from '../../../../control/src/room/relay-catalog.js';

function relay(relayId: string, region: string, extra: Partial<RelayRoute> = {}): RelayRoute {
  return { relayId, region, bootId: 'b', apiUrl: 'http://r/', publicKey: 'k', udpEndpoints: [], load: { sessions: 0, channels: 0 }, draining: false, lastSeenAt: 1_000, ...extra };
}

describe('choosing a channel relay', () => {
  const now = 1_000;
  const base = { now, deadAfterMs: 30_000, pinnedRegion: null, stickyRegion: null, client: { kind: 'unknown' } as const };

  it('never picks a draining or dead relay', () => {
    const relays = [relay('a', 'fra', { draining: true }), relay('b', 'fra', { lastSeenAt: now - 31_000 })];
    expect(chooseRelay({ ...base, relays })).toBeNull();
  });

  it('keeps to a pinned region strictly, prefers the sticky one, else the region nearest the client', () => {
    const relays = [relay('a', 'fra', { load: { sessions: 5, channels: 1 } }), relay('b', 'ams', { load: { sessions: 1, channels: 1 } }), relay('c', 'fra', { load: { sessions: 2, channels: 1 } })];
    expect(chooseRelay({ ...base, relays, pinnedRegion: 'fra' })?.relayId).toBe('c');
    expect(chooseRelay({ ...base, relays, pinnedRegion: 'sin' })).toBeNull();
    expect(chooseRelay({ ...base, relays, stickyRegion: 'fra' })?.relayId).toBe('c');
    // No healthy relay in the sticky region: the one nearest the sticky region.
    expect(chooseRelay({ ...base, relays, stickyRegion: 'sin' })?.relayId).toBe('c');
    // A client in Amsterdam gets ams; one in Frankfurt fra's least loaded.
    expect(chooseRelay({ ...base, relays, client: { kind: 'coordinates', latitude: 52.37, longitude: 4.9 } })?.relayId).toBe('b');
    expect(chooseRelay({ ...base, relays, client: { kind: 'coordinates', latitude: 50.11, longitude: 8.68 } })?.relayId).toBe('c');
  });

  it('a relay that restarted (new boot id) is not the one the room used', () => {
    const ref = { relayId: 'a', bootId: 'old', apiUrl: 'http://r/', publicKey: 'k', region: 'fra' };
    expect(isRelayUsable(ref, [relay('a', 'fra', { bootId: 'old' })], now, 30_000)?.relayId).toBe('a');
    expect(isRelayUsable(ref, [relay('a', 'fra', { bootId: 'new' })], now, 30_000)).toBeNull();
    expect(isRelayUsable(ref, [relay('a', 'fra', { bootId: 'old', draining: true })], now, 30_000)).toBeNull();
  });
});
