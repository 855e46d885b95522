/**
 * The relay's UDP socket: the I/O edge around DatagramRouter. Receives datagrams, hands them
 * to the router synchronously, and sends what the router asks for.
 *
 * Input is batched when it can be: with the native addon, on a udp4 socket, datagrams are read
 * in bursts of up to 32 with recvmmsg (relay/src/io/datagram-receiver.ts says how and why);
 * otherwise they arrive as node:dgram 'message' events.
 *
 * Output is batched when it can be: every datagram the router sends while it handles one
 * incoming datagram (the fan-out, a keepalive pong) is gathered in a DatagramBatch and leaves in
 * one sendmmsg call when the handler returns (relay/src/io/datagram-batch.ts says why writing to
 * the dgram socket's fd beside libuv is sound). Without the native addon, on a udp6 socket, or
 * for a destination that is not a dotted-quad IPv4 address, each datagram goes through
 * dgram.Socket.send as before.
 */
import { createSocket, type Socket } from 'node:dgram';
import { DatagramBatch } from './datagram-batch.js';
import { DatagramReceiver } from './datagram-receiver.js';
import type { DatagramSink } from '../media/datagram-router.js';
import { ipv4ToNumber } from './ipv4-address.js';
import { loadNativeUdp } from './native-udp.js';
import type { RemoteAddress } from '../media/relay-session.js';

/**
 * When batched output is flushed:
 * - 'per-datagram': when the handler of each incoming datagram returns. A datagram's fan-out
 *   leaves as soon as it is sealed.
 * - 'per-burst' (default): once per burst of incoming datagrams, or when the batch fills. With
 *   batched input a burst is one recvmmsg call's worth (at most 32 datagrams, all that were
 *   waiting) or 16 outgoing datagrams, whichever comes first; with node:dgram input it is
 *   libuv's read burst (flushed from setImmediate, after the poll phase has delivered every
 *   datagram waiting). Fewer syscalls under load; a datagram's fan-out waits for at most a few
 *   others to be sealed (see docs/performance.md).
 */
export type FlushPolicy = 'per-datagram' | 'per-burst';

/**
 * Per-burst flushing still flushes once this many datagrams wait: the first listeners of a big
 * burst should not wait for the whole burst to be sealed (latency), while 16 datagrams per
 * sendmmsg already spread the call's fixed cost thinly (throughput).
 */
const FLUSH_AT_DATAGRAMS = 16;

export interface UdpTransportOptions {
  readonly host: string;
  readonly port: number;
  /** Kernel receive buffer, bytes: room for bursts while the event loop is busy. */
  readonly receiveBufferBytes?: number;
  readonly sendBufferBytes?: number;
  /** Batched output (sendmmsg) when the native addon allows it; default true. */
  readonly batching?: boolean;
  /** Batched input (recvmmsg) when the native addon allows it; default true. */
  readonly batchedInput?: boolean;
  readonly flush?: FlushPolicy;
  /** The largest datagram the handler accepts (batched input sizes its slots from it); default 1500. */
  readonly maxDatagramBytes?: number;
}

export type DatagramHandler = (datagram: Uint8Array, from: RemoteAddress) => void;

