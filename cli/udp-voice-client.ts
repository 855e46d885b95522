/**
 * A voice client on a real UDP socket (127.0.0.1): ClientMediaSession (shared/client) plus the
 * socket. Used by `parley demo` and the end-to-end tests. Like any client, it answers the relay's
 * challenges at once (a keepalive echoing the cookie), which is what proves its address and
 * starts the voice (docs/protocol.md §6.3).
 */
import { createSocket, type Socket } from 'node:dgram';
import type { ClientMediaSession, ReceivedMedia } from '../shared/client/media-session.js';
import { SrtpError } from '../shared/srtp/errors.js';

export class UdpVoiceClient {
  readonly received: ReceivedMedia[] = [];
  /** Raw datagrams as they arrived, before decryption (for capture checks). */
  readonly raw: Uint8Array[] = [];
  /** Datagrams that did not authenticate with this client's keys. */
  rejected = 0;
  /** Answer challenges at once, as a client must; a test turns this off to play a non-client. */
  answerChallenges = true;
  /** Pongs that said this address is proved. */
  provedPongs = 0;
  #waiters: Array<() => void> = [];

  private constructor(
    readonly socket: Socket,
    public media: ClientMediaSession,
    private readonly relayPort: number,
    /** Extra sessions (earlier keys during a rotation overlap) to try when `media` fails. */
    readonly fallbacks: ClientMediaSession[] = [],
  ) {
    socket.on('message', (message) => {
      this.raw.push(new Uint8Array(message));
      const opened = this.#open(message);
      if (opened === null) this.rejected++;
      else this.received.push(opened);
      if (opened?.kind === 'pong') {
        if (opened.addressProved) this.provedPongs++;
        if (opened.echoNow && this.answerChallenges) this.send(this.media.protectKeepalive(timeToken()));
      }
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  static async connect(media: ClientMediaSession, relayPort: number): Promise<UdpVoiceClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new UdpVoiceClient(socket, media, relayPort);
  }

  get port(): number {
    return this.socket.address().port;
  }

  voice(): Array<Extract<ReceivedMedia, { kind: 'voice' }>> {
    return this.received.filter((r): r is Extract<ReceivedMedia, { kind: 'voice' }> => r.kind === 'voice');
  }

  send(datagram: Uint8Array): void {
    this.socket.send(datagram, this.relayPort, '127.0.0.1');
  }

  sendVoice(payload: Uint8Array): void {
    this.send(this.media.protectVoice(payload));
  }

  /**
   * Sends a keepalive and waits for a pong that says the address is proved: the relay latches
   * this socket's address, challenges it, and the answer (sent by the message handler) proves it.
   */
  async ping(timeoutMs = 2000): Promise<void> {
    const before = this.provedPongs;
    this.send(this.media.protectKeepalive(timeToken()));
    await this.waitFor(() => this.provedPongs > before, timeoutMs, 'a pong for a proved address');
  }

  /** Resolves when `condition` holds; rejects after `timeoutMs`. */
  async waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    this.media.close();
    for (const f of this.fallbacks) f.close();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  #open(datagram: Uint8Array): ReceivedMedia | null {
    for (const session of [this.media, ...this.fallbacks]) {
      try {
        return session.open(datagram);
      } catch (error) {
        if (!(error instanceof SrtpError)) throw error;
      }
    }
    return null;
  }
}

/** A keepalive token carrying the send time, for the round trip. */
export function timeToken(): Uint8Array {
  const token = new Uint8Array(8);
  new DataView(token.buffer).setFloat64(0, performance.now());
  return token;
}

/** Waits a fixed time: for "nothing arrives" checks, bounded and short. */
export function settle(ms = 200): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
