/**
 * What a relay's heartbeat asks of the voice rooms (docs/protocol.md §8.6): its `rekeyRequested`
 * sessions reached the soft key-usage limit (§2.8), so their rooms must rotate them (§5.8).
 *
 * A relay names sessions, not channels; the rooms' SSRC table (voice_ssrcs, written by every
 * room when it gives a session an SSRC on a relay run) maps a live session on that relay run to
 * its channel, and so to its room. Only rows not yet released count: a session that ended, or
 * one on an earlier run of the relay, asks nothing of anyone.
 */
import { and, eq, inArray, isNull } from 'drizzle-orm';
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