export class UdpTransport implements DatagramSink {
  readonly #socket: Socket;
  readonly #batch: DatagramBatch | null;
  readonly #perBurst: boolean;
  /** Why output is not batched; null when it is. */
  readonly batchingUnavailable: string | null;
  #receiver: DatagramReceiver | null = null;
  /** Why input is not batched; null when it is. */
  batchedInputUnavailable: string | null = 'not started';
  #receiveErrors = 0;
  #closed = false;
  /** True while the handler of an incoming datagram runs: its sends wait for the flush after it. */
  #dispatching = false;
  #flushScheduled = false;
  #dgramErrors = 0;
  /**
   * Destination → its IPv4 address as a number (null: not IPv4), parsed on its first send rather
   * than on every one. Keyed by the object: a session's latched address is one object until it
   * re-latches, when the session makes a new one (RemoteAddress is readonly), so an entry never
   * goes stale, and it goes with its object.
   */
  readonly #ipv4Of = new WeakMap<RemoteAddress, number | null>();
  /** One callback for every dgram send, not a closure per datagram. */
  readonly #onSent = (error: Error | null): void => {
    if (error) this.#dgramErrors++;
  };
  readonly #flushScheduledBatch = (): void => {
    this.#flushScheduled = false;
    this.#batch?.flush();
  };

  private constructor(socket: Socket, batch: DatagramBatch | null, batchingUnavailable: string | null, flush: FlushPolicy) {
    this.#socket = socket;
    this.#batch = batch;
    this.batchingUnavailable = batchingUnavailable;
    this.#perBurst = flush === 'per-burst';
  }

  /** Binds the socket and starts delivering datagrams to `onDatagram`. */
  static async bind(options: UdpTransportOptions, onDatagram: DatagramHandler, onError: (error: Error) => void): Promise<UdpTransport> {
    // fly.io's UDP needs the socket bound to the `fly-global-services` address, which is IPv4.
    const socket = createSocket({ type: options.host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port, options.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', onError);
    if (options.receiveBufferBytes) socket.setRecvBufferSize(options.receiveBufferBytes);
    if (options.sendBufferBytes) socket.setSendBufferSize(options.sendBufferBytes);
    const { batch, reason } = options.batching === false ? { batch: null, reason: 'batching disabled' } : DatagramBatch.forSocket(socket);
    const transport = new UdpTransport(socket, batch, reason, options.flush ?? 'per-burst');
    // Still in the same synchronous run as the bind callback's continuation: no 'message' can
    // have been emitted (and lost) before this point.
    if (options.batchedInput === false) transport.batchedInputUnavailable = 'batched input disabled';
    else transport.#startBatchedInput(onDatagram, onError, options.maxDatagramBytes ?? 1500);
    if (transport.#receiver === null) socket.on('message', (message, rinfo) => transport.#receive(message, rinfo, onDatagram));
    return transport;
  }

  #startBatchedInput(onDatagram: DatagramHandler, onError: (error: Error) => void, maxDatagramBytes: number): void {
    const { receiver, reason } = DatagramReceiver.forSocket(
      this.#socket,
      loadNativeUdp(),
      {
        onDatagram: (datagram, from) => {
          this.#dispatching = true;
          onDatagram(datagram, from);
          const batch = this.#batch;
          if (batch !== null && (!this.#perBurst || batch.length >= FLUSH_AT_DATAGRAMS)) batch.flush();
        },
        afterBurst: () => {
          this.#dispatching = false;
          this.#batch?.flush();
        },
        onError: (code) => {
          // Counted; reported once per thousand so a persistent fault cannot flood the log.
          if (this.#receiveErrors++ % 1000 === 0) onError(new Error(`udp receive failed (code ${code})`));
        },
      },
      { maxDatagramBytes },
    );
    this.#receiver = receiver;
    this.batchedInputUnavailable = reason;
  }

  /** Whether datagrams arrive in recvmmsg bursts (else one node:dgram 'message' each). */
  get batchedInput(): boolean {
    return this.#receiver !== null;
  }

  /** recvmmsg calls that returned datagrams, and the datagrams they returned (0 without batched input). */
  get inputBursts(): { readonly bursts: number; readonly datagrams: number } {
    return { bursts: this.#receiver?.bursts ?? 0, datagrams: this.#receiver?.received ?? 0 };
  }

  /** Socket errors reported while receiving in bursts. */
  get receiveErrors(): number {
    return this.#receiveErrors;
  }

  get port(): number {
    return this.#socket.address().port;
  }

  /** Whether datagrams leave in sendmmsg batches (else one dgram.Socket.send each). */
  get batching(): boolean {
    return this.#batch !== null;
  }

  /** Datagrams the kernel refused or that found its send buffer full: counted, never thrown. */
  get sendErrors(): number {
    return this.#dgramErrors + (this.#batch?.dropped ?? 0);
  }

  /** sendmmsg calls so far (0 without batching). */
  get batchFlushes(): number {
    return this.#batch?.flushes ?? 0;
  }

  #receive(message: Buffer, from: RemoteAddress, onDatagram: DatagramHandler): void {
    this.#dispatching = true;
    try {
      onDatagram(message, from);
    } finally {
      this.#dispatching = false;
      const batch = this.#batch;
      if (batch !== null && batch.length > 0) {
        if (!this.#perBurst) batch.flush();
        else if (!this.#flushScheduled) {
          this.#flushScheduled = true;
          setImmediate(this.#flushScheduledBatch);
        }
      }
    }
  }

  send(datagram: Uint8Array, to: RemoteAddress): void {
    if (this.#closed) return;
    const batch = this.#batch;
    if (batch !== null) {
      const ipv4 = this.#ipv4For(to);
      if (ipv4 !== null && batch.add(datagram, ipv4, to.port)) {
        this.#flushUnlessDispatching(batch);
        return;
      }
    }
    this.#socket.send(datagram, to.port, to.address, this.#onSent);
  }

  /** The batch's slab, where `reserve` hands out room (undefined without batching). */
  get slab(): Uint8Array | undefined {
    return this.#batch?.data;
  }

  /** Room for a `length`-byte datagram to `to` in `slab`: its offset, or -1 (then use `send`). */
  reserve(length: number, to: RemoteAddress): number {
    const batch = this.#batch;
    if (this.#closed || batch === null) return -1;
    const ipv4 = this.#ipv4For(to);
    if (ipv4 === null) return -1;
    const offset = batch.reserve(length);
    if (offset >= 0) {
      this.#reservedIpv4 = ipv4;
      this.#reservedPort = to.port;
    }
    return offset;
  }

  /** Queues the datagram written at the last `reserve`'s offset. */
  commitReserved(length: number): void {
    const batch = this.#batch;
    if (batch === null) return;
    batch.commit(length, this.#reservedIpv4, this.#reservedPort);
    this.#flushUnlessDispatching(batch);
  }

  /**
   * Room for `count` datagrams of `length` bytes back to back in `slab` (the router's fan-out,
   * sealed in one native call): the first one's offset, or -1 (then one at a time).
   */
  reserveRun(count: number, length: number): number {
    const batch = this.#batch;
    if (this.#closed || batch === null) return -1;
    return batch.reserveRun(count, length);
  }

  /**
   * Queues the first `count` datagrams of the last `reserveRun` (at `offset`, `length` bytes
   * each), datagram i to `to[i]`, or to `ipv4s[i]`/`ports[i]` where `ports[i]` ≥ 0 (the same
   * address as numbers: `to[i]` is then not read).
   */
  commitRun(offset: number, length: number, to: readonly RemoteAddress[], count: number, ipv4s?: Int32Array, ports?: Int32Array): void {
    const batch = this.#batch;
    if (batch === null) return;
    for (let i = 0, at = offset; i < count; i++, at += length) {
      const port = ports === undefined ? -1 : ports[i]!;
      if (port >= 0) {
        batch.commitAt(at, length, ipv4s![i]! >>> 0, port);
        continue;
      }
      const address = to[i]!;
      const ipv4 = this.#ipv4For(address);
      if (ipv4 !== null) batch.commitAt(at, length, ipv4, address.port);
      // Not a dotted quad (never on a udp4 socket's peers): sent on its own, from a copy.
      else this.#socket.send(batch.data.slice(at, at + length), address.port, address.address, this.#onSent);
    }
    this.#flushUnlessDispatching(batch);
  }

  #reservedIpv4 = 0;
  #reservedPort = 0;

  #ipv4For(to: RemoteAddress): number | null {
    const known = to.ipv4;
    if (known !== undefined) return known;
    let ipv4 = this.#ipv4Of.get(to);
    if (ipv4 === undefined) {
      ipv4 = ipv4ToNumber(to.address) ?? null;
      this.#ipv4Of.set(to, ipv4);
    }
    return ipv4;
  }

  /** A send outside any datagram handler (a timer, say) leaves now; inside, at the handler's end. */
  #flushUnlessDispatching(batch: DatagramBatch): void {
    if (!this.#dispatching && !this.#flushScheduled) batch.flush();
  }

  /** Sends what is waiting, stops receiving and releases the port. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // The receiver reads a dup of the socket's fd, and the batch writes to the fd itself: both
    // must be done with it before the socket is closed (and the fd's number possibly reused).
    this.#receiver?.close();
    this.#batch?.flush();
    this.#batch?.close();
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }
}
