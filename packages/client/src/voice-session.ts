/**
 * A channel's voice, joined (docs/protocol.md §5 and §6): the WebSocket to the channel's room
 * (authenticate, the key exchange with both confirmations, presence, fresh tokens, rotation,
 * moves, resume after a disconnect) and the media plane (MediaTransport: UDP to the relay).
 *
 * The pure parts live in shared/client: the messages (voice-messages.ts), the exchange
 * (voice-key-exchange.ts), the roster (voice-roster.ts). This file moves bytes and keeps time.
 *
 * What the application sees: `frame` events naming the speaker (SSRC → member from the
 * roster), presence events, and `closed` once. Rotations (`rekey_required`), moves
 * (`voice_moved`) and reconnects are handled here without the application doing anything.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { encodeClientMessage, parseRoomMessage, RoomMessageError, closeEndsSession, type ClientMessage, type RoomMessage, type RoomMessageOf, type RosterEntry } from '../../../shared/client/voice-messages.js';
import { ClientKeyExchange, KeyExchangeError, type NegotiatedMedia } from '../../../shared/client/voice-key-exchange.js';
import { VoiceRoster } from '../../../shared/client/voice-roster.js';
import type { JitterBufferOptions } from '../../../shared/client/jitter-buffer.js';
import type { KeepaliveScheduleOptions } from '../../../shared/client/keepalive-schedule.js';
import type { SrtpProfileName } from '../../../shared/srtp/profiles.js';
import type { SrtpMasterKeys } from '../../../shared/srtp/master-keys.js';
import { wipeBytes } from '../../../shared/bytes.js';
import { MediaTransport, type MediaKeys, type MediaTransportStats, type ReceivedFrame } from './media-transport.js';
import { ClosedError, ConnectionError, ProtocolError, VoiceError } from './errors.js';
import type { ParleyClient } from './parley-client.js';

export interface JoinVoiceOptions {
  /** SRTP profile to ask for (default aes128gcm, §2.1). */
  readonly profile?: SrtpProfileName;
  /** `Origin` header for the upgrade (browsers send one; a native client need not, §5.2). */
  readonly origin?: string;
  /** How long each step of the join may take: the upgrade, `authenticated`, the exchange (default 15 s). */
  readonly stepTimeoutMs?: number;
  readonly jitter?: JitterBufferOptions;
  readonly keepalive?: KeepaliveScheduleOptions;
  /** RTP timestamp step per frame when sendAudio() is not told (default 960: 20 ms at 48 kHz). */
  readonly timestampStep?: number;
  readonly payloadType?: number;
  /**
   * Keep a copy of the negotiated SRTP parameters for exportKeys(): for debugging with standard
   * SRTP tools, or for a media plane of the application's own (`media: 'none'`). They are
   * secrets; the copy is wiped on close and replaced on every rotation or move. Default false.
   */
  readonly exportKeys?: boolean;
  /**
   * `udp` (default): the session runs the media plane (MediaTransport, §6). `none`: only the room
   * and the key exchange; the application sends and receives SRTP itself with exportKeys()
   * (which this needs). Rotations and moves still run here; `rekeyed` says when the keys changed.
   */
  readonly media?: 'udp' | 'none';
}

/** The SRTP parameters one key exchange negotiated (§3.4, §5.5), as exportKeys() gives them. */
export interface ExportedSrtpParameters {
  readonly profile: SrtpProfileName;
  /** This client's SSRC on the relay. */
  readonly ssrc: number;
  readonly sessionId: string;
  readonly relayId: string;
  /** Where this client sends its SRTP (the relay's UDP endpoint). */
  readonly udpEndpoint: { readonly host: string; readonly port: number };
  /** What this client protects. */
  readonly clientToRelay: SrtpMasterKeys;
  /** What this client opens. */
  readonly relayToClient: SrtpMasterKeys;
  /** When the relay stops accepting these keys (ms since the epoch); a rotation comes before. */
  readonly keysExpireAt: number;
}

