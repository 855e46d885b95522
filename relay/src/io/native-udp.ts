/**
 * Batched UDP I/O for the relay: sendmmsg(2) and recvmmsg(2) in the native addon
 * (relay/native/src/parley_udp.c) and a readiness watcher (parley_readable.c), built into the same
 * module as the AES-GCM engines by `npm run build:native`.
 *
 * Why: each dgram.Socket.send() costs ~4-5 µs (a libuv send request, its callback, the JS↔C++
 * crossings, one syscall); one incoming voice datagram fans out to 4-20 listeners. sendmmsg
 * hands a whole fan-out to the kernel in one call (relay/src/io/datagram-batch.ts); recvmmsg
 * takes a whole burst of incoming datagrams in one call (relay/src/io/datagram-receiver.ts).
 *
 * Optional at run time, like the GCM backend: `loadNativeUdp()` returns null (and never throws)
 * when the addon is not built, is stale, or the platform has no sendmmsg (only Linux builds it),
 * and `nativeUdpError` says why; the relay then sends with dgram.Socket.send as before.
 */
import { requireNativeAddon } from './native-addon.js';

/** Words per datagram in `sendBatch`'s `meta`: offset, length, IPv4 address, port. */
export const META_WORDS = 4;

/** What relay/native/src/parley_udp.c adds to the module. */
export interface NativeUdp {
  /**
   * Sends datagrams 0..count-1 described by `meta` (META_WORDS words each: byte offset in
   * `data`, length, IPv4 address as a number — a.b.c.d is a·2²⁴ + b·2¹⁶ + c·2⁸ + d — and port)
   * on the non-blocking UDP/IPv4 socket `fd`, in one sendmmsg call per 64 datagrams.
   *
   * Returns how many the kernel took (a datagram refused for its own sake — port 0, too large,
   * unreachable — is skipped, the rest still go; a full send buffer ends the batch), or, when it
   * took none because of an error, that errno negated (-11 is EAGAIN on Linux). Never blocks
   * and never throws for what the kernel says; throws TypeError / RangeError for bad arguments,
   * before sending anything.
   */
  sendBatch(fd: number, data: Uint8Array, meta: Uint32Array, count: number): number;
  /**
   * Receives up to `capacity` (1–64) waiting datagrams from the non-blocking UDP/IPv4 socket `fd`
   * with one recvmmsg call. Datagram i lands at byte i·slotBytes of `data`; `meta` gets
   * META_WORDS words per datagram: offset, length, the sender's IPv4 address as a number, port.
   * A datagram longer than slotBytes is cut to slotBytes (so use slots one byte larger than the
   * largest datagram accepted). Returns how many arrived (0: none waiting), or -errno. Never
   * blocks; throws TypeError / RangeError for bad arguments.
   */
  recvBatch(fd: number, data: Uint8Array, meta: Uint32Array, capacity: number, slotBytes: number): number;
  /**
   * Calls `onReadable(status)` from this thread's event loop whenever `fd` is readable (status
   * 0) or polling it failed (a negative libuv error). Polls a dup of `fd`. The watcher keeps the
   * loop alive until `close()`; it is also closed when the thread or process exits.
   */
  watchReadable(fd: number, onReadable: (status: number) => void): ReadableWatch;
  /** The bound port of `fd` if it is a UDP socket of family AF_INET, else -1. */
  udp4SocketPort(fd: number): number;
  /**
   * Takes the socket's pending error (SO_ERROR, which clears it) and empties its error queue —
   * what makes poll(2) report POLLERR — and returns that error as -errno (0 if none).
   */
  clearSocketError(fd: number): number;
}

export interface ReadableWatch {
  /** Stops calling back and closes the watcher's dup of the fd. Idempotent. */
  close(): void;
  /**
   * Polls again after a poll error: libuv stops the handle when poll(2) reports POLLERR (one
   * callback with a negative status, then none). Returns 0 or a negative libuv error.
   */
  restart(): number;
}


/** Why the last `loadNativeUdp()` returned null; null when it loaded (or was never asked). */
export let nativeUdpError: string | null = null;

let loaded: NativeUdp | null | undefined;

/** The native sendmmsg functions, or null (see `nativeUdpError`). Loads once. */
export function loadNativeUdp(): NativeUdp | null {
  if (loaded !== undefined) return loaded;
  try {
    loaded = requireNativeUdp();
    nativeUdpError = null;
  } catch (error) {
    loaded = null;
    nativeUdpError = error instanceof Error ? error.message : String(error);
  }
  return loaded;
}

function requireNativeUdp(): NativeUdp {
  // The same module object the GCM backend gets.
  const addon = requireNativeAddon('native-udp');
  const candidate = addon as Partial<Record<keyof NativeUdp, unknown>>;
  const { sendBatch, recvBatch, watchReadable, udp4SocketPort, clearSocketError } = candidate;
  if (
    typeof sendBatch !== 'function' ||
    typeof recvBatch !== 'function' ||
    typeof watchReadable !== 'function' ||
    typeof udp4SocketPort !== 'function' ||
    typeof clearSocketError !== 'function'
  ) {
    throw new Error(`native-udp: sendmmsg/recvmmsg are not available on ${process.platform}; the relay uses one node:dgram call per datagram`);
  }
  return Object.freeze({ sendBatch, recvBatch, watchReadable, udp4SocketPort, clearSocketError }) as NativeUdp;
}
