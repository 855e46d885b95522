/**
 * Outgoing datagrams of one UDP/IPv4 socket, gathered and handed to the kernel with one
 * sendmmsg(2) call (relay/native/src/parley_udp.c) instead of one dgram.Socket.send() each.
 *
 * No per-datagram allocation: `add()` copies the datagram into a preallocated byte slab and
 * writes four numbers into a preallocated Uint32Array; `flush()` is one native call.
 *
 * The socket is the relay's own node:dgram socket. We write to its file descriptor directly,
 * beside libuv, which keeps reading it. That is sound for a UDP socket:
 *   - each datagram is one atomic sendmsg to the kernel, which serialises writers on the socket
 *     lock; there is no byte stream to interleave and no framing to corrupt;
 *   - libuv only watches the fd for readability (POLLIN) for `socket.on('message')`; it watches
 *     for writability only while its own send queue (dgram.Socket.send after EAGAIN) is
 *     non-empty, and our sends never enter that queue, so neither side's state is disturbed;
 *   - datagrams sent by the two paths may leave in either order relative to each other. That is
 *     irrelevant: UDP promises no order, SRTP receivers reorder through their replay window, and
 *     a destination always takes one path (IPv4 → sendmmsg; see UdpTransport.send).
 * The fd must not outlive the socket: the number is reused once the socket closes, so
 * UdpTransport closes the batch before the socket, and a closed batch never sends.
 */
import type { Socket } from 'node:dgram';
import { loadNativeUdp, META_WORDS, nativeUdpError, type NativeUdp } from './native-udp.js';

/** Datagrams per batch: a fan-out of 20 plus room for several incoming datagrams' worth. */
export const DEFAULT_BATCH_CAPACITY = 64;
/** Bytes per batch: any UDP datagram fits (≤ 65,507 bytes of payload). */
export const DEFAULT_BATCH_BYTES = 64 * 1024;

export interface DatagramBatchOptions {
  readonly capacity?: number;
  readonly bytes?: number;
}

export type DatagramBatchOrReason = { readonly batch: DatagramBatch; readonly reason: null } | { readonly batch: null; readonly reason: string };

/**
 * The OS file descriptor behind a bound node:dgram socket, or null. Node internals (Node 20,
 * lib/dgram.js): the socket keeps its UDPWrap handle in `socket[kStateSymbol].handle`, where
 * kStateSymbol is `Symbol('state symbol')`, and UDPWrap has an `fd` getter (−1 on Windows).
 * `socket._handle` is the same handle, but that getter is deprecated (DEP0112) and warns.
 * Nothing here is public API: the caller must verify the answer (DatagramBatch.forSocket asks
 * the kernel for the fd's port and family) and fall back to dgram.Socket.send when it fails.
 */
export function dgramSocketFd(socket: Socket): number | null {
  const stateSymbol = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'state symbol');
  if (stateSymbol === undefined) return null;
  const state: unknown = (socket as unknown as Record<symbol, unknown>)[stateSymbol];
  const handle: unknown = typeof state === 'object' && state !== null ? (state as { handle?: unknown }).handle : undefined;
  const fd: unknown = typeof handle === 'object' && handle !== null ? (handle as { fd?: unknown }).fd : undefined;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : null;
}

export class DatagramBatch {
  readonly #native: NativeUdp;
  readonly #fd: number;
  readonly #data: Uint8Array;
  readonly #meta: Uint32Array;
  readonly #capacity: number;
  #count = 0;
  #bytes = 0;
  #closed = false;
  /** Datagrams the kernel took. */
  sent = 0;
  /** Datagrams the kernel did not take (full send buffer, refused destination): counted, never thrown. */
  dropped = 0;
  /** sendmmsg calls made (one per flush of up to 64 datagrams). */
  flushes = 0;
  /** The errno of the last flush that sent nothing (11 = EAGAIN on Linux), or 0. */
  lastErrno = 0;