/** A frame of another member's voice, with who sent it. */
export interface VoiceFrame extends ReceivedFrame {
  /** The speaker's subject (`usr_…` or `ak_…:…`), or undefined for an SSRC the roster never named. */
  readonly subject: string | undefined;
  /** The speaker's roster entry now (undefined once they left). */
  readonly member: RosterEntry | undefined;
}

export type VoiceCloseReason =
  /** close() was called. */
  | { readonly kind: 'left' }
  /** The room ended the session (kicked, banned, logged out, token expired, channel deleted, …) or it could not be kept. */
  | { readonly kind: 'ended'; readonly error: VoiceError };

export interface VoiceSessionEvents {
  frame: [frame: VoiceFrame];
  memberJoined: [member: RosterEntry];
  memberUpdated: [member: RosterEntry, previous: RosterEntry | undefined];
  memberLeft: [info: { readonly subject: string; readonly reason: string; readonly member: RosterEntry | undefined }];
  /** The whole roster again (after a reconnect). */
  roster: [members: readonly RosterEntry[]];
  /** New keys and SSRC (a rotation, §5.8), the relay may have changed (a move, §5.9). */
  rekeyed: [info: { readonly purpose: 'join' | 'rotate' | 'move'; readonly ssrc: number; readonly relayId: string }];
  /** The socket dropped; reconnecting (voice keeps flowing on the relay meanwhile, §5.10). */
  reconnecting: [info: { readonly attempt: number; readonly closeCode: number }];
  /** Reconnected: `resumed` true if the voice session was resumed, false if joined afresh. */
  reconnected: [info: { readonly resumed: boolean }];
  /** The room is moving this session to another relay (§5.9); `rekeyed` (purpose move) follows. */
  moving: [info: { readonly reason: string; readonly relayId: string | undefined }];
  /** The relay stopped answering keepalives (reported to the room, §5.9), or answers again. */
  relayUnreachable: [];
  relayReachable: [];
  rtt: [ms: number];
  /** An `error` from the room about a message of this client's (§5.12); the socket stays open. */
  roomError: [error: VoiceError];
  closed: [reason: VoiceCloseReason];
}

export type ModerationAction = 'server_mute' | 'server_unmute' | 'kick' | 'ban';
const MODERATION_ACTIONS: ReadonlySet<string> = new Set<ModerationAction>(['server_mute', 'server_unmute', 'kick', 'ban']);
const EXCHANGE_ERROR_CODES = new Set(['bad_public_key', 'key_confirmation_failed', 'exchange_timeout', 'no_exchange', 'no_relay_available', 'relay_unavailable', 'forbidden', 'already_in_voice', 'not_in_voice']);
const CLOSE_CODE_NAMES: Record<number, string> = {
  1000: 'normal',
  1008: 'policy_violation',
  1009: 'message_too_big',
  4001: 'token_expired',
  4002: 'unauthorized',
  4003: 'logged_out',
  4004: 'kicked',
  4005: 'banned',
  4006: 'channel_deleted',
  4007: 'moved',
  4008: 'rate_limited',
  4009: 'forbidden',
};
/** §5.13: reconnect with exponential backoff starting at 250 ms. */
const RECONNECT_FIRST_DELAY_MS = 250;
const RECONNECT_MAX_DELAY_MS = 5000;
/** A move's exchange is tried this often before the error reaches the application (§5.9). */
const MOVE_ATTEMPTS = 4;
const MOVE_RETRY_FIRST_DELAY_MS = 250;
const MOVE_RETRY_CODES = new Set(['relay_unavailable', 'unavailable', 'exchange_timeout', 'no_exchange', 'timeout']);
/** A text ping now and then keeps proxies from closing an idle socket (§5.3). */
const SOCKET_PING_INTERVAL_MS = 30_000;

