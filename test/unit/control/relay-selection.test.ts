import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { distanceKm, RELAY_REGIONS, relayRegion } from '../../../control/src/relays/regions.js';
import {
  clientLocationFrom,
  compareRelayLoad,
  CONTINENT_ANCHOR_REGIONS,
  DEFAULT_ANCHOR_REGION,
  rankRegions,
  selectRelay,
  type ClientLocation,
  type RelayCandidate,
} from '../../../control/src/relays/relay-selection.js';

const NOW = 1_760_000_000_000;
const DEAD_AFTER = 30_000;

function relay(relayId: string, region: string, overrides: Partial<RelayCandidate> = {}): RelayCandidate {
  return { relayId, region, load: { sessions: 0, channels: 0 }, draining: false, lastSeenAt: NOW - 1_000, ...overrides };
}

const dead = { lastSeenAt: NOW - DEAD_AFTER - 1 };
const draining = { draining: true };

function at(code: string): ClientLocation {
  const region = relayRegion(code)!;
  return { kind: 'coordinates', latitude: region.latitude, longitude: region.longitude };
}

const BERLIN: ClientLocation = { kind: 'coordinates', latitude: 52.52, longitude: 13.405 };
const TOKYO: ClientLocation = { kind: 'coordinates', latitude: 35.68, longitude: 139.69 };
const UNKNOWN: ClientLocation = { kind: 'unknown' };

function select(relays: readonly RelayCandidate[], options: { client?: ClientLocation; pinnedRegion?: string | null; stickyRegion?: string | null; now?: number } = {}) {
  return selectRelay({ relays, now: options.now ?? NOW, deadAfterMs: DEAD_AFTER, client: options.client ?? UNKNOWN, pinnedRegion: options.pinnedRegion, stickyRegion: options.stickyRegion });
}

function chosen(result: ReturnType<typeof select>): string {
  if (!result.ok) throw new Error(`no relay: ${result.reason}`);
  return result.relay.relayId;
}

const WORLD = [relay('fra-1', 'fra'), relay('ams-1', 'ams'), relay('iad-1', 'iad'), relay('sin-1', 'sin'), relay('syd-1', 'syd'), relay('gru-1', 'gru')];

describe('selectRelay: nearest region', () => {
  it('picks the region nearest the client', () => {
    expect(select(WORLD, { client: BERLIN })).toMatchObject({ ok: true, region: 'fra', basis: 'nearest' });
    expect(chosen(select(WORLD, { client: { kind: 'coordinates', latitude: 51.92, longitude: 4.48 } }))).toBe('ams-1');
    expect(chosen(select(WORLD, { client: TOKYO }))).toBe('sin-1');
    expect(chosen(select(WORLD, { client: at('mia') }))).toBe('iad-1');
    expect(chosen(select(WORLD, { client: at('eze') }))).toBe('gru-1');
    expect(chosen(select(WORLD, { client: { kind: 'coordinates', latitude: -41.29, longitude: 174.78 } }))).toBe('syd-1');
  });

  it('a client standing in a region with a relay gets that region', () => {
    for (const r of WORLD) expect(chosen(select(WORLD, { client: at(r.region) }))).toBe(r.relayId);
  });

  it('skips regions whose relays are all draining or dead, for the next nearest', () => {
    const relays = [relay('ams-1', 'ams', draining), relay('fra-1', 'fra', dead), relay('waw-1', 'waw'), relay('iad-1', 'iad')];
    expect(chosen(select(relays, { client: BERLIN }))).toBe('waw-1');
  });

  it('never returns a draining or dead relay, whatever the load', () => {
    const relays = [relay('fra-busy', 'fra', { load: { sessions: 500, channels: 80 } }), relay('fra-idle-draining', 'fra', { ...draining }), relay('fra-idle-dead', 'fra', { ...dead })];
    expect(chosen(select(relays, { client: at('fra') }))).toBe('fra-busy');
  });

  it('a relay is healthy up to exactly dead-after since its last heartbeat', () => {
    const relays = [relay('fra-1', 'fra', { lastSeenAt: NOW - DEAD_AFTER }), relay('iad-1', 'iad')];
    expect(chosen(select(relays, { client: BERLIN }))).toBe('fra-1');
    expect(chosen(select(relays, { client: BERLIN, now: NOW + 1 }))).toBe('iad-1');
  });

  it('no healthy relay anywhere: a typed refusal', () => {
    expect(select([], { client: BERLIN })).toEqual({ ok: false, reason: 'no-healthy-relay' });
    expect(select([relay('a', 'fra', dead), relay('b', 'ams', draining)], { client: BERLIN })).toEqual({ ok: false, reason: 'no-healthy-relay' });
  });

  it('a continent picks by its anchor region', () => {
    expect(chosen(select(WORLD, { client: { kind: 'continent', continent: 'EU' } }))).toBe('fra-1');
    expect(chosen(select(WORLD, { client: { kind: 'continent', continent: 'AS' } }))).toBe('sin-1');
    expect(chosen(select(WORLD, { client: { kind: 'continent', continent: 'OC' } }))).toBe('syd-1');
    expect(chosen(select(WORLD, { client: { kind: 'continent', continent: 'SA' } }))).toBe('gru-1');
    expect(chosen(select(WORLD, { client: { kind: 'continent', continent: 'NA' } }))).toBe('iad-1');
    // Africa has no relay here: the nearest to Johannesburg.
    const nearestToJnb = rankRegions(
      WORLD.map((r) => r.region),
      relayRegion('jnb')!,
    )[0];
    expect(select(WORLD, { client: { kind: 'continent', continent: 'AF' } })).toMatchObject({ ok: true, region: nearestToJnb });
  });

  it('every continent anchor and the default anchor are regions of the table', () => {
    for (const code of [...Object.values(CONTINENT_ANCHOR_REGIONS), DEFAULT_ANCHOR_REGION]) expect(relayRegion(code), code).toBeDefined();
    for (const [continent, code] of Object.entries(CONTINENT_ANCHOR_REGIONS)) {
      if (continent !== 'AN') expect(relayRegion(code)!.continent).toBe(continent);
    }
  });

  it('an unknown client is ranked from the default anchor (iad)', () => {
    expect(chosen(select(WORLD, { client: UNKNOWN }))).toBe('iad-1');
    const europe = [relay('fra-1', 'fra'), relay('lhr-1', 'lhr'), relay('waw-1', 'waw')];
    expect(chosen(select(europe, { client: UNKNOWN }))).toBe('lhr-1');
  });

  it('regions outside the table (no position) come after every region with one, then by code', () => {
    const relays = [relay('dev-1', 'local'), relay('zzz-1', 'zzz'), relay('syd-1', 'syd')];
    expect(chosen(select(relays, { client: BERLIN }))).toBe('syd-1');
    expect(chosen(select([relay('zzz-1', 'zzz'), relay('dev-1', 'local')], { client: BERLIN }))).toBe('dev-1');
    expect(chosen(select([relay('dev-1', 'local')], { client: UNKNOWN }))).toBe('dev-1');
  });
});

