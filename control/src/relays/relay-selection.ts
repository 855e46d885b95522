/**
 * Which relay a channel's voice goes to (docs/protocol.md §4.7, docs/deploying-relays.md).
 *
 * All of a channel's sessions must sit on one relay (a speaker's packets are re-encrypted for
 * every listener inside one relay worker), so a relay is chosen when a channel needs one: when
 * its first member joins, or when its relay died or started draining. The channel's room keeps
 * the choice; this function only chooses.
 *
 * 1. Only healthy relays count: never a draining relay, never a dead one (relay-status.ts).
 * 2. A channel pinned to a region gets a relay in that region or none at all: a pin is a
 *    requirement (data residency, say), not a preference.
 * 3. Otherwise the channel's sticky region, if it has one, wins while it has a healthy relay:
 *    the region chosen when the first member joined stays while the channel has members, so
 *    the people already talking stay close to their relay.
 * 4. Otherwise the region nearest an origin: the sticky region's own position when the sticky
 *    region has no healthy relay left (the members are near it), else the joining client's
 *    position (clientLocationFrom: coordinates, else its continent's anchor region, else the
 *    default anchor). Regions outside relays/regions.ts (e.g. "local" in development) have no
 *    position and come after every region that has one.
 * 5. In the chosen region, the least loaded relay: fewest sessions, then fewest channels, then
 *    the smallest relay id, so equal inputs always give the same answer.
 *
 * Pure: the directory, the clock and the client's location are parameters.
 */
import { distanceKm, relayRegion, type Continent } from './regions.js';
import { isRelayHealthy, type RelayDirectoryEntry } from './relay-status.js';

export type ClientLocation =
  | { readonly kind: 'coordinates'; readonly latitude: number; readonly longitude: number }
  | { readonly kind: 'continent'; readonly continent: Continent }
  | { readonly kind: 'unknown' };

/** What selection reads of a directory entry. */
export type RelayCandidate = Pick<RelayDirectoryEntry, 'relayId' | 'region' | 'load' | 'draining' | 'lastSeenAt'>;

export interface RelaySelectionInput<T extends RelayCandidate> {
  readonly relays: readonly T[];
  /** ms since the Unix epoch. */
  readonly now: number;
  /** A relay not heard from for longer than this is dead (config.relays.deadAfterMs). */
  readonly deadAfterMs: number;
  /** The channel's pinned region (channels.region), or null. */
  readonly pinnedRegion?: string | null;
  /** The region chosen when the channel's first member joined, while it has members; or null. */
  readonly stickyRegion?: string | null;
  /** Where the joining client is (clientLocationFrom(request.cf)). */
  readonly client: ClientLocation;
}

/** How the region was decided. */
export type SelectionBasis = 'pinned' | 'sticky' | 'nearest';

export type RelaySelection<T extends RelayCandidate> =
  | { readonly ok: true; readonly relay: T; readonly region: string; readonly basis: SelectionBasis }
  /** Routes answer 503 no_relay_available. */
  | { readonly ok: false; readonly reason: 'pinned-region-unavailable' | 'no-healthy-relay' };

/**
 * Each continent's anchor: the region a client is assumed to be nearest when Cloudflare knows
 * its continent but not its coordinates. Regions are then ranked by distance from the anchor.
 */
export const CONTINENT_ANCHOR_REGIONS: Readonly<Record<Continent, string>> = {
  AF: 'jnb',
  AN: 'scl',
  AS: 'sin',
  EU: 'fra',
  NA: 'ord',
  OC: 'syd',
  SA: 'gru',
};

/**
 * The anchor when nothing is known about the client (no `request.cf`, or a Tor exit): Ashburn,
 * Virginia, between Europe and North America, where most of the Internet's transit meets.
 */
export const DEFAULT_ANCHOR_REGION = 'iad';

interface Point {
  readonly latitude: number;
  readonly longitude: number;
}

function regionPoint(code: string): Point | undefined {
  const region = relayRegion(code);
  return region === undefined ? undefined : { latitude: region.latitude, longitude: region.longitude };
}

/** The client's position, or its continent's anchor, or the default anchor. */
export function originOf(client: ClientLocation): Point {
  if (client.kind === 'coordinates') return { latitude: client.latitude, longitude: client.longitude };
  const anchor = client.kind === 'continent' ? CONTINENT_ANCHOR_REGIONS[client.continent] : DEFAULT_ANCHOR_REGION;
  return regionPoint(anchor)!;
}

