/**
 * Incoming datagrams of one UDP/IPv4 socket, read in bursts with recvmmsg(2)
 * (relay/native/src/parley_udp.c) instead of one node:dgram 'message' event each.
 *
 * Why: for every datagram, node:dgram runs a libuv read callback, allocates a Buffer and an rinfo
 * object with a new address string, and emits an event. At a voice relay's packet rates that is
 * a large share of the CPU and most of the garbage, and the garbage is what makes the relay's
 * latency tail (scavenges). Here one native call fills a reused slab with up to `capacity`
 * datagrams; the handler sees a view of each, and a sender's address object is reused while the
 * sender keeps its address, so a steady stream allocates one small view per datagram.
 *
 * The socket stays the relay's node:dgram socket: it binds, reports its address and closes as
 * before, and remains the fallback. We stop its own reading (UDPWrap.recvStop(), the call
 * lib/dgram.js makes itself) and poll a dup of its fd from the same event loop
 * (parley_readable.c). Sound because:
 *   - once reading is stopped, libuv no longer watches the fd for input, so every datagram is
 *     read by exactly one reader: us;
 *   - the dup is a second descriptor of the same socket, registered with epoll under its own
 *     number, so it never collides with libuv's registration of the original fd (which libuv
 *     may still use for output when dgram.Socket.send meets a full buffer);
 *   - the watcher is closed before the socket is, so the socket outlives our use of it.
 * Everything here is checked before it is used (the fd against the kernel, recvStop's
 * presence); when anything is missing the caller keeps node:dgram's 'message' events.
 *
 * A poll error must not end reception. When poll(2) reports POLLERR on the socket (a pending
 * socket error, or a non-empty error queue), libuv stops the poll handle and calls back once with
 * a negative status — and then never again, though datagrams keep arriving. So on an error the
 * receiver counts it, takes the socket's error and empties its error queue (which is what keeps
 * POLLERR up), and polls again: at once the first time, then with a growing delay (up to 1 s)
 * while errors keep coming without a datagram in between, so a persistent fault cannot spin.
 */
import type { Socket } from 'node:dgram';
import { dgramSocketFd } from './datagram-batch.js';
import { META_WORDS, type NativeUdp, type ReadableWatch } from './native-udp.js';
import type { RemoteAddress } from '../media/relay-session.js';

/** Datagrams per recvmmsg call: a burst of this many is handled before its output is flushed. */
export const DEFAULT_RECEIVE_CAPACITY = 32;
/**
 * recvmmsg calls per readiness event at most: bounds how long one busy socket holds the event
 * loop (timers, the internal API) before the loop turns; whatever is left calls back next turn.
 */
const MAX_BURSTS_PER_EVENT = 8;
/** Sender address objects remembered at most; the map is cleared when full (a spoofed flood). */
const MAX_REMEMBERED_SENDERS = 4096;
/** Longest wait before polling again after consecutive poll errors. */
const MAX_POLL_RETRY_MS = 1000;

export interface DatagramReceiverOptions {
  /** Bytes of the largest datagram the handler accepts; larger ones reach it cut to maxDatagramBytes + 1. */
  readonly maxDatagramBytes: number;
  readonly capacity?: number;
}

export interface DatagramReceiverHandlers {
  /** One datagram: `datagram` is a view into the slab, valid only until this call returns. */
  readonly onDatagram: (datagram: Uint8Array, from: RemoteAddress) => void;
  /** After each burst (a recvmmsg call's worth of datagrams), even if a handler threw. */
  readonly afterBurst: () => void;
  /** A socket error reported by recvmmsg or the poll (negative errno / libuv code). Reading goes on. */
  readonly onError: (code: number) => void;
}

export type DatagramReceiverOrReason = { readonly receiver: DatagramReceiver; readonly reason: null } | { readonly receiver: null; readonly reason: string };

interface UdpHandle {
  recvStop(): number;
  recvStart(): number;
}

/** The socket's UDPWrap, if it has the recvStop/recvStart that lib/dgram.js itself calls. */
function dgramUdpHandle(socket: Socket): UdpHandle | null {
  const stateSymbol = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'state symbol');
  if (stateSymbol === undefined) return null;
  const state = (socket as unknown as Record<symbol, { handle?: Partial<UdpHandle> } | undefined>)[stateSymbol];
  const handle = state?.handle;
  return handle !== undefined && typeof handle.recvStop === 'function' && typeof handle.recvStart === 'function' ? (handle as UdpHandle) : null;
}

function ipv4ToString(ipv4: number): string {
  return `${ipv4 >>> 24}.${(ipv4 >>> 16) & 255}.${(ipv4 >>> 8) & 255}.${ipv4 & 255}`;
}

export class DatagramReceiver {
  readonly #native: NativeUdp;
  readonly #fd: number;
  readonly #handle: UdpHandle;
  readonly #handlers: DatagramReceiverHandlers;
  readonly #capacity: number;
  readonly #slotBytes: number;
  readonly #data: Uint8Array;
  readonly #meta: Uint32Array;
  /** ipv4 · 65536 + port → the address object handed to the handler for that sender. */
  readonly #senders = new Map<number, RemoteAddress>();
  #watch: ReadableWatch | null = null;
  /** Poll errors since the last datagram: how long to wait before polling again. */
  #pollErrorsInARow = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  /** recvmmsg calls that returned at least one datagram. */
  bursts = 0;
  /** Datagrams received. */
  received = 0;
  /** Times polling was resumed after a poll error. */
  pollRestarts = 0;

