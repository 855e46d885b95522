/**
 * A userspace UDP proxy that impairs what it forwards: loss, duplication, reordering and jitter,
 * in both directions, decided by a seeded PRNG so a run can be repeated. It stands between voice
 * clients and a relay where the kernel has no netem (containers, CI machines, macOS), and behaves
 * like a NAT: each client address gets its own upstream socket, so the relay sees one source
 * address per client and latches each one (docs/protocol.md §6.3), and what the relay sends back
 * to that socket goes to that client.
 *
 * Self-contained (node:dgram and pure-rand only), so tests and tools can use it as it is:
 *
 *   const proxy = await UdpImpairmentProxy.start({
 *     upstream: { host: '127.0.0.1', port: relayUdpPort },
 *     impairment: { loss: 0.05, duplicate: 0.01, reorder: 0.02, jitterMs: 20, seed: 1 },
 *   });
 *   // clients send to proxy.address instead of the relay
 *   await proxy.close();
 *
 * What each setting means (per datagram, per direction, drawn in this order):
 *   - loss: dropped with this probability.
 *   - duplicate: otherwise, sent twice with this probability (the copy gets its own delay).
 *   - reorder: otherwise, held back with this probability and sent right after the next datagram
 *     of the same flow and direction (at most `reorderHoldMs` later if none comes), so it arrives
 *     one place late; a held datagram's successor is never held itself.
 *   - jitterMs: every copy sent is delayed by a uniform random time in [0, jitterMs] ms. As with
 *     netem, a delay larger than the gap between two datagrams reorders them too.
 * Every datagram draws the same five numbers whatever happens to it, so the decisions for the
 * n-th datagram of a direction depend on the seed and n alone (`ImpairmentDecider`).
 *
 * Tests script what the seeded settings cannot: `toUpstream` / `toClient` filters see every
 * datagram first (drop, hold back, let several through), `sendToClient` injects one, `rebind()`
 * gives every flow a new upstream port (a NAT that rebinds), and `setImpairment()` changes the
 * settings mid-run (a network that turns bad during a call).
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { mersenne } from 'pure-rand/generator/mersenne';

export interface ImpairmentSettings {
  /** Probability in [0, 1] that a datagram is dropped. */
  readonly loss: number;
  /** Probability in [0, 1] that a datagram not dropped is sent twice. */
  readonly duplicate: number;
  /** Probability in [0, 1] that a datagram is held back behind the next one. */
  readonly reorder: number;
  /** Largest extra delay of a copy, ms (0 to 10,000); each copy's is uniform in [0, jitterMs]. */
  readonly jitterMs: number;
  /** PRNG seed (an integer): the same seed gives the same decisions for the same datagrams. */
  readonly seed: number;
}

/** Given one datagram, the datagrams to pass on (none: dropped or held; several: released). */
export type DatagramFilter = (datagram: Buffer) => Buffer[];

export const passAll: DatagramFilter = (datagram) => [datagram];
export const dropAll: DatagramFilter = () => [];

/** RTP (voice), as opposed to RTCP/SRTCP, by RFC 5761 §4's second-byte rule (docs/protocol.md §2.9). */
export function isRtp(datagram: Uint8Array): boolean {
  const pt = datagram[1] ?? 0;
  return !(pt >= 192 && pt <= 223);
}

export const NO_IMPAIRMENT: ImpairmentSettings = Object.freeze({ loss: 0, duplicate: 0, reorder: 0, jitterMs: 0, seed: 1 });

/** Which way a datagram travels through the proxy. */
export type ProxyDirection = 'toUpstream' | 'toClient';

/** Which directions the impairment applies to; the other passes untouched. */
export type ImpairedDirections = 'both' | ProxyDirection;

export interface ImpairmentDecision {
  readonly drop: boolean;
  readonly duplicate: boolean;
  readonly reorder: boolean;
  /** Delay of the datagram, ms. */
  readonly delayMs: number;
  /** Delay of its duplicate (when `duplicate`), ms. */
  readonly duplicateDelayMs: number;
}