interface Waiter {
  readonly accept: (message: RoomMessage) => boolean;
  readonly resolve: (message: RoomMessage) => void;
  readonly reject: (error: Error) => void;
}

export class VoiceSession extends EventEmitter<VoiceSessionEvents> {
  readonly channelId: string;
  readonly #client: ParleyClient;
  readonly #options: JoinVoiceOptions;
  readonly #roster = new VoiceRoster();
  readonly #waiters = new Set<Waiter>();
  #socket: WebSocket | null = null;
  #transport: MediaTransport | null = null;
  #subject = '';
  #voice: { sessionId: string; relayId: string; resumeToken: string; resumeWindowMs: number; keysExpireAt: number } | null = null;
  #exchange: ClientKeyExchange | null = null;
  /** With `exportKeys`: a copy of the newest keys (wiped on close and on replacement). */
  #exported: ExportedSrtpParameters | null = null;
  /** Exchanges run one at a time (a rotation asked for during a move waits for it). */
  #exchanges: Promise<unknown> = Promise.resolve();
  #nextRequestId = 1;
  #pingTimer: NodeJS.Timeout | null = null;
  #reconnecting = false;
  #closed: Promise<void> | null = null;
  #disown: (() => void) | null = null;
  readonly #onTokenRenewed = () => void this.#sendFreshToken();

  private constructor(client: ParleyClient, channelId: string, options: JoinVoiceOptions) {
    super();
    this.#client = client;
    this.channelId = channelId;
    this.#options = options;
  }