  private constructor(native: NativeUdp, fd: number, handle: UdpHandle, handlers: DatagramReceiverHandlers, options: DatagramReceiverOptions) {
    this.#native = native;
    this.#fd = fd;
    this.#handle = handle;
    this.#handlers = handlers;
    this.#capacity = options.capacity ?? DEFAULT_RECEIVE_CAPACITY;
    this.#slotBytes = options.maxDatagramBytes + 1;
    this.#data = new Uint8Array(this.#capacity * this.#slotBytes);
    this.#meta = new Uint32Array(this.#capacity * META_WORDS);
  }

  /**
   * Takes over reading a bound udp4 node:dgram socket, or says why it cannot (then the socket
   * is untouched and its 'message' events still flow).
   */
  static forSocket(socket: Socket, native: NativeUdp | null, handlers: DatagramReceiverHandlers, options: DatagramReceiverOptions): DatagramReceiverOrReason {
    if (native === null) return { receiver: null, reason: 'native-udp: unavailable' };
    const capacity = options.capacity ?? DEFAULT_RECEIVE_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 64) throw new RangeError('datagram-receiver: capacity must be 1 to 64');
    if (!Number.isInteger(options.maxDatagramBytes) || options.maxDatagramBytes < 1 || options.maxDatagramBytes > 65535) {
      throw new RangeError('datagram-receiver: maxDatagramBytes must be 1 to 65535');
    }
    const local = socket.address();
    if (local.family !== 'IPv4') return { receiver: null, reason: 'datagram-receiver: batched input is IPv4 only; this socket is IPv6' };
    const fd = dgramSocketFd(socket);
    if (fd === null || native.udp4SocketPort(fd) !== local.port) {
      return { receiver: null, reason: `datagram-receiver: cannot find this socket's file descriptor in node ${process.version}` };
    }
    const handle = dgramUdpHandle(socket);
    if (handle === null) return { receiver: null, reason: `datagram-receiver: node ${process.version} has no UDPWrap.recvStop` };
    const receiver = new DatagramReceiver(native, fd, handle, handlers, options);
    receiver.#start();
    return { receiver, reason: null };
  }

  #start(): void {
    // Stop node:dgram's reading first: from here on every datagram waits for us.
    const stopped = this.#handle.recvStop();
    if (stopped !== 0) throw new Error(`datagram-receiver: UDPWrap.recvStop failed (${stopped})`);
    try {
      this.#watch = this.#native.watchReadable(this.#fd, this.#onReadable);
    } catch (error) {
      this.#handle.recvStart();
      throw error;
    }
  }

  readonly #onReadable = (status: number): void => {
    if (status < 0) {
      this.#handlers.onError(status);
      this.#resumeAfterPollError();
      return;
    }
    const { onDatagram, afterBurst } = this.#handlers;
    const native = this.#native;
    const data = this.#data;
    const meta = this.#meta;
    const capacity = this.#capacity;
    for (let burst = 0; burst < MAX_BURSTS_PER_EVENT && this.#watch !== null; burst++) {
      const count = native.recvBatch(this.#fd, data, meta, capacity, this.#slotBytes);
      if (count <= 0) {
        if (count < 0) this.#handlers.onError(count);
        return;
      }
      this.bursts++;
      this.received += count;
      this.#pollErrorsInARow = 0;
      try {
        for (let i = 0, m = 0; i < count; i++, m += META_WORDS) {
          const offset = meta[m]!;
          onDatagram(data.subarray(offset, offset + meta[m + 1]!), this.#sender(meta[m + 2]!, meta[m + 3]!));
        }
      } finally {
        afterBurst();
      }
      if (count < capacity) return;
    }
  };

  /** libuv has stopped polling (POLLERR): clear what raised it and poll again (module comment). */
  #resumeAfterPollError(): void {
    if (this.#watch === null || this.#retryTimer !== null) return;
    const delay = this.#pollErrorsInARow === 0 ? 0 : Math.min(MAX_POLL_RETRY_MS, 2 ** (this.#pollErrorsInARow - 1));
    this.#pollErrorsInARow++;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      const watch = this.#watch;
      if (watch === null) return;
      const pending = this.#native.clearSocketError(this.#fd);
      if (pending < 0) this.#handlers.onError(pending);
      this.pollRestarts++;
      const restarted = watch.restart();
      if (restarted < 0) {
        this.#handlers.onError(restarted);
        this.#resumeAfterPollError();
      }
    }, delay);
  }

  /** The same object for the same sender while it is remembered: no string per datagram. */
  #sender(ipv4: number, port: number): RemoteAddress {
    const key = ipv4 * 65536 + port;
    let sender = this.#senders.get(key);
    if (sender === undefined) {
      if (this.#senders.size >= MAX_REMEMBERED_SENDERS) this.#senders.clear();
      sender = Object.freeze({ address: ipv4ToString(ipv4), port, ipv4 });
      this.#senders.set(key, sender);
    }
    return sender;
  }

  /** Stops reading and closes the watcher's dup of the fd; the socket itself stays open. Idempotent. */
  close(): void {
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#watch?.close();
    this.#watch = null;
  }
}
