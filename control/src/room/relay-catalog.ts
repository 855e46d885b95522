/**
 * The relays a room can put voice on: the directory's entries (the `relays` table, written by
 * registrations and heartbeats, docs/protocol.md §8.6) that announced where their internal API
 * is, and the choice of one for a channel.
 *
 * The room reads the directory through the `RelayCatalog` interface, so tests and the local
 * stack can hand it the relays they run.
 */
import { isNotNull } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { relays } from '../db/schema.js';
import type { RelayRef, UdpEndpoint } from './room-state.js';

export interface RelayRoute extends RelayRef {
  readonly udpEndpoints: readonly UdpEndpoint[];
  readonly load: { readonly sessions: number; readonly channels: number };
  readonly draining: boolean;
  /** ms; the control plane's clock at the relay's last registration or heartbeat. */
  readonly lastSeenAt: number;
}

export interface RelayCatalog {
  listRelays(): Promise<RelayRoute[]>;
}

/** The directory in the database: relays that announced an API URL. */
export function databaseRelayCatalog(db: Database): RelayCatalog {
  return {
    async listRelays() {
      const rows = await db.select().from(relays).where(isNotNull(relays.apiUrl)).orderBy(relays.region, relays.id);
      return rows.map((row) => ({
        relayId: row.id,
        bootId: row.bootId ?? '',
        apiUrl: row.apiUrl!,
        publicKey: row.publicKey,
        region: row.region,
        udpEndpoints: row.udpEndpoints,
        load: { sessions: row.sessions, channels: row.channels },
        draining: row.draining,
        lastSeenAt: row.lastSeenAt,
      }));
    },
  };
}

export interface RelayChoiceInput {
  readonly relays: readonly RelayRoute[];
  readonly now: number;
  readonly deadAfterMs: number;
  /** The channel's pinned region: a requirement. */
  readonly pinnedRegion: string | null;
  /** The region the channel's voice is on now, preferred while it has a healthy relay. */
  readonly stickyRegion: string | null;
}

function isHealthy(relay: RelayRoute, now: number, deadAfterMs: number): boolean {
  return !relay.draining && now - relay.lastSeenAt <= deadAfterMs;
}

function leastLoaded(candidates: readonly RelayRoute[]): RelayRoute | null {
  const sorted = [...candidates].sort(
    (a, b) => a.load.sessions - b.load.sessions || a.load.channels - b.load.channels || (a.relayId < b.relayId ? -1 : a.relayId > b.relayId ? 1 : 0),
  );
  return sorted[0] ?? null;
}

/**
 * The relay for a channel that has none (or whose relay went away): healthy relays only; in the
 * pinned region if there is one (or none at all); else in the sticky region while it has one;
 * else the least loaded anywhere.
 */
export function chooseRelay(input: RelayChoiceInput): RelayRoute | null {
  const healthy = input.relays.filter((r) => isHealthy(r, input.now, input.deadAfterMs));
  if (input.pinnedRegion !== null) return leastLoaded(healthy.filter((r) => r.region === input.pinnedRegion));
  if (input.stickyRegion !== null) {
    const sticky = leastLoaded(healthy.filter((r) => r.region === input.stickyRegion));
    if (sticky !== null) return sticky;
  }
  return leastLoaded(healthy);
}

/** Whether the room may keep using `relay`: still registered in the same run, healthy. */
export function isRelayUsable(relay: RelayRef, routes: readonly RelayRoute[], now: number, deadAfterMs: number): RelayRoute | null {
  const current = routes.find((r) => r.relayId === relay.relayId);
  if (current === undefined || current.bootId !== relay.bootId || !isHealthy(current, now, deadAfterMs)) return null;
  return current;
}