  /** Connects, authenticates, runs the key exchange and starts the media plane. @internal: use ParleyClient.joinVoice(). */
  static async join(client: ParleyClient, channelId: string, options: JoinVoiceOptions = {}): Promise<VoiceSession> {
    if (typeof channelId !== 'string' || channelId.length === 0) throw new TypeError('voice: channelId must be a non-empty string');
    if (options.media === 'none' && options.exportKeys !== true) throw new TypeError("voice: media 'none' needs exportKeys: true (the application runs the media plane with those keys)");
    const session = new VoiceSession(client, channelId, options);
    session.#disown = client.own(() => session.close());
    try {
      const authenticated = await session.#connect(null);
      session.#applyAuthenticated(authenticated);
      await session.#runExchange();
    } catch (error) {
      await session.#end(null);
      throw error;
    }
    client.on('tokenRenewed', session.#onTokenRenewed);
    return session;
  }

  /** Your subject (`usr_…`, or `ak_…:…` for a minted token). */
  get subject(): string {
    return this.#subject;
  }

  /** Your SSRC on the relay now (it changes on a rotation or move). */
  get ssrc(): number {
    return this.#transport?.ssrc ?? 0;
  }

  get sessionId(): string | undefined {
    return this.#voice?.sessionId;
  }

  get relayId(): string | undefined {
    return this.#voice?.relayId;
  }

  get closed(): boolean {
    return this.#closed !== null;
  }

  /** Everyone in the room (members with a socket or a session in its resume window). */
  get members(): RosterEntry[] {
    return this.#roster.members();
  }

  /** The member an SSRC belongs to. */
  memberBySsrc(ssrc: number): RosterEntry | undefined {
    return this.#roster.memberBySsrc(ssrc);
  }

  /** Sends one frame of audio (one Opus packet) to the channel. See MediaTransport.sendAudio. */
  sendAudio(payload: Uint8Array, options: { readonly marker?: boolean; readonly duration?: number } = {}): void {
    if (this.#closed !== null || this.#transport === null) throw new ClosedError('The voice session');
    this.#transport.sendAudio(payload, options);
  }

  /** Your own mute (the relay drops your voice) and deafen (it sends you none), §5.6. */
  setState(state: { readonly muted?: boolean; readonly deafened?: boolean }): void {
    if (state.muted === undefined && state.deafened === undefined) throw new TypeError('voice: setState needs muted, deafened or both');
    this.#send({ type: 'set_state', ...(state.muted === undefined ? {} : { muted: state.muted }), ...(state.deafened === undefined ? {} : { deafened: state.deafened }) });
  }

  /** Tells the room whether you are speaking (advisory, §5.6). */
  setSpeaking(speaking: boolean): void {
    this.#send({ type: 'speaking', speaking });
  }

  /**
   * Moderates another member (§5.7): `server_mute`/`server_unmute` (the relay drops their voice
   * whatever their own mute says), `kick` (their socket closed with 4004), `ban` (a channel ban,
   * then as a kick with 4005). Needs `moderate` in the channel. Resolves once the room has
   * applied it on the relay (`moderated`: for a kick or a ban, their relay session is gone);
   * rejects with a VoiceError of the room's code (`forbidden`, `subject_not_found`, …).
   */
  async moderate(action: ModerationAction, subject: string, options: { readonly reason?: string } = {}): Promise<void> {
    if (!MODERATION_ACTIONS.has(action)) throw new TypeError(`voice: moderate needs one of ${[...MODERATION_ACTIONS].join(', ')}`);
    if (typeof subject !== 'string' || subject.length === 0) throw new TypeError('voice: moderate needs the subject to moderate');
    const id = `md${this.#nextRequestId++}`;
    this.#send({ type: 'moderate', action, subject, ...(options.reason === undefined ? {} : { reason: options.reason }), id });
    // Registered in the same tick as the send: the answer cannot arrive before.
    this.#throwIfError(await this.#waitFor((m) => (m.type === 'moderated' || m.type === 'error') && m.replyTo === id, 'moderated'));
  }

  /** New keys and SSRC now (§5.8): resolves once they are in use. */
  async rekey(): Promise<void> {
    this.#send({ type: 'request_rekey' });
    await this.#runExchange();
  }

  /**
   * The SRTP parameters in use now (copies: the caller wipes them when done). Needs the
   * `exportKeys` option. They are secrets: whoever holds them can listen and speak as you.
   */
  exportKeys(): ExportedSrtpParameters {
    if (this.#closed !== null) throw new ClosedError('The voice session');
    if (this.#options.exportKeys !== true) throw new TypeError('voice: exportKeys() needs the exportKeys option of joinVoice()');
    const held = this.#exported;
    if (held === null) throw new ClosedError('The voice session');
    const copy = (keys: SrtpMasterKeys): SrtpMasterKeys => ({ masterKey: keys.masterKey.slice(), masterSalt: keys.masterSalt.slice() });
    return { ...held, udpEndpoint: { ...held.udpEndpoint }, clientToRelay: copy(held.clientToRelay), relayToClient: copy(held.relayToClient) };
  }

  stats(): MediaTransportStats | null {
    return this.#transport?.stats() ?? null;
  }

  /** Leaves the channel's voice (§5.11), closes the socket and the UDP socket, wipes every key. Idempotent. */
  close(): Promise<void> {
    return this.#end({ kind: 'left' });
  }

  // ---- the socket ------------------------------------------------------------------------

  /** Opens a socket and authenticates on it (with a resume, after a disconnect); the `authenticated` message. */
  async #connect(resume: { readonly sessionId: string; readonly resumeToken: string } | null): Promise<RoomMessageOf<'authenticated'>> {
    const url = this.#client.api.url(`v1/channels/${encodeURIComponent(this.channelId)}/voice`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const timeoutMs = this.#options.stepTimeoutMs ?? 15_000;
    const socket = new WebSocket(url, {
      handshakeTimeout: timeoutMs,
      maxPayload: 1 << 20,
      ...(this.#options.origin === undefined ? {} : { origin: this.#options.origin }),
    });
    this.#socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('unexpected-response', (_request, response) => {
        reject(new VoiceError('upgrade_refused', `voice: the room refused the WebSocket upgrade (HTTP ${response.statusCode ?? 0})`));
        response.resume();
        socket.terminate();
      });
      socket.once('error', (error) => reject(new ConnectionError(`voice: cannot connect to ${url.host}`, { cause: error })));
    });
    socket.on('error', () => {}); // reported through 'close'
    socket.on('message', (data, isBinary) => this.#onFrame(socket, data, isBinary));
    socket.on('close', (code) => this.#onSocketClosed(socket, code));
    const token = await this.#client.accessToken();
    // The id lets the room's error about it (unavailable while its database is down: new
    // joins fail closed, §5.9) end the wait at once instead of at the step timeout.
    const authId = `auth${this.#nextRequestId++}`;
    const authenticated = this.#waitFor((m) => m.type === 'authenticated' || (m.type === 'error' && m.replyTo === authId), 'authenticated');
    this.#send({ type: 'authenticate', id: authId, token, ...(resume === null ? {} : { resume }) });
    const message = this.#throwIfError(await authenticated) as RoomMessageOf<'authenticated'>;
    if (this.#pingTimer === null) {
      this.#pingTimer = setInterval(() => {
        if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send('{"type":"ping"}');
      }, SOCKET_PING_INTERVAL_MS);
      this.#pingTimer.unref();
    }
    return message;
  }

