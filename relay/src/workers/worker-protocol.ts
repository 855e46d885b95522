/**
 * Messages between the relay's main thread (worker-pool.ts) and its workers (worker-thread.ts).
 *
 * Requests carry an id and get exactly one reply with that id, in order (a MessagePort is FIFO).
 * Events (`session-ended`, `warning`) are the worker speaking on its own.
 *
 * Keys cross the thread boundary once, at install and rotation, packed by `packSessionKeys` into
 * a fresh ArrayBuffer that is *transferred*, not cloned: no serialised copy is left behind in
 * either thread, and the worker wipes the buffer once its SRTP contexts hold their derived keys.
 * Nothing else that crosses is secret: no API key, no private key, no sealed keys; and a worker
 * starts with an environment of its own that holds none of them (worker-pool.ts).
 */
import type { RelaySessionSummary } from '../../../shared/relay-api/messages.js';
import { SRTP_PROFILES, type SrtpProfileName } from '../../../shared/srtp/profiles.js';
import type { RouterOptions } from '../media/datagram-router.js';
import type { PacketStatsSnapshot } from '../media/packet-stats.js';
import type { SessionState } from '../media/session-directory.js';
import type { InstallRefusal, RegistryLimits, SessionEndReason } from '../media/session-registry.js';
import type { SessionKeyMaterial, SessionPatch, SessionPermissions } from '../media/session-spec.js';

/** `workerData` of a relay worker: its index and what it needs from the config, no secrets. */
export interface WorkerThreadInit {
  readonly index: number;
  readonly udp: { readonly host: string; readonly port: number };
  readonly registry: RegistryLimits;
  readonly router: RouterOptions;
  /** How often the worker checks expiry, idleness and rotation overlaps. */
  readonly sweepIntervalMs: number;
  readonly socketBufferBytes: number;
}

/** A session as installed, without its keys (they travel in `keys`). */
export interface InstallFields extends SessionPermissions {
  readonly sessionId: string;
  readonly userId: string;
  readonly channelId: string;
  readonly profile: SrtpProfileName;
  readonly ssrc: number;
  readonly expiresAt: number;
}

export type WorkerRequest =
  | { readonly type: 'install'; readonly id: number; readonly session: InstallFields; readonly keys: ArrayBuffer; readonly now: number }
  | { readonly type: 'update'; readonly id: number; readonly sessionId: string; readonly patch: SessionPatch }
  | { readonly type: 'rotate'; readonly id: number; readonly sessionId: string; readonly profile: SrtpProfileName; readonly ssrc: number; readonly keys: ArrayBuffer; readonly now: number }
  | { readonly type: 'revoke'; readonly id: number; readonly sessionId: string; readonly now: number }
  | { readonly type: 'list'; readonly id: number }
  | { readonly type: 'stats'; readonly id: number }
  | { readonly type: 'drain'; readonly id: number }
  /** Liveness: answered at once by a worker whose event loop turns. */
  | { readonly type: 'ping'; readonly id: number }
  /** What the heartbeat reports from this worker: sessions whose keys reached the soft limit. */
  | { readonly type: 'report'; readonly id: number; readonly limit: number }
  /** End every session, wipe every key, release the port; the worker exits after replying. */
  | { readonly type: 'close'; readonly id: number };

/** What each request's reply carries in `value`. */
export interface WorkerReplies {
  install: null;
  update: SessionState | null;
  rotate: readonly number[] | null;
  revoke: boolean;
  list: RelaySessionSummary[];
  stats: WorkerStats;
  drain: null;
  report: { readonly rekeyRequested: readonly string[] };
  ping: null;
  close: null;
}

export interface WorkerStats {
  readonly sessions: number;
  readonly channels: number;
  readonly packets: PacketStatsSnapshot;
}

export type WorkerMessage =
  | {
      readonly type: 'ready';
      readonly udpPort: number;
      readonly srtpBackend: string;
      /** Why native AES-GCM is not in use, or null. */
      readonly srtpFallback: string | null;
      /** Why output is not batched (sendmmsg), or null. */
      readonly batchingUnavailable: string | null;
      /** Why input is not batched (recvmmsg), or null. */
      readonly batchedInputUnavailable: string | null;
    }
  | { readonly type: 'reply'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'reply'; readonly id: number; readonly ok: false; readonly refusal: InstallRefusal }
  | { readonly type: 'session-ended'; readonly sessionId: string; readonly channelId: string; readonly reason: SessionEndReason }
  | { readonly type: 'warning'; readonly event: string; readonly error: { readonly name: string; readonly message: string } };

/** Bytes of one direction's master key and salt under `profile`. */
function directionLength(profile: SrtpProfileName): number {
  const p = SRTP_PROFILES[profile];
  return p.keyLength + p.saltLength;
}

/**
 * clientToRelay key ‖ salt ‖ relayToClient key ‖ salt, in a fresh ArrayBuffer of exactly that
 * size: never a pooled Buffer's slab (a transfer would take it from unrelated code), and never a
 * small typed array's `.buffer` (V8 keeps `new Uint8Array(56)` on its heap and copies the bytes
 * out when asked for the buffer, leaving the heap copy behind where no wipe reaches it). The
 * ArrayBuffer's memory is the only copy: the transfer moves it to the worker, which zeroes it.
 */
export function packSessionKeys(keys: Omit<SessionKeyMaterial, 'ssrc'>, profile: SrtpProfileName): ArrayBuffer {
  const p = SRTP_PROFILES[profile];
  const parts = [keys.clientToRelay.masterKey, keys.clientToRelay.masterSalt, keys.relayToClient.masterKey, keys.relayToClient.masterSalt];
  const lengths = [p.keyLength, p.saltLength, p.keyLength, p.saltLength];
  const packed = new Uint8Array(new ArrayBuffer(2 * directionLength(profile)));
  let offset = 0;
  parts.forEach((part, i) => {
    if (part.length !== lengths[i]) throw new RangeError(`worker-protocol: key material does not match profile ${profile}`);
    packed.set(part, offset);
    offset += part.length;
  });
  return packed.buffer;
}

/** Views into `buffer` (no copies): wiping the buffer wipes them. */
export function unpackSessionKeys(buffer: ArrayBuffer, ssrc: number, profile: SrtpProfileName): SessionKeyMaterial {
  const p = SRTP_PROFILES[profile];
  if (buffer.byteLength !== 2 * directionLength(profile)) throw new RangeError(`worker-protocol: packed keys do not match profile ${profile}`);
  const bytes = new Uint8Array(buffer);
  let offset = 0;
  const take = (length: number): Uint8Array => bytes.subarray(offset, (offset += length));
  const clientToRelay = { masterKey: take(p.keyLength), masterSalt: take(p.saltLength) };
  const relayToClient = { masterKey: take(p.keyLength), masterSalt: take(p.saltLength) };
  return { ssrc, clientToRelay, relayToClient };
}

/**
 * BroadcastChannel on which workers answer memory probes, only under `node --expose-gc`
 * (worker-thread.ts `answerMemoryProbes`; bench/relay/relay-probe.ts asks).
 */
export const MEMORY_PROBE_CHANNEL = 'parley-relay-memory-probe';

export interface MemoryProbeRequest {
  readonly type: 'collect';
  readonly id: number;
}

/** One worker's V8 heap after two full collections (process.memoryUsage() in that thread). */
export interface MemoryProbeReply {
  readonly type: 'collected';
  readonly id: number;
  readonly worker: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}
