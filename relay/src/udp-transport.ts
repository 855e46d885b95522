/**
 * The relay's UDP socket: the I/O edge around DatagramRouter. Receives datagrams, hands them
 * to the router synchronously, and sends what the router asks for.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { DatagramSink } from './datagram-router.js';
import type { RemoteAddress } from './relay-session.js';

export interface UdpTransportOptions {
  readonly host: string;
  readonly port: number;
  /** Kernel receive buffer, bytes: room for bursts while the event loop is busy. */
  readonly receiveBufferBytes?: number;
  readonly sendBufferBytes?: number;
}

export type DatagramHandler = (datagram: Uint8Array, from: RemoteAddress) => void;

export class UdpTransport implements DatagramSink {
  readonly #socket: Socket;
  #closed = false;
  /** Sends the kernel refused (buffer full, unreachable): counted, never thrown. */
  sendErrors = 0;

  private constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Binds the socket and starts delivering datagrams to `onDatagram`. */
  static async bind(options: UdpTransportOptions, onDatagram: DatagramHandler, onError: (error: Error) => void): Promise<UdpTransport> {
    // fly.io's UDP needs the socket bound to the `fly-global-services` address, which is IPv4.
    const socket = createSocket({ type: options.host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    const transport = new UdpTransport(socket);
    socket.on('message', (message, rinfo) => onDatagram(message, rinfo));
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
    return transport;
  }

  get port(): number {
    return this.#socket.address().port;
  }

  send(datagram: Uint8Array, to: RemoteAddress): void {
    if (this.#closed) return;
    this.#socket.send(datagram, to.port, to.address, (error) => {
      if (error) this.sendErrors++;
    });
  }

  /** Stops receiving and releases the port. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }
}