describe('selectRelay: load within the region', () => {
  it('fewest sessions, then fewest channels, then smallest id', () => {
    const relays = [
      relay('fra-c', 'fra', { load: { sessions: 10, channels: 1 } }),
      relay('fra-b', 'fra', { load: { sessions: 5, channels: 4 } }),
      relay('fra-a', 'fra', { load: { sessions: 5, channels: 4 } }),
      relay('fra-d', 'fra', { load: { sessions: 5, channels: 2 } }),
    ];
    expect(chosen(select(relays, { client: at('fra') }))).toBe('fra-d');
    expect(chosen(select(relays.slice(0, 3), { client: at('fra') }))).toBe('fra-a');
    expect(chosen(select(relays.slice(0, 1), { client: at('fra') }))).toBe('fra-c');
  });

  it('a lightly loaded relay further away does not beat the nearest region', () => {
    const relays = [relay('fra-1', 'fra', { load: { sessions: 900, channels: 100 } }), relay('iad-1', 'iad')];
    expect(chosen(select(relays, { client: at('fra') }))).toBe('fra-1');
  });

  it('the answer does not depend on the order of the directory', () => {
    const relays = [
      relay('fra-2', 'fra', { load: { sessions: 3, channels: 1 } }),
      relay('fra-1', 'fra', { load: { sessions: 3, channels: 1 } }),
      relay('ams-1', 'ams'),
      relay('cdg-1', 'cdg', draining),
    ];
    fc.assert(
      fc.property(fc.shuffledSubarray(relays, { minLength: relays.length, maxLength: relays.length }), (shuffled) => {
        expect(chosen(select(shuffled, { client: at('fra') }))).toBe('fra-1');
      }),
    );
  });

  it('compareRelayLoad orders by code units, not locale', () => {
    const a = relay('Z', 'fra');
    const b = relay('a', 'fra');
    expect(compareRelayLoad(a, b)).toBeLessThan(0);
    expect(compareRelayLoad(a, a)).toBe(0);
  });
});

describe('selectRelay: pinned region', () => {
  it('a pinned channel gets a relay in its region even when another is nearer', () => {
    expect(select(WORLD, { client: BERLIN, pinnedRegion: 'syd' })).toMatchObject({ ok: true, region: 'syd', basis: 'pinned', relay: { relayId: 'syd-1' } });
  });

  it('a pin is strict: no healthy relay in the region is a refusal, not a fallback', () => {
    const relays = [relay('syd-1', 'syd', dead), relay('syd-2', 'syd', draining), ...WORLD.filter((r) => r.region !== 'syd')];
    expect(select(relays, { client: BERLIN, pinnedRegion: 'syd' })).toEqual({ ok: false, reason: 'pinned-region-unavailable' });
    expect(select(WORLD, { client: BERLIN, pinnedRegion: 'nrt' })).toEqual({ ok: false, reason: 'pinned-region-unavailable' });
  });

  it('the pin wins over the sticky region, and picks by load inside it', () => {
    const relays = [...WORLD, relay('syd-2', 'syd', { load: { sessions: 0, channels: 0 } }), relay('syd-3', 'syd', { load: { sessions: 1, channels: 0 } })];
    const result = select(relays, { client: BERLIN, pinnedRegion: 'syd', stickyRegion: 'fra' });
    expect(result).toMatchObject({ ok: true, basis: 'pinned', relay: { relayId: 'syd-1' } });
  });

  it('a pin to a region outside the table (e.g. "local") works by its code', () => {
    expect(chosen(select([relay('dev-1', 'local'), ...WORLD], { client: BERLIN, pinnedRegion: 'local' }))).toBe('dev-1');
  });
});