  /**
   * A batch writing to `fd`, a non-blocking UDP/IPv4 socket the caller keeps open for the
   * batch's lifetime. Prefer `forSocket`, which finds and checks the fd of a node:dgram socket.
   */
  constructor(native: NativeUdp, fd: number, options: DatagramBatchOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_BATCH_CAPACITY;
    const bytes = options.bytes ?? DEFAULT_BATCH_BYTES;
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError('datagram-batch: fd must be a file descriptor');
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1024) throw new RangeError('datagram-batch: capacity must be 1 to 1024');
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > 16 * 1024 * 1024) throw new RangeError('datagram-batch: bytes must be 1 to 16 MiB');
    this.#native = native;
    this.#fd = fd;
    this.#capacity = capacity;
    this.#data = new Uint8Array(bytes);
    this.#meta = new Uint32Array(capacity * META_WORDS);
  }

  /**
   * A batch for a bound udp4 node:dgram socket, or the reason there is none (addon not built, no
   * sendmmsg on this platform, a udp6 socket, or Node's internals not where we expect them).
   */
  static forSocket(socket: Socket, options: DatagramBatchOptions = {}, native: NativeUdp | null = loadNativeUdp()): DatagramBatchOrReason {
    if (native === null) return { batch: null, reason: nativeUdpError ?? 'native-udp: unavailable' };
    const local = socket.address();
    if (local.family !== 'IPv4') return { batch: null, reason: 'datagram-batch: batched output is IPv4 only; this socket is IPv6' };
    const fd = dgramSocketFd(socket);
    if (fd === null) return { batch: null, reason: `datagram-batch: cannot find the socket's file descriptor in node ${process.version}` };
    // Prove the fd is this socket before writing to it: a UDP/IPv4 socket bound to our port.
    if (native.udp4SocketPort(fd) !== local.port) {
      return { batch: null, reason: `datagram-batch: fd ${fd} is not this socket (node ${process.version} internals changed?)` };
    }
    return { batch: new DatagramBatch(native, fd, options), reason: null };
  }

  /** Datagrams waiting for `flush()`. */
  get length(): number {
    return this.#count;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The slab datagrams are assembled in; write only where `reserve()` says. */
  get data(): Uint8Array {
    return this.#data;
  }

  /**
   * Room for one `length`-byte datagram, flushing first when the batch is full: returns its
   * offset in `data`, or -1 when the datagram is larger than the whole batch or the batch is
   * closed. Nothing is queued until `commit`; a reservation that is not committed costs nothing.
   */
  reserve(length: number): number {
    if (this.#closed || length > this.#data.length) return -1;
    if (this.#count === this.#capacity || this.#bytes + length > this.#data.length) this.flush();
    return this.#bytes;
  }

  /**
   * Room for `count` datagrams of `length` bytes each, back to back (datagram i at the returned
   * offset + i × length), flushing first when they would not all fit: the offset, or -1 when
   * they could never fit or the batch is closed. Queue them with `commitAt`, in order.
   */
  reserveRun(count: number, length: number): number {
    if (this.#closed || count > this.#capacity || count * length > this.#data.length) return -1;
    if (this.#count + count > this.#capacity || this.#bytes + count * length > this.#data.length) this.flush();
    return this.#bytes;
  }

  /**
   * Queues the `length` bytes written at `offset` (within the last `reserveRun`, at or after
   * the end of what is queued) for `ipv4` and `port`. Bytes skipped between datagrams are
   * simply not sent.
   */
  commitAt(offset: number, length: number, ipv4: number, port: number): void {
    const m = this.#count * META_WORDS;
    const meta = this.#meta;
    meta[m] = offset;
    meta[m + 1] = length;
    meta[m + 2] = ipv4;
    meta[m + 3] = port;
    this.#count++;
    this.#bytes = offset + length;
  }

  /** Queues the `length` bytes written at the last `reserve()`'s offset, for `ipv4` and `port`. */
  commit(length: number, ipv4: number, port: number): void {
    this.commitAt(this.#bytes, length, ipv4, port);
  }

  /**
   * Copies `datagram` into the batch, for `ipv4` (a number: see ipv4ToNumber) and `port`.
   * Flushes first when the batch is full. Returns false, taking nothing, when the datagram is
   * larger than the whole batch or the batch is closed: send it some other way.
   */
  add(datagram: Uint8Array, ipv4: number, port: number): boolean {
    const offset = this.reserve(datagram.length);
    if (offset < 0) return false;
    this.#data.set(datagram, offset);
    this.commit(datagram.length, ipv4, port);
    return true;
  }

  /** Sends every waiting datagram; returns how many the kernel took. Never throws for kernel errors. */
  flush(): number {
    const count = this.#count;
    if (count === 0) return 0;
    this.#count = 0;
    this.#bytes = 0;
    if (this.#closed) {
      this.dropped += count;
      return 0;
    }
    const result = this.#native.sendBatch(this.#fd, this.#data, this.#meta, count);
    this.flushes++;
    const sent = result > 0 ? result : 0;
    if (result < 0) this.lastErrno = -result;
    this.sent += sent;
    this.dropped += count - sent;
    return sent;
  }

  /** Drops anything waiting and never touches the fd again. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.dropped += this.#count;
    this.#count = 0;
    this.#bytes = 0;
  }
}
