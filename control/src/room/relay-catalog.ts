/**
 * The relays a room can put voice on: the directory's entries (the `relays` table, written by
 * registrations and heartbeats, docs/protocol.md §8.6) that announced where their internal API
 * is, and the choice of one for a channel.
 *
 * The room reads the directory through the `RelayCatalog` interface, so tests and the local
 * stack can hand it the relays they run; which relay a channel gets is the directory's
 * selection rule (relays/relay-selection.ts), applied here.
 */
import { isNotNull } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { relays } from '../db/schema.js';
import { selectRelay, type ClientLocation } from '../relays/relay-selection.js';
import { isRelayHealthy } from '../relays/relay-status.js';
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
        bootId: row.bootId,
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
  /** The region the channel's voice used last, preferred while it has a healthy relay. */
  readonly stickyRegion: string | null;
  /** Where the joining client is (clientLocationFrom(request.cf) at the upgrade). */
  readonly client: ClientLocation;
}

/**
 * The relay for a channel that has none: the directory's selection (relays/relay-selection.ts:
 * healthy only; the pinned region or nothing; the sticky region; the region nearest the
 * client; the least loaded there).
 */
export function chooseRelay(input: RelayChoiceInput): RelayRoute | null {
  const selection = selectRelay(input);
  return selection.ok ? selection.relay : null;
}

/** The directory's current entry for `relay` if the room may keep using it: same run (boot id), healthy. */
export function isRelayUsable(relay: RelayRef, routes: readonly RelayRoute[], now: number, deadAfterMs: number): RelayRoute | null {
  const current = routes.find((r) => r.relayId === relay.relayId);
  if (current === undefined || current.bootId !== relay.bootId || !isRelayHealthy(current, now, deadAfterMs)) return null;
  return current;
}
