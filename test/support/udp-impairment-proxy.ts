/**
 * A userspace UDP proxy between one client and a relay, on loopback: the client sends to
 * `port`, the proxy forwards from its own upstream socket (the address the relay latches) and
 * sends the relay's answers back to the client. Each direction passes through a filter that may
 * drop, hold back (reorder) or pass datagrams; `rebind()` swaps the upstream socket for a new one
 * on another port, as a NAT that rebinds does.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

/** Given one datagram, the datagrams to forward now (none: dropped or held; several: released). */
export type DatagramFilter = (datagram: Buffer) => Buffer[];

export const passAll: DatagramFilter = (datagram) => [datagram];
export const dropAll: DatagramFilter = () => [];

/** RTP (voice), as opposed to RTCP/SRTCP, by RFC 5761 §4's second-byte rule. */
export function isRtp(datagram: Buffer): boolean {
  const pt = datagram[1] ?? 0;
  return !(pt >= 192 && pt <= 223);
}

export class UdpImpairmentProxy {
  toRelay: DatagramFilter = passAll;
  toClient: DatagramFilter = passAll;
  readonly #downstream: Socket;
  #upstream: Socket;
  #client: RemoteInfo | null = null;
  readonly #relayPort: number;

  private constructor(downstream: Socket, upstream: Socket, relayPort: number) {
    this.#downstream = downstream;
    this.#upstream = upstream;
    this.#relayPort = relayPort;
    downstream.on('message', (message, from) => {
      this.#client = from;
      for (const d of this.toRelay(message)) this.#upstream.send(d, this.#relayPort, '127.0.0.1');
    });
    this.#listenUpstream(upstream);
  }

  static async start(relayPort: number): Promise<UdpImpairmentProxy> {
    return new UdpImpairmentProxy(await bound(), await bound(), relayPort);
  }

  /** Where the client sends. */
  get port(): number {
    return this.#downstream.address().port;
  }

  /** The address the relay sees. */
  get upstreamPort(): number {
    return this.#upstream.address().port;
  }

  /** A new upstream socket (a new source port toward the relay); the old one is closed. */
  async rebind(): Promise<void> {
    const old = this.#upstream;
    this.#upstream = await bound();
    this.#listenUpstream(this.#upstream);
    await new Promise<void>((resolve) => old.close(() => resolve()));
  }

  /** Sends a datagram to the client now, as if it came from the relay (one held back by a filter). */
  sendToClient(datagram: Buffer): void {
    if (this.#client === null) throw new Error('udp impairment proxy: no client yet');
    this.#downstream.send(datagram, this.#client.port, this.#client.address);
  }

  async close(): Promise<void> {
    await Promise.all([this.#downstream, this.#upstream].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  #listenUpstream(socket: Socket): void {
    socket.on('message', (message) => {
      if (this.#client === null || socket !== this.#upstream) return;
      for (const d of this.toClient(message)) this.#downstream.send(d, this.#client.port, this.#client.address);
    });
  }
}

async function bound(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}