  #onFrame(socket: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    if (socket !== this.#socket || isBinary) return; // the room sends text only (§5.3)
    let message: RoomMessage | null;
    try {
      message = parseRoomMessage(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
    } catch (error) {
      this.#rejectWaiters(new ProtocolError(error instanceof RoomMessageError ? error.message : 'voice: unreadable message from the room'));
      return;
    }
    if (message === null) return; // a type this client does not know yet
    for (const waiter of this.#waiters) {
      if (waiter.accept(message)) {
        this.#waiters.delete(waiter);
        waiter.resolve(message);
        return;
      }
    }
    this.#onRoomMessage(message);
  }

  /** Messages nobody waits for: presence, rotations, moves, notices. */
  #onRoomMessage(message: RoomMessage): void {
    switch (message.type) {
      case 'member_joined':
        this.#roster.joined(message.member);
        this.emit('memberJoined', message.member);
        return;
      case 'member_updated': {
        const change = this.#roster.updated(message.member);
        this.emit('memberUpdated', message.member, change.kind === 'updated' ? change.previous : undefined);
        return;
      }
      case 'member_left': {
        const change = this.#roster.left(message.subject, message.reason);
        this.emit('memberLeft', { subject: message.subject, reason: message.reason, member: change.kind === 'left' ? change.member : undefined });
        return;
      }
      case 'rekey_required':
        // §5.8: a new exchange at once (the room names the purpose in its answer). One already
        // running (this client's own request_rekey) is the answer.
        if (this.#exchange !== null) return;
        this.#runExchange().catch((error: unknown) => this.#emitRoomError(error));
        return;
      case 'voice_moved':
        // §5.9: the old relay session is gone; a new exchange puts this client on the new relay.
        this.emit('moving', { reason: message.reason ?? 'relay_failed', relayId: message.relayId });
        this.#moveExchange().catch((error: unknown) => this.#emitRoomError(error));
        return;
      case 'token_expiring':
        // A fresh token on this socket before expiry (§5.4): renewing emits tokenRenewed, which sends it.
        this.#client.refresh().catch(() => {});
        return;
      case 'authenticated':
        this.#applyAuthenticated(message); // the answer to a fresh token: the current roster
        return;
      case 'error':
        this.emit('roomError', new VoiceError(message.code, message.message));
        return;
      default:
        return;
    }
  }

  #applyAuthenticated(message: RoomMessageOf<'authenticated'>): void {
    this.#subject = message.subject;
    this.#roster.reset(message.roster);
    this.emit('roster', this.#roster.members());
  }

  #send(message: ClientMessage & { readonly id?: string }): void {
    if (this.#closed !== null) throw new ClosedError('The voice session');
    const socket = this.#socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN) throw new ConnectionError('voice: the socket to the room is not open (reconnecting)');
    socket.send(encodeClientMessage(message));
  }

