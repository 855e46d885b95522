/**
 * A recording UDP NAT in front of one relay, on loopback: the relay announces `port` as its
 * public endpoint (RELAY_PUBLIC_UDP_ENDPOINT), every client sends there, and the NAT forwards
 * each client's datagrams from an upstream socket of that client's own (the address the relay
 * latches) and the relay's answers back to that client. It keeps a copy of every datagram, both
 * ways, so a test can check what crossed the wire: that SRTP never repeats a (key, SSRC, index)
 * (RFC 3711 §9.1, docs/protocol.md §6.6) and that no plaintext shows. Unlike
 * udp-impairment-proxy.ts (one client, with filters), it serves any number of clients.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

export interface CapturedDatagram {
  readonly direction: 'to_relay' | 'to_client';
  /** The client's own port (its socket, which a move to another relay keeps). */
  readonly clientPort: number;
  /** The relay's UDP port (where the NAT forwards). */
  readonly relayPort: number;
  readonly at: number;
  readonly bytes: Buffer;
}

export class UdpCaptureNat {
  readonly captured: CapturedDatagram[] = [];
  readonly #downstream: Socket;
  readonly #upstreams = new Map<string, Promise<Socket>>();
  #relayPort = 0;
  #closed = false;

  private constructor(downstream: Socket) {
    this.#downstream = downstream;
    downstream.on('message', (message, from) => void this.#toRelay(message, from));
  }

  /** Bound now; forwards once `forwardTo` names the relay's port (which may be chosen after). */
  static async start(): Promise<UdpCaptureNat> {
    return new UdpCaptureNat(await bound());
  }

  get port(): number {
    return this.#downstream.address().port;
  }

  forwardTo(relayPort: number): void {
    this.#relayPort = relayPort;
  }

  async #toRelay(message: Buffer, from: RemoteInfo): Promise<void> {
    if (this.#closed || this.#relayPort === 0) return;
    const key = `${from.address}:${from.port}`;
    let pending = this.#upstreams.get(key);
    if (pending === undefined) {
      pending = bound().then((upstream) => {
        upstream.on('message', (answer) => {
          if (this.#closed) return;
          this.captured.push({ direction: 'to_client', clientPort: from.port, relayPort: this.#relayPort, at: performance.now(), bytes: Buffer.from(answer) });
          this.#downstream.send(answer, from.port, from.address);
        });
        return upstream;
      });
      this.#upstreams.set(key, pending);
    }
    const upstream = await pending;
    if (this.#closed) return;
    this.captured.push({ direction: 'to_relay', clientPort: from.port, relayPort: this.#relayPort, at: performance.now(), bytes: Buffer.from(message) });
    upstream.send(message, this.#relayPort, '127.0.0.1');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const upstreams = await Promise.all(this.#upstreams.values());
    await Promise.all([this.#downstream, ...upstreams].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** RTP (not RTCP, RFC 5761 §4) with version 2: the SRTP voice packets of a capture. */
export function isSrtpVoice(datagram: Buffer): boolean {
  if (datagram.length < 12 || datagram[0]! >> 6 !== 2) return false;
  const pt = datagram[1]!;
  return !(pt >= 192 && pt <= 223);
}

/**
 * SRTP voice packets that repeat an earlier one's (key, SSRC, index), keyed conservatively: a
 * key is one direction of one client's socket toward one relay port (each relay session has its
 * own keys per direction, and a move or a rotation brings new keys with a new SSRC), the index
 * the 16-bit sequence number (a test this short never wraps it). Returns the repeats.
 */
export function repeatedSrtpIndices(captured: readonly CapturedDatagram[]): string[] {
  const seen = new Set<string>();
  const repeats: string[] = [];
  for (const d of captured) {
    if (!isSrtpVoice(d.bytes)) continue;
    const seq = d.bytes.readUInt16BE(2);
    const ssrc = d.bytes.readUInt32BE(8);
    const key = `${d.direction} ${d.clientPort}->${d.relayPort} ssrc=${ssrc} seq=${seq}`;
    if (seen.has(key)) repeats.push(key);
    else seen.add(key);
  }
  return repeats;
}

async function bound(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}
