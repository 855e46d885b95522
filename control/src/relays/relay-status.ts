/**
 * What the control plane knows about one relay (the `relays` table, docs/protocol.md §4.7) and
 * whether it can take sessions.
 *
 * A relay's status is computed when it is read, from its last heartbeat: Workers have no
 * background loop that could mark a relay dead when its heartbeats stop, and none is needed,
 * since every reader (the admin listing, relay selection) compares `lastSeenAt` with its own
 * clock. Dead wins over draining: a silent relay is dead whatever it last said.
 */

export type RelayStatus = 'alive' | 'draining' | 'dead';

export interface RelayEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface RelayDirectoryEntry {
  readonly relayId: string;
  /** A region code: one of relays/regions.ts, or any other id the relay reports (e.g. "local"). */
  readonly region: string;
  /** Where the control plane reaches the relay's internal API, as last announced (§8.6); null for a row written before relays announced one. */
  readonly apiUrl: string | null;
  /** base64url of the relay's X25519 public key (checked against §3.3 when stored). */
  readonly publicKey: string;
  /** The relay's current run, from its last registration or heartbeat: seals must name it (§8.4). */
  readonly bootId: string;
  /** Worker i's public UDP endpoint at index i. */
  readonly udpEndpoints: readonly RelayEndpoint[];
  readonly load: { readonly sessions: number; readonly channels: number };
  readonly draining: boolean;
  /** The control key id the relay last signed with. */
  readonly controlKeyId: string;
  /** ms since the Unix epoch, the control plane's clock. */
  readonly registeredAt: number;
  readonly lastSeenAt: number;
}

/** The status of a relay at `now`: dead once its last heartbeat is more than `deadAfterMs` old. */
export function relayStatus(entry: Pick<RelayDirectoryEntry, 'draining' | 'lastSeenAt'>, now: number, deadAfterMs: number): RelayStatus {
  if (now - entry.lastSeenAt > deadAfterMs) return 'dead';
  return entry.draining ? 'draining' : 'alive';
}

/** Whether new sessions may go to the relay: alive, neither draining nor dead. */
export function isRelayHealthy(entry: Pick<RelayDirectoryEntry, 'draining' | 'lastSeenAt'>, now: number, deadAfterMs: number): boolean {
  return relayStatus(entry, now, deadAfterMs) === 'alive';
}