  #waitFor(accept: (message: RoomMessage) => boolean, what: string): Promise<RoomMessage> {
    const timeoutMs = this.#options.stepTimeoutMs ?? 15_000;
    return new Promise<RoomMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new VoiceError('timeout', `voice: no ${what} from the room within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        accept,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  #rejectWaiters(error: Error): void {
    for (const waiter of this.#waiters) waiter.reject(error);
    this.#waiters.clear();
  }

  async #sendFreshToken(): Promise<void> {
    if (this.#closed !== null || this.#socket?.readyState !== WebSocket.OPEN) return;
    try {
      this.#send({ type: 'authenticate', token: await this.#client.accessToken() });
    } catch {
      // The socket closed meanwhile: the reconnect authenticates with the fresh token.
    }
  }

  // ---- the key exchange (§5.5) -----------------------------------------------------------

  /** Runs one exchange (join, rotate or move: the room decides) and puts its keys to use. */
  #runExchange(): Promise<void> {
    const run = this.#exchanges.then(() => this.#exchangeOnce());
    this.#exchanges = run.catch(() => {});
    return run;
  }

  async #exchangeOnce(): Promise<void> {
    if (this.#closed !== null) throw new ClosedError('The voice session');
    const exchange = new ClientKeyExchange({ channelId: this.channelId, subject: this.#subject, ...(this.#options.profile === undefined ? {} : { profile: this.#options.profile }) });
    this.#exchange?.wipe();
    this.#exchange = exchange;
    try {
      const initId = `kx${this.#nextRequestId++}`;
      const response = this.#waitFor((m) => m.type === 'key_exchange_response' || this.#isExchangeError(m, initId), 'key_exchange_response');
      this.#send({ ...exchange.init(), id: initId });
      const answer = this.#throwIfError(await response);
      if (answer.type !== 'key_exchange_response') throw new ProtocolError('voice: unexpected answer to key_exchange_init');
      const confirmationId = `kc${this.#nextRequestId++}`;
      const ready = this.#waitFor((m) => m.type === 'voice_ready' || this.#isExchangeError(m, confirmationId), 'voice_ready');
      this.#send({ ...exchange.respond(answer), id: confirmationId });
      const readyMessage = this.#throwIfError(await ready);
      if (readyMessage.type !== 'voice_ready') throw new ProtocolError('voice: unexpected answer to key_confirmation');
      let media: NegotiatedMedia;
      try {
        media = exchange.complete(readyMessage);
      } catch (error) {
        // §5.5: a server confirmation that does not match abandons the session.
        try {
          this.#send({ type: 'leave' });
        } catch {
          // the socket is gone anyway
        }
        throw error;
      }
      this.#voice = { sessionId: readyMessage.sessionId, relayId: readyMessage.relayId, resumeToken: readyMessage.resumeToken, resumeWindowMs: readyMessage.resumeWindowMs, keysExpireAt: readyMessage.keysExpireAt };
      if (this.#options.exportKeys === true) this.#keepExported(media, readyMessage);
      await this.#useMedia(media, readyMessage.udpEndpoint);
    } catch (error) {
      if (error instanceof KeyExchangeError) throw new VoiceError(error.reason, error.message);
      throw error;
    } finally {
      exchange.wipe();
      if (this.#exchange === exchange) this.#exchange = null;
    }
  }

  /**
   * The exchange after `voice_moved` (§5.9). The room keeps the move owed until its timeout, so
   * an install the new relay refused (`relay_unavailable`) or a lost confirmation is tried again,
   * a few times with backoff.
   */
  async #moveExchange(): Promise<void> {
    let delay = MOVE_RETRY_FIRST_DELAY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#runExchange();
        return;
      } catch (error) {
        const retryable = error instanceof VoiceError && MOVE_RETRY_CODES.has(error.code);
        if (!retryable || attempt >= MOVE_ATTEMPTS || this.#closed !== null) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay *= 2;
    }
  }

  #isExchangeError(message: RoomMessage, requestId: string): boolean {
    return message.type === 'error' && (message.replyTo === requestId || (message.replyTo === undefined && EXCHANGE_ERROR_CODES.has(message.code)));
  }