/** Throws RangeError unless every setting is in range. */
export function validateImpairment(settings: ImpairmentSettings): void {
  for (const name of ['loss', 'duplicate', 'reorder'] as const) {
    const p = settings[name];
    if (!Number.isFinite(p) || p < 0 || p > 1) throw new RangeError(`udp impairment: ${name} must be a probability from 0 to 1`);
  }
  if (!Number.isFinite(settings.jitterMs) || settings.jitterMs < 0 || settings.jitterMs > 10_000) {
    throw new RangeError('udp impairment: jitterMs must be from 0 to 10000');
  }
  if (!Number.isSafeInteger(settings.seed)) throw new RangeError('udp impairment: seed must be an integer');
}

export function isImpairing(settings: ImpairmentSettings): boolean {
  return settings.loss > 0 || settings.duplicate > 0 || settings.reorder > 0 || settings.jitterMs > 0;
}

/**
 * The decisions for one direction's datagrams, in arrival order: pure and seeded (Mersenne
 * Twister from pure-rand), so a test can compute what the proxy will do to its n-th datagram.
 */
export class ImpairmentDecider {
  readonly #settings: ImpairmentSettings;
  readonly #random: ReturnType<typeof mersenne>;

  /** `stream` tells independent deciders with one seed apart (the proxy uses 0 and 1). */
  constructor(settings: ImpairmentSettings, stream = 0) {
    validateImpairment(settings);
    this.#settings = settings;
    // Mersenne Twister seeds are 32-bit; fold the stream in so directions draw apart.
    this.#random = mersenne((settings.seed ^ Math.imul(stream + 1, 0x9e3779b9)) | 0);
  }