/** Fewest sessions, then fewest channels, then the smallest id (code-unit order, not locale). */
export function compareRelayLoad(a: RelayCandidate, b: RelayCandidate): number {
  if (a.load.sessions !== b.load.sessions) return a.load.sessions - b.load.sessions;
  if (a.load.channels !== b.load.channels) return a.load.channels - b.load.channels;
  return a.relayId < b.relayId ? -1 : a.relayId > b.relayId ? 1 : 0;
}

function leastLoaded<T extends RelayCandidate>(relays: readonly T[]): T {
  return [...relays].sort(compareRelayLoad)[0]!;
}

/**
 * Region codes ordered nearest first from `origin`: regions with a position by great-circle
 * distance (ties by code), then regions without one, by code.
 */
export function rankRegions(codes: Iterable<string>, origin: Point): string[] {
  const ranked = [...new Set(codes)].map((code) => {
    const point = regionPoint(code);
    return { code, distance: point === undefined ? Infinity : distanceKm(origin.latitude, origin.longitude, point.latitude, point.longitude) };
  });
  ranked.sort((a, b) => (a.distance !== b.distance ? a.distance - b.distance : a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  return ranked.map((r) => r.code);
}

/** Chooses the relay for a channel (module comment). */
export function selectRelay<T extends RelayCandidate>(input: RelaySelectionInput<T>): RelaySelection<T> {
  const healthy = input.relays.filter((relay) => isRelayHealthy(relay, input.now, input.deadAfterMs));
  const inRegion = (region: string) => healthy.filter((relay) => relay.region === region);

  const pinned = input.pinnedRegion ?? null;
  if (pinned !== null) {
    const candidates = inRegion(pinned);
    if (candidates.length === 0) return { ok: false, reason: 'pinned-region-unavailable' };
    return { ok: true, relay: leastLoaded(candidates), region: pinned, basis: 'pinned' };
  }

  const sticky = input.stickyRegion ?? null;
  if (sticky !== null) {
    const candidates = inRegion(sticky);
    if (candidates.length > 0) return { ok: true, relay: leastLoaded(candidates), region: sticky, basis: 'sticky' };
  }

  if (healthy.length === 0) return { ok: false, reason: 'no-healthy-relay' };
  const origin = (sticky === null ? undefined : regionPoint(sticky)) ?? originOf(input.client);
  const region = rankRegions(
    healthy.map((relay) => relay.region),
    origin,
  )[0]!;
  return { ok: true, relay: leastLoaded(inRegion(region)), region, basis: 'nearest' };
}

const CONTINENTS: ReadonlySet<string> = new Set<Continent>(['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA']);
/** Cloudflare sends coordinates as decimal strings, e.g. "30.27130". */
const DECIMAL = /^-?\d{1,3}(\.\d{1,10})?$/;

function coordinate(value: unknown, limit: number): number | undefined {
  let number: number;
  if (typeof value === 'number') number = value;
  else if (typeof value === 'string' && DECIMAL.test(value)) number = Number(value);
  else return undefined;
  return Number.isFinite(number) && Math.abs(number) <= limit ? number : undefined;
}

/**
 * Where a client is, from Cloudflare's `request.cf` (IncomingRequestCfProperties): its
 * `latitude` and `longitude`, else its `continent`, else unknown. Reads defensively: `cf` is
 * absent outside Cloudflare, a fixed placeholder under wrangler dev and vitest (Austin, Texas,
 * for every client), and "T1" is Cloudflare's continent for Tor. Tests pass a location instead.
 */
export function clientLocationFrom(cf: unknown): ClientLocation {
  if (typeof cf !== 'object' || cf === null) return { kind: 'unknown' };
  const fields = cf as { latitude?: unknown; longitude?: unknown; continent?: unknown };
  const latitude = coordinate(fields.latitude, 90);
  const longitude = coordinate(fields.longitude, 180);
  if (latitude !== undefined && longitude !== undefined) return { kind: 'coordinates', latitude, longitude };
  if (typeof fields.continent === 'string' && CONTINENTS.has(fields.continent)) {
    return { kind: 'continent', continent: fields.continent as Continent };
  }
  return { kind: 'unknown' };
}
