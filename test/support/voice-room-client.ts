/**
 * A test client of a channel room's WebSocket (docs/protocol.md §5), written from the protocol
 * alone: it queues what the room sends (each message checked against the room's schemas),
 * waits for a given type, and runs the client's side of the key exchange (§5.5) with
 * shared/keys. Works over any WHATWG-style WebSocket: workerd's in workers tests, undici's in
 * Node end-to-end tests.
 */
import { bytesToHex } from '../../shared/bytes.js';
import { deriveSessionKeys, generateEphemeralKeyPair, type SessionKeys } from '../../shared/keys/index.js';
import { decodeBase64Url, encodeBase64Url } from '../../shared/relay-api/base64url.js';
import type { SrtpProfileName } from '../../shared/srtp/profiles.js';
import { RoomMessage, type RoomMessageOf } from '../../control/src/room/room-messages.js';

export interface SocketLike {
  send(data: string | ArrayBuffer | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
  readonly readyState: number;
}

type Waiter = { readonly types: ReadonlySet<string> | null; readonly resolve: (m: RoomMessage) => void; readonly reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> };

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

export class VoiceRoomClient {
  readonly socket: SocketLike;
  /** Every message received, in order. */
  readonly received: RoomMessage[] = [];
  readonly #queue: RoomMessage[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #closed: Promise<Closed>;
  #closedValue: Closed | null = null;
  /** Messages that failed the room's schema (should stay empty). */
  readonly invalid: unknown[] = [];

  constructor(socket: SocketLike) {
    this.socket = socket;
    socket.addEventListener('message', (event) => this.#onMessage(event.data));
    this.#closed = new Promise((resolve) => {
      socket.addEventListener('close', (event) => {
        this.#closedValue = { code: event.code, reason: event.reason };
        for (const waiter of this.#waiters.splice(0)) {
          clearTimeout(waiter.timer);
          waiter.reject(new Error(`socket closed (${event.code}) while waiting for ${waiter.types === null ? 'a message' : [...waiter.types].join('|')}`));
        }
        resolve(this.#closedValue);
      });
    });
  }

  #onMessage(data: unknown): void {
    const text = typeof data === 'string' ? data : new TextDecoder().decode(data as ArrayBuffer);
    const parsed = RoomMessage.safeParse(JSON.parse(text));
    if (!parsed.success) {
      this.invalid.push(JSON.parse(text));
      return;
    }
    const message = parsed.data;
    this.received.push(message);
    const index = this.#waiters.findIndex((w) => w.types === null || w.types.has(message.type));
    if (index >= 0) {
      const [waiter] = this.#waiters.splice(index, 1);
      clearTimeout(waiter!.timer);
      waiter!.resolve(message);
    } else {
      this.#queue.push(message);
    }
  }

  send(message: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(message));
  }

  sendRaw(data: string | Uint8Array): void {
    this.socket.send(data);
  }

  /** The next message of one of `types` (earlier messages of other types stay queued). */
  next<T extends RoomMessage['type']>(types: T | readonly T[], timeoutMs = 10_000): Promise<RoomMessageOf<T>> {
    const wanted = new Set<string>(Array.isArray(types) ? types : [types]);
    const index = this.#queue.findIndex((m) => wanted.has(m.type));
    if (index >= 0) return Promise.resolve(this.#queue.splice(index, 1)[0] as RoomMessageOf<T>);
    if (this.#closedValue !== null) return Promise.reject(new Error(`socket closed (${this.#closedValue.code})`));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        types: wanted,
        resolve: resolve as (m: RoomMessage) => void,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          reject(new Error(`no ${[...wanted].join('|')} within ${timeoutMs} ms; queued: ${this.#queue.map((m) => m.type).join(',')}`));
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /** Queued messages not yet taken by next(), then forgotten. */
  drain(): RoomMessage[] {
    return this.#queue.splice(0);
  }

  closed(): Promise<Closed> {
    return this.#closed;
  }

  get isClosed(): boolean {
    return this.#closedValue !== null;
  }

  close(code = 1000): void {
    try {
      this.socket.close(code);
    } catch {
      // already closed
    }
  }

  async authenticate(token: string, extra: Record<string, unknown> = {}): Promise<RoomMessageOf<'authenticated'>> {
    this.send({ type: 'authenticate', token, ...extra });
    return this.next('authenticated');
  }

  /**
   * The client's side of §5.5: a fresh key pair, the init, checks of the response, the
   * confirmation, and the server's confirmation verified. Returns the derived keys (the caller
   * wipes them) and the room's answers.
   */
  async joinVoice(expect: { subject: string; channelId: string }, options: { profile?: SrtpProfileName; muted?: boolean } = {}): Promise<JoinedVoice> {
    const pair = generateEphemeralKeyPair();
    this.send({
      type: 'key_exchange_init',
      clientPublicKey: encodeBase64Url(pair.publicKey),
      ...(options.profile === undefined ? {} : { profile: options.profile }),
      ...(options.muted === undefined ? {} : { muted: options.muted }),
    });
    const response = await this.next(['key_exchange_response', 'error']);
    if (response.type === 'error') throw new Error(`key exchange refused: ${response.code}`);
    if (response.userId !== expect.subject || response.channelId !== expect.channelId) throw new Error('key exchange: the transcript is not ours');
    const keys = deriveSessionKeys({
      role: 'client',
      privateKey: pair.privateKey,
      transcript: {
        protocolVersion: response.protocolVersion,
        sessionId: response.sessionId,
        userId: response.userId,
        channelId: response.channelId,
        relayId: response.relayId,
        ssrc: response.ssrc,
        profile: response.profile,
        clientPublicKey: pair.publicKey,
        serverPublicKey: decodeBase64Url(response.serverPublicKey)!,
      },
    });
    pair.privateKey.fill(0);
    this.send({ type: 'key_confirmation', clientConfirmation: encodeBase64Url(keys.clientConfirmation) });
    const ready = await this.next(['voice_ready', 'error']);
    if (ready.type === 'error') throw new Error(`key confirmation refused: ${ready.code}`);
    keys.verifyPeerConfirmation(decodeBase64Url(ready.serverConfirmation)!);
    return { response, ready, keys, transcriptHash: bytesToHex(keys.transcriptHash) };
  }
}

export interface JoinedVoice {
  readonly response: RoomMessageOf<'key_exchange_response'>;
  readonly ready: RoomMessageOf<'voice_ready'>;
  readonly keys: SessionKeys;
  readonly transcriptHash: string;
}
