/**
 * Reaching channel rooms from the HTTP side: the Durable Object of a channel is
 * `idFromName(channelId)` in the CHANNEL_ROOM namespace. Used when something outside a room
 * changes what its sockets may do: logins ended, a channel deleted, a ban.
 */
import type { ControlBindings } from '../bindings.js';
import type { RequestLog } from '../http/request-log.js';
import type { Database } from '../db/client.js';
import { closeLoginSockets, type RoomDirectory } from './login-sockets.js';

export function channelRoom(env: Pick<ControlBindings, 'CHANNEL_ROOM'>, channelId: string) {
  return env.CHANNEL_ROOM.get(env.CHANNEL_ROOM.idFromName(channelId));
}

export function channelRooms(env: Pick<ControlBindings, 'CHANNEL_ROOM'>): RoomDirectory {
  return { room: (channelId) => channelRoom(env, channelId) };
}

/**
 * Closes the sockets of logins that just ended (docs/protocol.md §5.4, 4003). The logins are
 * ended in the database already, whatever happens here: a room that cannot be reached is logged,
 * and its sockets are refused the next time they authenticate.
 */
export async function closeEndedLoginSockets(env: Pick<ControlBindings, 'CHANNEL_ROOM'>, db: Database, log: RequestLog, loginIds: readonly string[]): Promise<void> {
  if (loginIds.length === 0) return;
  try {
    const closed = await closeLoginSockets(db, channelRooms(env), loginIds);
    if (closed > 0) log.write('info', 'voice_sockets_closed', { endedSessionIds: [...loginIds], sockets: closed });
  } catch (error) {
    log.write('error', 'voice_fanout_failed', { error: error instanceof Error ? error.name : 'unknown' });
  }
}