  next(): ImpairmentDecision {
    // Always five draws, so one datagram's fate never shifts the next one's.
    const lossDraw = uniformFloat64(this.#random);
    const duplicateDraw = uniformFloat64(this.#random);
    const reorderDraw = uniformFloat64(this.#random);
    const delayDraw = uniformFloat64(this.#random);
    const duplicateDelayDraw = uniformFloat64(this.#random);
    const s = this.#settings;
    const drop = lossDraw < s.loss;
    return {
      drop,
      duplicate: !drop && duplicateDraw < s.duplicate,
      reorder: !drop && reorderDraw < s.reorder,
      delayMs: delayDraw * s.jitterMs,
      duplicateDelayMs: duplicateDelayDraw * s.jitterMs,
    };
  }
}

export interface DirectionStats {
  /** Datagrams that reached the proxy in this direction. */
  received: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  /** Datagrams sent on (duplicates included). */
  forwarded: number;
}

export interface ProxyStats {
  readonly toUpstream: DirectionStats;
  readonly toClient: DirectionStats;
  /** Client addresses seen (flows opened). */
  flows: number;
  /** Datagrams from new client addresses refused because `maxFlows` flows were open. */
  refusedFlows: number;
}

export interface UdpEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface UdpImpairmentProxyOptions {
  /** Where client datagrams go (the relay's UDP endpoint): an IP address. */
  readonly upstream: UdpEndpoint;
  readonly impairment?: ImpairmentSettings;
  /** Default 'both'. */
  readonly directions?: ImpairedDirections;
  /** Address clients send to (default 127.0.0.1) and its port (default 0: any free port). */
  readonly listenHost?: string;
  readonly listenPort?: number;
  /** Flows (client addresses) at most; datagrams from more are dropped (default 4096). */
  readonly maxFlows?: number;
  /** A flow silent this long in both directions is closed (default 60,000 ms). */
  readonly flowIdleMs?: number;
  /** Longest a reordered datagram waits for a successor (default 50 ms). */
  readonly reorderHoldMs?: number;
  /** Kernel socket buffer size asked for on every socket (default 4 MiB; the kernel may cap it). */
  readonly socketBufferBytes?: number;
}

interface Held {
  readonly datagram: Buffer;
  readonly delayMs: number;
  readonly timer: NodeJS.Timeout;
}

interface Flow {
  readonly client: UdpEndpoint;
  upstreamSocket: Socket;
  lastActivity: number;
  /** Set when its socket closes: sends still queued for it are dropped. */
  closed: boolean;
  heldToUpstream: Held | null;
  heldToClient: Held | null;
}

interface Scheduled {
  readonly due: number;
  readonly order: number;
  readonly send: () => void;
}

/** A min-heap of delayed sends behind one timer (per-datagram timers cost too much at load). */
class DelayQueue {
  readonly #heap: Scheduled[] = [];
  #timer: NodeJS.Timeout | null = null;
  #timerDue = Infinity;
  #order = 0;
  #closed = false;

  schedule(delayMs: number, send: () => void): void {
    if (this.#closed) return;
    this.#push({ due: performance.now() + delayMs, order: this.#order++, send });
    this.#arm();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#heap.length = 0;
  }

  #arm(): void {
    const first = this.#heap[0];
    if (first === undefined || first.due >= this.#timerDue) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerDue = first.due;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, first.due - performance.now()));
  }

  #fire(): void {
    this.#timer = null;
    this.#timerDue = Infinity;
    // Timers fire up to a millisecond early or late; send what is due within half of one.
    const now = performance.now() + 0.5;
    while (this.#heap.length > 0 && this.#heap[0]!.due <= now) this.#pop().send();
    this.#arm();
  }

  #less(a: Scheduled, b: Scheduled): boolean {
    return a.due < b.due || (a.due === b.due && a.order < b.order);
  }

  #push(item: Scheduled): void {
    const heap = this.#heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #pop(): Scheduled {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && this.#less(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && this.#less(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

function emptyStats(): DirectionStats {
  return { received: 0, dropped: 0, duplicated: 0, reordered: 0, forwarded: 0 };
}

function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.');
}

async function bindSocket(host: string, port: number, bufferBytes: number): Promise<Socket> {
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  try {
    socket.setRecvBufferSize(bufferBytes);
    socket.setSendBufferSize(bufferBytes);
  } catch {
    // The kernel's limit (net.core.rmem_max) applies; the default buffer still works.
  }
  return socket;
}

export class UdpImpairmentProxy {
  readonly stats: ProxyStats = { toUpstream: emptyStats(), toClient: emptyStats(), flows: 0, refusedFlows: 0 };
  /** Sees each datagram from a client before the impairment does; what it returns goes on. */
  toUpstream: DatagramFilter = passAll;
  /** Sees each datagram from the upstream before the impairment does; what it returns goes on. */
  toClient: DatagramFilter = passAll;
  readonly #listen: Socket;
  readonly #upstream: UdpEndpoint;
  readonly #upstreamBindHost: string;
  readonly #directions: ImpairedDirections;
  #deciders: Readonly<Record<ProxyDirection, ImpairmentDecider | null>>;
  readonly #flows = new Map<string, Flow>();
  readonly #queue = new DelayQueue();
  readonly #maxFlows: number;
  readonly #flowIdleMs: number;
  readonly #reorderHoldMs: number;
  readonly #bufferBytes: number;
  readonly #sweeper: NodeJS.Timeout;
  /** Flows being opened (their upstream socket binding), so concurrent datagrams wait for it. */
  readonly #opening = new Map<string, Promise<Flow | null>>();
  #closing: Promise<void> | null = null;

  private constructor(listen: Socket, options: UdpImpairmentProxyOptions) {
    this.#listen = listen;
    this.#upstream = options.upstream;
    this.#upstreamBindHost = isLoopback(options.upstream.host) ? options.upstream.host : isIP(options.upstream.host) === 6 ? '::' : '0.0.0.0';
    this.#directions = options.directions ?? 'both';
    this.#deciders = this.#decidersFor(options.impairment ?? NO_IMPAIRMENT);
    this.#maxFlows = options.maxFlows ?? 4096;
    this.#flowIdleMs = options.flowIdleMs ?? 60_000;
    this.#reorderHoldMs = options.reorderHoldMs ?? 50;
    this.#bufferBytes = options.socketBufferBytes ?? 4 * 1024 * 1024;
    listen.on('message', (datagram, from) => this.#fromClient(datagram, from));
    listen.on('error', () => {
      // A send to a client that went away (ICMP unreachable): nothing to do for one datagram.
    });
    this.#sweeper = setInterval(() => this.#closeIdleFlows(), Math.max(1000, this.#flowIdleMs / 2));
    this.#sweeper.unref();
  }

  static async start(options: UdpImpairmentProxyOptions): Promise<UdpImpairmentProxy> {
    if (isIP(options.upstream.host) === 0) throw new TypeError('udp impairment proxy: upstream.host must be an IP address');
    if (!Number.isInteger(options.upstream.port) || options.upstream.port < 1 || options.upstream.port > 65535) {
      throw new RangeError('udp impairment proxy: upstream.port must be 1..65535');
    }
    if (options.impairment !== undefined) validateImpairment(options.impairment);
    const listen = await bindSocket(options.listenHost ?? '127.0.0.1', options.listenPort ?? 0, options.socketBufferBytes ?? 4 * 1024 * 1024);
    return new UdpImpairmentProxy(listen, options);
  }

  /** Where clients send instead of the upstream. */
  get address(): UdpEndpoint {
    const { address, port } = this.#listen.address();
    return { host: address, port };
  }

  get upstream(): UdpEndpoint {
    return this.#upstream;
  }

  /**
   * New settings from the next datagram on (both directions' draws start again from the seed);
   * datagrams already delayed or held keep their fate.
   */
  setImpairment(impairment: ImpairmentSettings): void {
    validateImpairment(impairment);
    this.#deciders = this.#decidersFor(impairment);
  }

  /**
   * Sends a datagram to the client now, as if the upstream had sent it, past the filter and the
   * impairment (a test injects forged or held-back datagrams this way). Needs exactly one flow.
   */
  sendToClient(datagram: Uint8Array): void {
    if (this.#flows.size !== 1) throw new Error(`udp impairment proxy: sendToClient needs exactly one client (${this.#flows.size} now)`);
    const [flow] = this.#flows.values();
    this.#listen.send(datagram, flow!.client.port, flow!.client.host);
  }

  /**
   * Every flow gets a new upstream socket on a new port, as a NAT that rebinds; the old ones
   * are closed, and what arrives on them afterwards is lost.
   */
  async rebind(): Promise<void> {
    const old: Socket[] = [];
    for (const flow of this.#flows.values()) {
      const socket = await this.#connectedUpstreamSocket();
      old.push(flow.upstreamSocket);
      flow.upstreamSocket = socket;
      this.#listenUpstream(flow, socket);
    }
    await Promise.all(old.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }

  /** Stops forwarding and closes every socket; datagrams still delayed are dropped. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#sweeper);
      this.#queue.close();
      await Promise.allSettled([...this.#opening.values()]);
      const sockets = [this.#listen, ...[...this.#flows.values()].map((flow) => this.#forget(flow))];
      this.#flows.clear();
      await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
    })();
    return this.#closing;
  }

  #decidersFor(impairment: ImpairmentSettings): Record<ProxyDirection, ImpairmentDecider | null> {
    const directions = this.#directions;
    const decider = (direction: ProxyDirection, stream: number): ImpairmentDecider | null =>
      isImpairing(impairment) && (directions === 'both' || directions === direction) ? new ImpairmentDecider(impairment, stream) : null;
    return { toUpstream: decider('toUpstream', 0), toClient: decider('toClient', 1) };
  }

  /** A socket bound and connected to the upstream (the kernel then passes it the upstream's datagrams only). */
  async #connectedUpstreamSocket(): Promise<Socket> {
    const socket = await bindSocket(this.#upstreamBindHost, 0, this.#bufferBytes);
    await new Promise<void>((resolve) => socket.connect(this.#upstream.port, this.#upstream.host, () => resolve()));
    return socket;
  }

  /** What arrives on `socket` goes to `flow`'s client while it is the flow's upstream socket. */
  #listenUpstream(flow: Flow, socket: Socket): void {
    socket.on('message', (datagram) => {
      if (this.#closing === null && socket === flow.upstreamSocket) this.#filtered('toClient', flow, datagram);
    });
    socket.on('error', () => {
      // ICMP port unreachable from a relay that is not (yet) there: the datagram is lost.
    });
  }

  #filtered(direction: ProxyDirection, flow: Flow, datagram: Buffer): void {
    const filter = direction === 'toUpstream' ? this.toUpstream : this.toClient;
    if (filter === passAll) this.#impair(direction, flow, datagram);
    else for (const passed of filter(datagram)) this.#impair(direction, flow, passed);
  }

  #fromClient(datagram: Buffer, from: RemoteInfo): void {
    if (this.#closing !== null) return;
    const key = `${from.address}|${from.port}`;
    const flow = this.#flows.get(key);
    if (flow !== undefined) {
      this.#filtered('toUpstream', flow, datagram);
      return;
    }
    // Datagrams that arrive while the flow's socket binds wait for it, in order.
    let opening = this.#opening.get(key);
    if (opening === undefined) {
      if (this.#flows.size + this.#opening.size >= this.#maxFlows) {
        this.stats.refusedFlows++;
        return;
      }
      opening = this.#openFlow(key, { host: from.address, port: from.port });
      this.#opening.set(key, opening);
    }
    void opening.then((opened) => {
      if (opened !== null && this.#closing === null) this.#filtered('toUpstream', opened, datagram);
    });
  }

  async #openFlow(key: string, client: UdpEndpoint): Promise<Flow | null> {
    try {
      const upstreamSocket = await this.#connectedUpstreamSocket();
      const flow: Flow = { client, upstreamSocket, lastActivity: performance.now(), closed: false, heldToUpstream: null, heldToClient: null };
      this.#listenUpstream(flow, upstreamSocket);
      if (this.#closing !== null) {
        upstreamSocket.close();
        return null;
      }
      this.#flows.set(key, flow);
      this.stats.flows++;
      return flow;
    } catch {
      return null;
    } finally {
      this.#opening.delete(key);
    }
  }

  #impair(direction: ProxyDirection, flow: Flow, datagram: Buffer): void {
    flow.lastActivity = performance.now();
    const stats = this.stats[direction];
    stats.received++;
    const decider = this.#deciders[direction];
    if (decider === null) {
      this.#send(direction, flow, datagram);
      return;
    }
    const decision = decider.next();
    const heldKey = direction === 'toUpstream' ? 'heldToUpstream' : 'heldToClient';
    const held = flow[heldKey];
    if (decision.drop) {
      stats.dropped++;
    } else if (decision.reorder && held === null) {
      // Held back: it goes out right after the next datagram (or when the hold times out).
      stats.reordered++;
      if (decision.duplicate) {
        stats.duplicated++;
        this.#later(direction, flow, datagram, decision.duplicateDelayMs);
      }
      const timer = setTimeout(() => this.#release(direction, flow), this.#reorderHoldMs);
      flow[heldKey] = { datagram, delayMs: decision.delayMs, timer };
      return;
    } else {
      this.#later(direction, flow, datagram, decision.delayMs);
      if (decision.duplicate) {
        stats.duplicated++;
        this.#later(direction, flow, datagram, decision.duplicateDelayMs);
      }
    }
    if (held !== null) this.#release(direction, flow);
  }

  #release(direction: ProxyDirection, flow: Flow): void {
    const heldKey = direction === 'toUpstream' ? 'heldToUpstream' : 'heldToClient';
    const held = flow[heldKey];
    if (held === null) return;
    clearTimeout(held.timer);
    flow[heldKey] = null;
    if (this.#closing === null) this.#later(direction, flow, held.datagram, held.delayMs);
  }

  #later(direction: ProxyDirection, flow: Flow, datagram: Buffer, delayMs: number): void {
    if (delayMs <= 0) this.#send(direction, flow, datagram);
    else this.#queue.schedule(delayMs, () => this.#send(direction, flow, datagram));
  }

  #send(direction: ProxyDirection, flow: Flow, datagram: Buffer): void {
    if (this.#closing !== null || flow.closed) return;
    this.stats[direction].forwarded++;
    if (direction === 'toUpstream') flow.upstreamSocket.send(datagram);
    else this.#listen.send(datagram, flow.client.port, flow.client.host);
  }

  #closeIdleFlows(): void {
    const cutoff = performance.now() - this.#flowIdleMs;
    for (const [key, flow] of this.#flows) {
      if (flow.lastActivity < cutoff) {
        this.#flows.delete(key);
        this.#forget(flow).close();
      }
    }
  }

  /** Cancels a flow's held datagrams; returns its socket for the caller to close. */
  #forget(flow: Flow): Socket {
    flow.closed = true;
    for (const held of [flow.heldToUpstream, flow.heldToClient]) if (held !== null) clearTimeout(held.timer);
    flow.heldToUpstream = null;
    flow.heldToClient = null;
    return flow.upstreamSocket;
  }
}
