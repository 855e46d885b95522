/**
 * When a room moves its sessions off their relay, and where to (docs/protocol.md §5.9). Pure:
 * the room gathers the facts (a probe's answer, the directory's entries, the clock) and acts on
 * what these functions decide.
 *
 * Three ways a room learns its relay is no good, fastest first:
 *
 * - a member's `relay_unreachable` (its keepalives got no pong for 2 s, §6.2). One client's word
 *   moves nothing: the room probes the relay itself (relay-sessions.ts `probe`, 1 s timeout) and
 *   moves only on what the probe shows, and it probes one relay run at most once per
 *   `PROBE_MIN_INTERVAL_MS`, so a client cannot make it hammer a relay either;
 * - the relay's heartbeat, forwarded by the directory (relay-reports.ts): `lostSessions`, a
 *   draining relay, a registration with a new boot id (the relay restarted);
 * - the room's periodic check (room-alarm.ts, every 30 s while it has sessions) reading the
 *   directory: a relay whose heartbeats stopped for RELAY_DEAD_AFTER_SECONDS, draining, or on a
 *   new boot id.
 */
import { isRelayHealthy } from '../relays/relay-status.js';
import type { ClientLocation } from '../relays/relay-selection.js';
import { chooseRelay, isRelayUsable, type RelayRoute } from './relay-catalog.js';
import type { MoveReason } from './room-messages.js';
import type { RelayRef } from './room-state.js';
import type { RelayProbe } from './relay-sessions.js';

/** One probe of a relay run per this interval, whoever reports it (§5.9). */
export const PROBE_MIN_INTERVAL_MS = 2_000;

/** A relay run: the relay id and the boot id its keys were sealed for. */
export type RelayRun = Pick<RelayRef, 'relayId' | 'bootId'>;

export function sameRun(a: RelayRun, b: RelayRun): boolean {
  return a.relayId === b.relayId && a.bootId === b.bootId;
}

export interface MoveVerdict {
  readonly reason: MoveReason;
  /** The sessions to move; all of the room's sessions on the relay run unless the relay lost only some. */
  readonly sessionIds: readonly string[];
}

/**
 * What a probe says about the room's sessions on that relay run: no answer (or 5xx) moves them
 * all (`relay_failed`); a draining relay moves them all (`relay_draining`); a relay that answers
 * without some of them lost those (`relay_lost_session`: a worker failed, or the relay restarted
 * and this is its new run answering). Null when the relay holds them all: the reporting client's
 * own path is what failed, and moving the channel would not help it.
 */
export function probeVerdict(probe: RelayProbe, sessionIds: readonly string[]): MoveVerdict | null {
  if (sessionIds.length === 0) return null;
  if (probe.kind === 'unreachable') return { reason: 'relay_failed', sessionIds };
  if (probe.draining) return { reason: 'relay_draining', sessionIds };
  if (probe.sessionIds === null) return null;
  const lost = sessionIds.filter((id) => !probe.sessionIds!.has(id));
  return lost.length === 0 ? null : { reason: 'relay_lost_session', sessionIds: lost };
}

/**
 * What the directory says about a relay run: gone from it, on another boot id (it restarted:
 * every session of the old run is gone), or silent past `deadAfterMs` is `relay_failed`;
 * draining is `relay_draining`; null while it is healthy.
 */
export function directoryVerdict(run: RelayRun, routes: readonly RelayRoute[], now: number, deadAfterMs: number): MoveReason | null {
  const entry = routes.find((r) => r.relayId === run.relayId);
  if (entry === undefined || entry.bootId !== run.bootId) return 'relay_failed';
  if (isRelayHealthy(entry, now, deadAfterMs)) return null;
  return now - entry.lastSeenAt > deadAfterMs ? 'relay_failed' : 'relay_draining';
}

export interface MoveTargetInput {
  readonly routes: readonly RelayRoute[];
  readonly from: RelayRef;
  readonly reason: MoveReason;
  readonly now: number;
  readonly deadAfterMs: number;
  readonly pinnedRegion: string | null;
  readonly client: ClientLocation;
}

/**
 * Where moved sessions go. A lost session goes back to its own relay run while that is healthy
 * (the rest of the channel is still there); otherwise the directory's choice among the healthy
 * relays, never the run being left (a SIGKILLed relay still looks alive in the directory until
 * its heartbeats are overdue), preferring the region the channel was in. A relay that restarted
 * is a new run and may be chosen: keys are sealed for the boot id the directory has now.
 */
export function chooseMoveTarget(input: MoveTargetInput): RelayRef | null {
  if (input.reason === 'relay_lost_session') {
    const same = isRelayUsable(input.from, input.routes, input.now, input.deadAfterMs);
    if (same !== null) return refOf(same);
  }
  const others = input.routes.filter((r) => !sameRun(r, input.from));
  const chosen = chooseRelay({ relays: others, now: input.now, deadAfterMs: input.deadAfterMs, pinnedRegion: input.pinnedRegion, stickyRegion: input.from.region, client: input.client });
  return chosen === null ? null : refOf(chosen);
}

function refOf(route: RelayRoute): RelayRef {
  return { relayId: route.relayId, bootId: route.bootId, apiUrl: route.apiUrl, publicKey: route.publicKey, region: route.region };
}

/** At most one probe per relay run per PROBE_MIN_INTERVAL_MS. In memory: a room that wakes may probe once more, which is harmless. */
export class ProbeLimiter {
  readonly #lastAt = new Map<string, number>();

  admit(run: RelayRun, now: number): boolean {
    const key = `${run.relayId}\n${run.bootId}`;
    const last = this.#lastAt.get(key);
    if (last !== undefined && now - last < PROBE_MIN_INTERVAL_MS) return false;
    this.#lastAt.set(key, now);
    return true;
  }
}