  #throwIfError(message: RoomMessage): RoomMessage {
    if (message.type === 'error') throw new VoiceError(message.code, message.message);
    return message;
  }

  async #useMedia(media: NegotiatedMedia, endpoint: { readonly host: string; readonly port: number }): Promise<void> {
    const keys: MediaKeys = { ssrc: media.ssrc, profile: media.profile, sendKeys: media.sendKeys, receiveKeys: media.receiveKeys };
    try {
      if (this.#options.media === 'none') {
        // The application runs the media plane with exportKeys().
      } else if (this.#transport === null) {
        this.#transport = await MediaTransport.open({
          endpoint,
          keys,
          ...(this.#options.jitter === undefined ? {} : { jitter: this.#options.jitter }),
          ...(this.#options.keepalive === undefined ? {} : { keepalive: this.#options.keepalive }),
          ...(this.#options.timestampStep === undefined ? {} : { timestampStep: this.#options.timestampStep }),
          ...(this.#options.payloadType === undefined ? {} : { payloadType: this.#options.payloadType }),
        });
        this.#wireTransport(this.#transport);
      } else if (media.purpose === 'rotate') {
        this.#transport.rotate(keys);
      } else {
        // A move, or a fresh join after a resume failed: another relay session, maybe another relay.
        await this.#transport.move(endpoint, keys);
      }
    } finally {
      // The transport's SRTP contexts hold their own copies.
      wipeBytes(media.sendKeys.masterKey, media.sendKeys.masterSalt, media.receiveKeys.masterKey, media.receiveKeys.masterSalt);
    }
    this.emit('rekeyed', { purpose: media.purpose, ssrc: media.ssrc, relayId: media.relayId });
  }

  #keepExported(media: NegotiatedMedia, ready: RoomMessageOf<'voice_ready'>): void {
    this.#wipeExported();
    const copy = (keys: SrtpMasterKeys): SrtpMasterKeys => ({ masterKey: keys.masterKey.slice(), masterSalt: keys.masterSalt.slice() });
    this.#exported = {
      profile: media.profile,
      ssrc: media.ssrc,
      sessionId: ready.sessionId,
      relayId: ready.relayId,
      udpEndpoint: { host: ready.udpEndpoint.host, port: ready.udpEndpoint.port },
      clientToRelay: copy(media.sendKeys),
      relayToClient: copy(media.receiveKeys),
      keysExpireAt: ready.keysExpireAt,
    };
  }

  #wipeExported(): void {
    const held = this.#exported;
    this.#exported = null;
    if (held !== null) wipeBytes(held.clientToRelay.masterKey, held.clientToRelay.masterSalt, held.relayToClient.masterKey, held.relayToClient.masterSalt);
  }

  #wireTransport(transport: MediaTransport): void {
    transport.on('frame', (frame) => {
      this.emit('frame', { ...frame, subject: this.#roster.subjectBySsrc(frame.ssrc), member: this.#roster.memberBySsrc(frame.ssrc) });
    });
    transport.on('rtt', (ms) => this.emit('rtt', ms));
    transport.on('unreachable', () => {
      this.emit('relayUnreachable');
      const relayId = this.#voice?.relayId;
      if (relayId === undefined) return;
      try {
        this.#send({ type: 'relay_unreachable', relayId }); // §5.9: the room probes and may move the channel
      } catch {
        // reconnecting: the room's own alarm watches the relay too
      }
    });
    transport.on('reachable', () => this.emit('relayReachable'));
  }

  #emitRoomError(error: unknown): void {
    if (this.#closed !== null) return;
    this.emit('roomError', error instanceof VoiceError ? error : new VoiceError('client_error', error instanceof Error ? error.message : String(error)));
  }

  // ---- disconnects (§5.10, §5.13) ---------------------------------------------------------

  #onSocketClosed(socket: WebSocket, code: number): void {
    if (socket !== this.#socket) return;
    this.#socket = null;
    this.#rejectWaiters(new ConnectionError(`voice: the socket to the room closed (${code})`));
    if (this.#closed !== null) return;
    if (closeEndsSession(code)) {
      void this.#end({ kind: 'ended', error: new VoiceError(CLOSE_CODE_NAMES[code] ?? 'closed', `voice: the room closed the session (${code} ${CLOSE_CODE_NAMES[code] ?? ''})`.trim(), code) });
      return;
    }
    if (this.#voice === null) return; // still joining: join() sees the rejection and gives up
    void this.#reconnect(code);
  }

  /** Reconnects with backoff and resumes within the window, or joins afresh (§5.10). */
  async #reconnect(closeCode: number): Promise<void> {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    const started = performance.now();
    const windowMs = this.#voice?.resumeWindowMs ?? 30_000;
    let delay = RECONNECT_FIRST_DELAY_MS;
    try {
      for (let attempt = 1; this.#closed === null; attempt++) {
        this.emit('reconnecting', { attempt, closeCode });
        await new Promise((resolve) => setTimeout(resolve, delay));
        if (this.#closed !== null) return;
        delay = Math.min(delay * 2, RECONNECT_MAX_DELAY_MS);
        const voice = this.#voice;
        try {
          const authenticated = await this.#connect(voice === null ? null : { sessionId: voice.sessionId, resumeToken: voice.resumeToken });
          this.#applyAuthenticated(authenticated);
          if (authenticated.resumed && authenticated.voice !== undefined && voice !== null) {
            this.#voice = { ...voice, resumeToken: authenticated.voice.resumeToken, resumeWindowMs: authenticated.voice.resumeWindowMs, keysExpireAt: authenticated.voice.keysExpireAt };
            this.emit('reconnected', { resumed: true });
          } else {
            await this.#runExchange();
            this.emit('reconnected', { resumed: false });
          }
          return;
        } catch (error) {
          if (this.#closed !== null) return;
          if (error instanceof VoiceError && error.closeCode !== undefined && closeEndsSession(error.closeCode)) return; // #onSocketClosed ended it
          this.#socket?.terminate();
          this.#socket = null;
          if (performance.now() - started > windowMs) {
            await this.#end({ kind: 'ended', error: new VoiceError('disconnected', `voice: could not reconnect to the room within ${windowMs} ms`) });
            return;
          }
        }
      }
    } finally {
      this.#reconnecting = false;
    }
  }

  async #end(reason: VoiceCloseReason | null): Promise<void> {
    this.#closed ??= (async () => {
      this.#client.off('tokenRenewed', this.#onTokenRenewed);
      this.#disown?.();
      if (this.#pingTimer !== null) clearInterval(this.#pingTimer);
      this.#exchange?.wipe();
      this.#wipeExported();
      this.#rejectWaiters(new ClosedError('The voice session'));
      const socket = this.#socket;
      this.#socket = null;
      if (socket !== null) {
        if (socket.readyState === WebSocket.OPEN && reason?.kind === 'left' && this.#voice !== null) socket.send(encodeClientMessage({ type: 'leave' }));
        await closeSocket(socket);
      }
      await this.#transport?.close();
      this.#voice = null;
      if (reason !== null) this.emit('closed', reason);
      this.removeAllListeners();
    })();
    return this.#closed;
  }
}

/** Closes a WebSocket, waiting (at most 2 s) for the room's close frame. */
async function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      socket.terminate();
      resolve();
    }, 2000);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    else socket.close(1000);
  });
}

