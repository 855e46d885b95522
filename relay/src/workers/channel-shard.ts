/**
 * Which relay worker holds a channel: FNV-1a (32-bit) of the channel id's UTF-8 bytes, modulo
 * the number of workers.
 *
 * Why a hash of the id, and this one:
 *   - every member of a channel must be on one worker (a speaker's packet is re-encrypted for the
 *     listeners in the same process), and the answer must not depend on arrival order, so the
 *     main thread needs no channel → worker table to keep, bound or clean up;
 *   - it is the same in every process and on every Node version (a JavaScript Map's hashing is
 *     not), so tests and tools can predict it;
 *   - plain modulo is enough: the worker count is fixed for the life of the process, and sessions
 *     do not survive a restart, so nothing is ever re-sharded. Consistent hashing would buy
 *     nothing here;
 *   - channel ids come from the control plane, not from clients, so nobody can aim many channels
 *     at one worker on purpose; FNV-1a spreads ordinary ids (uuids, "room-1"…) evenly.
 * Balance per channel, not per session: a few very large channels can still load one worker
 * more than another. The control plane sees the load per relay (§8.6) and spreads channels
 * across relays.
 */
const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const utf8 = new TextEncoder();

/** FNV-1a over the UTF-8 bytes of `text`, as an unsigned 32-bit integer. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of utf8.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/** The worker (0..workers-1) that holds `channelId`. */
export function workerForChannel(channelId: string, workers: number): number {
  if (!Number.isSafeInteger(workers) || workers < 1) throw new RangeError('channel-shard: workers must be a positive integer');
  return fnv1a32(channelId) % workers;
}