describe('selectRelay: sticky region', () => {
  it('the sticky region wins over the joining client\'s location while it has a healthy relay', () => {
    expect(select(WORLD, { client: TOKYO, stickyRegion: 'fra' })).toMatchObject({ ok: true, region: 'fra', basis: 'sticky' });
  });

  it('when the sticky region has no healthy relay, the region nearest the sticky one, not the client', () => {
    const relays = WORLD.map((r) => (r.region === 'fra' ? { ...r, ...dead } : r));
    expect(select(relays, { client: TOKYO, stickyRegion: 'fra' })).toMatchObject({ ok: true, region: 'ams', basis: 'nearest' });
  });

  it('a sticky region outside the table with no relay left falls back to the client', () => {
    expect(select(WORLD, { client: TOKYO, stickyRegion: 'local' })).toMatchObject({ ok: true, region: 'sin', basis: 'nearest' });
  });

  it('no healthy relay anywhere, sticky or not: a typed refusal', () => {
    expect(select([relay('fra-1', 'fra', dead)], { client: TOKYO, stickyRegion: 'fra' })).toEqual({ ok: false, reason: 'no-healthy-relay' });
  });
});

describe('rankRegions', () => {
  it('orders by great-circle distance, ties by code, positionless last', () => {
    const origin = relayRegion('fra')!;
    expect(rankRegions(['syd', 'local', 'ams', 'fra', 'iad', 'ams', 'aaa'], origin)).toEqual(['fra', 'ams', 'iad', 'syd', 'aaa', 'local']);
    const sameSpot = rankRegions(['gig', 'fra'], { latitude: 0, longitude: 0 });
    expect(sameSpot).toHaveLength(2);
  });

  it('agrees with distanceKm for every region of the table', () => {
    const origin = { latitude: 48.2, longitude: 16.37 };
    const ranked = rankRegions(
      RELAY_REGIONS.map((r) => r.code),
      origin,
    );
    const distances = ranked.map((code) => {
      const r = relayRegion(code)!;
      return distanceKm(origin.latitude, origin.longitude, r.latitude, r.longitude);
    });
    expect([...distances].sort((a, b) => a - b)).toEqual(distances);
  });
});

describe('clientLocationFrom(request.cf)', () => {
  it('reads Cloudflare\'s decimal-string coordinates', () => {
    expect(clientLocationFrom({ latitude: '52.52000', longitude: '13.40500', continent: 'EU', country: 'DE' })).toEqual({ kind: 'coordinates', latitude: 52.52, longitude: 13.405 });
    expect(clientLocationFrom({ latitude: -33.87, longitude: 151.21 })).toEqual({ kind: 'coordinates', latitude: -33.87, longitude: 151.21 });
  });

  it('falls back to the continent when coordinates are missing or unusable', () => {
    for (const bad of [{}, { latitude: '91', longitude: '0' }, { latitude: '10', longitude: '181' }, { latitude: 'north', longitude: '1' }, { latitude: '1e2', longitude: '1' }, { latitude: '10' }, { latitude: Number.NaN, longitude: 1 }, { latitude: '', longitude: '' }]) {
      expect(clientLocationFrom({ ...bad, continent: 'AS' }), JSON.stringify(bad)).toEqual({ kind: 'continent', continent: 'AS' });
    }
  });

  it('is unknown without cf, for Tor ("T1") and for anything unexpected', () => {
    for (const cf of [undefined, null, 'EU', 42, [], { continent: 'T1' }, { continent: 'eu' }, { continent: 7 }, { latitude: {}, longitude: [] }]) {
      expect(clientLocationFrom(cf), JSON.stringify(cf)).toEqual({ kind: 'unknown' });
    }
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything(), (cf) => {
        const location = clientLocationFrom(cf);
        expect(['coordinates', 'continent', 'unknown']).toContain(location.kind);
      }),
    );
  });

  it('wrangler dev\'s placeholder (Austin, Texas) selects by those coordinates', () => {
    const placeholder = { colo: 'DFW', city: 'Austin', continent: 'NA', country: 'US', latitude: '30.27130', longitude: '-97.74260' };
    expect(chosen(select(WORLD, { client: clientLocationFrom(placeholder) }))).toBe('iad-1');
    expect(chosen(select([...WORLD, relay('dfw-1', 'dfw')], { client: clientLocationFrom(placeholder) }))).toBe('dfw-1');
  });
});
