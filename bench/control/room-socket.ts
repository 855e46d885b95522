/**
 * A channel room's WebSocket for the control-plane benchmark (docs/protocol.md §5): the client's
 * side of authentication, the key exchange (shared/client's ClientKeyExchange, the SDK's own,
 * so both confirmations are checked), rotations and leave, with no media plane — the benchmark
 * measures the room, and a UDP socket per join would only load this process.
 */
import WebSocket from 'ws';
import { ClientKeyExchange } from '../../shared/client/voice-key-exchange.js';
import { encodeClientMessage, parseRoomMessage, type ClientMessage, type RoomMessage, type RoomMessageOf } from '../../shared/client/voice-messages.js';

/** The room answered with `error` (its code), or closed the socket, where the benchmark expected an answer. */
export class RoomAnswerError extends Error {
  override readonly name = 'RoomAnswerError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const ANSWER_TIMEOUT_MS = 15_000;

export class RoomSocket {
  readonly #ws: WebSocket;
  readonly #channelId: string;
  readonly #closed: Promise<number>;
  #waiter: { readonly types: ReadonlySet<string>; readonly replyTo: string | undefined; readonly match: ((m: RoomMessage) => boolean) | undefined; readonly resolve: (m: RoomMessage) => void; readonly reject: (e: Error) => void } | null = null;
  #subject = '';

  private constructor(ws: WebSocket, channelId: string) {
    this.#ws = ws;
    this.#channelId = channelId;
    this.#closed = new Promise((resolve) => ws.once('close', (code) => {
      this.#waiter?.reject(new RoomAnswerError('closed', `the room closed the socket (${code})`));
      this.#waiter = null;
      resolve(code);
    }));
    ws.on('error', () => {}); // reported through 'close'
    ws.on('message', (data) => {
      const message = parseRoomMessage(data.toString());
      if (message === null || this.#waiter === null) return;
      if (message.type === 'error') {
        this.#waiter.reject(new RoomAnswerError(message.code, `the room answered error ${message.code}`));
        this.#waiter = null;
      } else if (
        this.#waiter.types.has(message.type) &&
        (this.#waiter.replyTo === undefined || ('replyTo' in message && message.replyTo === this.#waiter.replyTo)) &&
        (this.#waiter.match === undefined || this.#waiter.match(message))
      ) {
        this.#waiter.resolve(message);
        this.#waiter = null;
      }
      // Anything else (presence of other members, pongs) is not what this client waits for.
    });
  }

  /** Opens the channel's voice socket and authenticates with `token` (§5.4). */
  static async authenticate(controlUrl: string, channelId: string, token: string): Promise<RoomSocket> {
    const url = new URL(`v1/channels/${encodeURIComponent(channelId)}/voice`, `${controlUrl}/`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url, { handshakeTimeout: ANSWER_TIMEOUT_MS });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_request, response) => reject(new RoomAnswerError('upgrade_refused', `the room refused the upgrade (HTTP ${response.statusCode ?? 0})`)));
      ws.once('error', reject);
    });
    const socket = new RoomSocket(ws, channelId);
    const authenticated = (await socket.#ask({ type: 'authenticate', token }, 'authenticated')) as RoomMessageOf<'authenticated'>;
    socket.#subject = authenticated.subject;
    return socket;
  }

  /**
   * One key exchange (§5.5): init → key_exchange_response → key_confirmation → voice_ready, the
   * room's confirmation verified. A join on a socket not in voice, a rotation after
   * rekey_required on one that is. Resolves with the SSRC.
   */
  async exchange(): Promise<number> {
    const exchange = new ClientKeyExchange({ channelId: this.#channelId, subject: this.#subject });
    try {
      const response = (await this.#ask(exchange.init(), 'key_exchange_response')) as RoomMessageOf<'key_exchange_response'>;
      const ready = (await this.#ask(exchange.respond(response), 'voice_ready')) as RoomMessageOf<'voice_ready'>;
      return exchange.complete(ready).ssrc;
    } finally {
      exchange.wipe();
    }
  }

  /** Asks for new keys (§5.8) and runs the rotation's exchange. Resolves with the new SSRC. */
  async rotate(): Promise<number> {
    await this.#ask({ type: 'request_rekey' }, 'rekey_required');
    return this.exchange();
  }

  /** `ping` → `pong` (§5.3): one small message each way, the socket's floor. */
  async ping(): Promise<void> {
    await this.#ask({ type: 'ping', id: 'p' }, 'pong');
  }

  /**
   * `set_state` with `muted` (§5.7): the room tells the relay at once and sends the member's
   * new state to everyone in the room (this socket's copy answers the request).
   */
  async setMuted(muted: boolean): Promise<void> {
    await this.#ask({ type: 'set_state', id: 'm', muted }, 'member_updated');
  }

  /**
   * `speaking` (§5.6): the room sends the member's new state to everyone in the room, with no
   * relay call and no answer of its own; resolves on this member's update. The room sends at
   * most 5 changes a second per member (later ones wait), so callers space them.
   */
  async setSpeaking(speaking: boolean): Promise<void> {
    await this.#ask({ type: 'speaking', speaking }, 'member_updated', (m) => m.type === 'member_updated' && m.member.subject === this.#subject && m.member.speaking === speaking);
  }

  /** `leave` (§5.11): the room ends the voice session (revoked on the relay) and closes with 1000. */
  async leave(): Promise<number> {
    this.#ws.send(encodeClientMessage({ type: 'leave' }));
    return this.#closed;
  }

  /** Closes without leave (a socket not in voice: nothing to keep). */
  async close(): Promise<number> {
    this.#ws.close(1000);
    return this.#closed;
  }

  #ask(message: ClientMessage & { readonly id?: string }, answer: RoomMessage['type'], match?: (m: RoomMessage) => boolean): Promise<RoomMessage> {
    return new Promise<RoomMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = null;
        reject(new RoomAnswerError('timeout', `no ${answer} within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      this.#waiter = {
        types: new Set([answer]),
        // Another member's presence event has the same type: wait for the answer to this request.
        replyTo: message.id,
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#ws.send(encodeClientMessage(message));
    });
  }
}
