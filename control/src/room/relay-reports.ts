/**
 * What a relay's heartbeat asks of the voice rooms (docs/protocol.md §8.6): its `rekeyRequested`
 * sessions reached the soft key-usage limit (§2.8), so their rooms must rotate them (§5.8); its
 * `lostSessions` are gone (a worker failed), a draining relay must be left, and a registration
 * with a new boot id means every session of its earlier runs is gone: their rooms move them
 * (§5.9).
 *
 * A relay names sessions, not channels; the rooms' SSRC table (voice_ssrcs, written by every
 * room when it gives a session an SSRC on a relay run) maps a live session on that relay run to
 * its channel, and so to its room. Only rows not yet released count: a session that ended, or
 * one on an earlier run of the relay, asks nothing of anyone.
 */
import { and, eq, inArray, isNull, ne } from 'drizzle-orm';
import type { ControlBindings } from '../bindings.js';
import type { Database } from '../db/client.js';
import { voiceSsrcs } from '../db/schema.js';
import type { RequestLog } from '../http/request-log.js';
import { channelRoom } from './channel-rooms.js';

/** The channels of the relay run's live sessions among `sessionIds`: channel id → its session ids. */
export async function channelsOfRelaySessions(db: Database, relayId: string, bootId: string, sessionIds: readonly string[]): Promise<Map<string, string[]>> {
  const byChannel = new Map<string, string[]>();
  if (sessionIds.length === 0) return byChannel;
  const rows = await db
    .selectDistinct({ sessionId: voiceSsrcs.sessionId, channelId: voiceSsrcs.channelId })
    .from(voiceSsrcs)
    .where(and(eq(voiceSsrcs.relayId, relayId), eq(voiceSsrcs.bootId, bootId), inArray(voiceSsrcs.sessionId, [...sessionIds]), isNull(voiceSsrcs.releasedAt)));
  for (const row of rows) {
    const ids = byChannel.get(row.channelId) ?? [];
    if (!ids.includes(row.sessionId)) ids.push(row.sessionId);
    byChannel.set(row.channelId, ids);
  }
  return byChannel;
}

/**
 * Tells each room with a session in `rekeyRequested` to rotate it. Never throws: the relay lists
 * the session in every heartbeat until it is rotated, so a room not reached now is asked again
 * at the next one. Returns how many sessions were asked to rotate now.
 */
export async function forwardRekeyRequests(
  env: Pick<ControlBindings, 'CHANNEL_ROOM'>,
  db: Database,
  log: RequestLog,
  relay: { readonly relayId: string; readonly bootId: string; readonly rekeyRequested: readonly string[] },
): Promise<number> {
  if (relay.rekeyRequested.length === 0) return 0;
  let byChannel: Map<string, string[]>;
  try {
    byChannel = await channelsOfRelaySessions(db, relay.relayId, relay.bootId, relay.rekeyRequested);
  } catch (error) {
    log.write('error', 'relay_rekey_lookup_failed', { relayId: relay.relayId, error: error instanceof Error ? error.name : 'unknown' });
    return 0;
  }
  const results = await Promise.allSettled([...byChannel].map(([channelId, ids]) => channelRoom(env, channelId).relayRequestedRekey(relay.relayId, relay.bootId, ids)));
  let asked = 0;
  for (const result of results) {
    if (result.status === 'fulfilled') asked += result.value;
    else log.write('error', 'relay_rekey_forward_failed', { relayId: relay.relayId, error: result.reason instanceof Error ? result.reason.name : 'unknown' });
  }
  if (asked > 0) log.write('info', 'relay_rekey_forwarded', { relayId: relay.relayId, sessions: asked, channels: byChannel.size });
  return asked;
}

type RoomStub = ReturnType<typeof channelRoom>;

/** Calls `call` on each channel's room; counts what they return, logs (never throws) what fails. */
async function tellRooms(
  env: Pick<ControlBindings, 'CHANNEL_ROOM'>,
  log: RequestLog,
  relayId: string,
  event: string,
  calls: ReadonlyArray<readonly [channelId: string, call: (room: RoomStub) => Promise<number>]>,
): Promise<number> {
  const ids = new Set(calls.map(([channelId]) => channelId));
  const results = await Promise.allSettled(calls.map(([channelId, call]) => call(channelRoom(env, channelId))));
  let moved = 0;
  for (const result of results) {
    if (result.status === 'fulfilled') moved += result.value;
    else log.write('error', `${event}_forward_failed`, { relayId, error: result.reason instanceof Error ? result.reason.name : 'unknown' });
  }
  if (moved > 0) log.write('info', `${event}_forwarded`, { relayId, sessions: moved, channels: ids.size });
  return moved;
}

/**
 * The moves a relay's announcement calls for (§5.9), each room told by RPC: its `lostSessions`
 * (their rooms re-key them), a draining relay (every room with live sessions on this run moves
 * them), and at a registration, live sessions of earlier runs of the relay (it restarted: they
 * are gone). Never throws: lost sessions are listed until a body carrying them was answered, so
 * a failure here loses that report, and the rooms' own checks (a client's relay_unreachable,
 * the periodic directory check) still find the relay. Returns how many sessions were moved.
 */
export async function forwardRelayMoves(
  env: Pick<ControlBindings, 'CHANNEL_ROOM'>,
  db: Database,
  log: RequestLog,
  kind: 'register' | 'heartbeat',
  relay: { readonly relayId: string; readonly bootId: string; readonly draining: boolean; readonly lostSessions: readonly string[] },
): Promise<number> {
  let moved = 0;
  try {
    if (relay.lostSessions.length > 0) {
      const byChannel = await channelsOfRelaySessions(db, relay.relayId, relay.bootId, relay.lostSessions);
      const calls = [...byChannel].map(([channelId, ids]) => [channelId, (room: RoomStub) => room.relayLostSessions(relay.relayId, relay.bootId, ids)] as const);
      moved += await tellRooms(env, log, relay.relayId, 'relay_lost_sessions', calls);
    }
    if (relay.draining) {
      const rows = await db
        .selectDistinct({ channelId: voiceSsrcs.channelId })
        .from(voiceSsrcs)
        .where(and(eq(voiceSsrcs.relayId, relay.relayId), eq(voiceSsrcs.bootId, relay.bootId), isNull(voiceSsrcs.releasedAt)));
      const calls = rows.map((r) => [r.channelId, (room: RoomStub) => room.relayDraining(relay.relayId, relay.bootId)] as const);
      moved += await tellRooms(env, log, relay.relayId, 'relay_draining', calls);
    }
    if (kind === 'register') {
      const rows = await db
        .selectDistinct({ channelId: voiceSsrcs.channelId, bootId: voiceSsrcs.bootId })
        .from(voiceSsrcs)
        .where(and(eq(voiceSsrcs.relayId, relay.relayId), ne(voiceSsrcs.bootId, relay.bootId), isNull(voiceSsrcs.releasedAt)));
      const calls = rows.map((r) => [r.channelId, (room: RoomStub) => room.relayRestarted(relay.relayId, r.bootId)] as const);
      moved += await tellRooms(env, log, relay.relayId, 'relay_restarted', calls);
    }
  } catch (error) {
    log.write('error', 'relay_move_lookup_failed', { relayId: relay.relayId, error: error instanceof Error ? error.name : 'unknown' });
  }
  return moved;
}
