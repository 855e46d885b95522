/**
 * ChannelRoom: the Durable Object that is one channel's voice room (docs/protocol.md §5). One
 * per channel (`idFromName(channelId)`), holding every WebSocket of the channel through the
 * hibernation API, so an idle room costs nothing and wakes on the next message or alarm with
 * its sockets intact.
 *
 * This class is the edge: it receives socket events, the alarm and RPC calls from the HTTP
 * side (logins ended, a channel deleted, a ban), parses, and calls the modules that decide:
 *
 *   room-messages.ts     every message, both directions     message-rate-limit.ts  §5.3 limits
 *   room-auth.ts         who may be here (§5.4)              key-exchange.ts        §5.5, memory only
 *   relay-catalog.ts     which relay                         ssrc-allocation.ts     SSRC unique per relay
 *   relay-sessions.ts    install/update/revoke on the relay  presence.ts            roster and events
 *   moderation.ts        who may moderate whom               resume.ts              resume tokens
 *   room-alarm.ts        every deadline on one alarm         room-state.ts          what is kept where
 *   relay-failover.ts    when and where to move a channel's sessions (§5.9)
 *
 * Ordering: messages of one socket are handled one at a time, in order (a queue per socket),
 * so a confirmation never overtakes its init; sockets run concurrently, so every handler reads
 * the socket's attachment and the sessions again after each await. Presence events are the
 * difference between the roster last published and now, published right after each change:
 * each change goes out once, in the order the room made it, and an SSRC is announced to
 * listeners before the member is told to use it.
 */
import { DurableObject } from 'cloudflare:workers';
import { assertUsablePublicKey, isKeyScheduleError } from '../../../shared/keys/index.js';
import { wipeSessionKeyMaterial } from '../../../shared/relay-api/sealed-keys.js';
import type { ControlBindings } from '../bindings.js';
import { banSubject } from '../channels/ban-service.js';
import { hasPermission, permissionsFromBits } from '../channels/permissions.js';
import { ControlConfigError, loadControlConfig, type ControlConfig } from '../config.js';
import { openDatabase, type Database } from '../db/client.js';
import { classifyDatabaseError } from '../db/database-errors.js';
import { ApiError } from '../http/errors.js';
import { newId } from '../ids.js';
import { ExchangeError, PendingExchanges, startExchange, type PendingExchange } from './key-exchange.js';
import { forgetRoomLogin, recordRoomLogin } from './login-sockets.js';
import { MessageRateLimiter } from './message-rate-limit.js';
import { decideModeration } from './moderation.js';
import { buildRoster, presenceEvents, SpeakingLimiter, type Roster } from './presence.js';
import { clientLocationFrom, type ClientLocation } from '../relays/relay-selection.js';
import { chooseRelay, databaseRelayCatalog, isRelayUsable, type RelayCatalog } from './relay-catalog.js';
import { RelayCallError, RelaySessions, RELAY_PROBE_TIMEOUT_MS } from './relay-sessions.js';
import { chooseMoveTarget, directoryVerdict, ProbeLimiter, probeVerdict, sameRun, type RelayRun } from './relay-failover.js';
import { nextRevocationAttemptAt, revocationKey } from './relay-revocations.js';
import { newResumeToken, resumeTokenMatches } from './resume.js';
import { admitToRoom, principalOf } from './room-auth.js';
import { AUTH_TIMEOUT_MS, CONFIRM_TIMEOUT_MS, dueDeadlines, nextAlarmAt, roomDeadlines, type RoomDeadline } from './room-alarm.js';
import {
  CLOSE_CODES,
  MAX_MESSAGE_BYTES,
  parseClientMessage,
  ROOM_ERROR_MESSAGES,
  type ClientMessage,
  type ClientMessageOf,
  type CloseCode,
  type MemberLeftReason,
  type MoveReason,
  type RekeyReason,
  type ResumedVoice,
  type RoomErrorCode,
  type RoomMessage,
  type RosterEntry,
} from './room-messages.js';
import {
  KEY_EXPIRY_GRACE_MS,
  newSocketAttachment,
  readSocketAttachment,
  STORAGE_KEYS,
  voiceKeysIssuedAt,
  type PendingRevocation,
  type RelayRef,
  type RoomRecord,
  type SocketAttachment,
  type VoiceSessionRecord,
} from './room-state.js';
import { allocateSsrc, releaseSessionSsrcs, releaseSsrc, SsrcAllocationError } from './ssrc-allocation.js';
import { decodeKey32, webCryptoX25519, type X25519Agreement } from './x25519-agreement.js';

/** Set by the Worker's route (http/voice-routes.ts) on the request it forwards; clients cannot. */
export const ROOM_CHANNEL_HEADER = 'x-parley-channel-id';
/** Also set by the route: where the client is, as JSON (relays/relay-selection.ts ClientLocation). */
export const ROOM_LOCATION_HEADER = 'x-parley-client-location';

/**
 * A relay's usage report for keys installed less than this long ago is about the keys they
 * replaced (a heartbeat built before the rotation): it is ignored, so one report never causes
 * two rotations. Far below the time any key set takes to reach the soft limit (§2.8).
 */
const USAGE_REPORT_SETTLE_MS = 30_000;
/** WebSocket.readyState of an open socket (WHATWG). */
const READY_STATE_OPEN = 1;

/** What a close code means for the socket's voice session (§5.13). */
function closeEndsSession(code: CloseCode): boolean {
  return code !== CLOSE_CODES.goingAway && code !== CLOSE_CODES.internalError && code !== CLOSE_CODES.messageTooBig && code !== CLOSE_CODES.moved;
}

const LEFT_REASON_BY_CLOSE: Partial<Record<CloseCode, MemberLeftReason>> = {
  [CLOSE_CODES.normal]: 'left',
  [CLOSE_CODES.tokenExpired]: 'token_expired',
  [CLOSE_CODES.unauthorized]: 'left',
  [CLOSE_CODES.loggedOut]: 'logged_out',
  [CLOSE_CODES.kicked]: 'kicked',
  [CLOSE_CODES.banned]: 'banned',
  [CLOSE_CODES.channelDeleted]: 'channel_deleted',
  [CLOSE_CODES.forbidden]: 'removed',
  [CLOSE_CODES.rateLimited]: 'left',
};

/** A socket with the attachment it carries. */
interface RoomSocket {
  readonly ws: WebSocket;
  readonly a: SocketAttachment;
}

interface LogFields {
  readonly [field: string]: string | number | boolean | null | undefined;
}

export interface RoomSummary {
  readonly channelId: string | null;
  readonly relayId: string | null;
  readonly sockets: number;
  readonly pendingExchanges: number;
  readonly sessions: ReadonlyArray<
    Pick<VoiceSessionRecord, 'sessionId' | 'subject' | 'ssrc' | 'installed' | 'socketId' | 'resumableUntil' | 'muted' | 'deafened'> & { relayId: string; bootId: string; moving: MoveReason | null }
  >;
  readonly pendingRevocations: number;
}

export class ChannelRoom extends DurableObject<ControlBindings> {
  /** The room's clock. Tests move it (runInDurableObject) rather than wait. */
  clock: () => number = () => Date.now();
  /** X25519 for the room's side of exchanges: the runtime's WebCrypto (x25519-agreement.ts). */
  agreement: X25519Agreement = webCryptoX25519;
  /** The room's requests to relays (§8). Tests put a faulty network path in front of a real relay. */
  relayFetch: (request: Request) => Promise<Response> = (request) => fetch(request);

  /** Settles once the room has read its storage (events wait for it anyway: blockConcurrencyWhile). */
  readonly loaded: Promise<void>;

  readonly #config: ControlConfig | null;
  #db: Database | null = null;
  #catalog: RelayCatalog | null = null;
  #relays: RelaySessions | null = null;

  #room: RoomRecord | null = null;
  readonly #sessions = new Map<string, VoiceSessionRecord>();
  readonly #serverMuted = new Set<string>();
  readonly #revocations = new Map<string, PendingRevocation>();

  // In memory only (see each module for why that is enough).
  readonly #exchanges = new PendingExchanges();
  readonly #limiters = new Map<string, MessageRateLimiter>();
  readonly #queues = new Map<string, Promise<void>>();
  readonly #authStarted = new Set<string>();
  readonly #gone = new Set<string>();
  readonly #speaking = new SpeakingLimiter();
  readonly #pendingSpeaking = new Map<string, boolean>();
  /** What each socket's attachment holds, as last written or read (#attachment). */
  readonly #attachments = new WeakMap<WebSocket, SocketAttachment>();
  readonly #probes = new ProbeLimiter();
  #published: Roster = new Map();
  #relayChoice: Promise<RelayRef | null> | null = null;
  #alarmAt: number | null = null;
  #lastCheckAt: number;

  constructor(ctx: DurableObjectState, env: ControlBindings) {
    super(ctx, env);
    let config: ControlConfig | null = null;
    try {
      config = loadControlConfig(env as unknown as Record<string, unknown>);
    } catch (error) {
      if (!(error instanceof ControlConfigError)) throw error;
      console.error(JSON.stringify({ level: 'error', event: 'room_misconfigured', problems: error.problems }));
    }
    this.#config = config;
    this.#lastCheckAt = Date.now();
    // `{"type":"ping"}` is answered by the runtime without waking the room (§5.3).
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    this.loaded = ctx.blockConcurrencyWhile(() => this.#load());
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  async #load(): Promise<void> {
    const storage = this.ctx.storage;
    this.#room = (await storage.get<RoomRecord>(STORAGE_KEYS.room)) ?? null;
    for (const [, record] of await storage.list<VoiceSessionRecord>({ prefix: STORAGE_KEYS.sessionPrefix })) this.#sessions.set(record.sessionId, record);
    for (const [key] of await storage.list<true>({ prefix: STORAGE_KEYS.serverMutedPrefix })) this.#serverMuted.add(key.slice(STORAGE_KEYS.serverMutedPrefix.length));
    for (const [, revocation] of await storage.list<PendingRevocation>({ prefix: STORAGE_KEYS.revocationPrefix })) this.#revocations.set(revocationKey(revocation.sessionId, revocation.relay), revocation);
    this.#alarmAt = await storage.getAlarm();
    // What the sockets were last told is what the state says now: every change is published
    // as it is made. Sessions found orphaned below change it, and that goes out.
    this.#published = this.#roster();
    const reconciled = this.#reconcileSessions(this.clock());
    this.#log('info', 'room_started', { sockets: this.#sockets().length, sessions: this.#sessions.size, orphaned: reconciled });
    if (reconciled > 0) this.#publish();
    await this.#scheduleAlarm();
  }

  /**
   * Sessions whose socket is not among the room's open sockets lost it while the room was not
   * running (a restart closes every socket): their resume window starts now. Hibernation keeps
   * sockets, so a room that merely hibernated finds them all. Returns how many it marked.
   */
  #reconcileSessions(now: number): number {
    const socketIds = new Set(this.#sockets().map((s) => s.a.socketId));
    let marked = 0;
    for (const session of this.#sessions.values()) {
      if (session.socketId === null || socketIds.has(session.socketId)) continue;
      marked++;
      if (!session.installed) {
        // The room died during the install: the client never got voice_ready. End it.
        void this.#endSession(session.sessionId);
        continue;
      }
      this.#putSession({ ...session, socketId: null, resumableUntil: now + this.#voiceConfig().resumeWindowMs });
    }
    return marked;
  }

  #voiceConfig() {
    return this.#requireConfig().voice;
  }

  #requireConfig(): ControlConfig {
    if (this.#config === null) throw new Error('room: misconfigured');
    return this.#config;
  }

  #database(): Database {
    this.#db ??= openDatabase(this.#requireConfig().database);
    return this.#db;
  }

  #relayCatalog(): RelayCatalog {
    this.#catalog ??= databaseRelayCatalog(this.#database());
    return this.#catalog;
  }

  #relaySessions(): RelaySessions {
    const config = this.#requireConfig();
    // Signed with the real time: the relay checks it against its own clock (§8.2).
    this.#relays ??= new RelaySessions({ apiKey: config.relays.apiKey, fetch: (request) => this.relayFetch(request), now: () => Date.now() });
    return this.#relays;
  }

  /** Tests and local tools: the room hands out its relay catalog instead of the database's. */
  useRelayCatalog(catalog: RelayCatalog): void {
    this.#catalog = catalog;
  }

  /** Tests: the room queries this database from now on (one that cannot be reached, case 23). */
  useDatabase(db: Database): void {
    this.#db = db;
    this.#catalog = null;
  }

  // ---- the upgrade -------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') {
      return Response.json({ error: 'upgrade_required', message: 'Open this URL as a WebSocket.' }, { status: 426 });
    }
    const channelId = request.headers.get(ROOM_CHANNEL_HEADER);
    if (this.#config === null || channelId === null) {
      return Response.json({ error: this.#config === null ? 'misconfigured' : 'internal_error', message: 'The voice room is unavailable.' }, { status: 503 });
    }
    if (this.#room === null) {
      this.#room = { v: 1, channelId, channelName: '', pinnedRegion: null, relay: null };
      void this.ctx.storage.put(STORAGE_KEYS.room, this.#room);
    } else if (this.#room.channelId !== channelId) {
      this.#log('error', 'room_channel_mismatch', {});
      return Response.json({ error: 'internal_error', message: 'Something went wrong on our side.' }, { status: 500 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const socketId = newId('req').slice(4);
    this.ctx.acceptWebSocket(server, [socketId]);
    server.serializeAttachment(newSocketAttachment(socketId, this.clock(), AUTH_TIMEOUT_MS, clientLocationHeader(request.headers.get(ROOM_LOCATION_HEADER))));
    await this.#scheduleAlarm();
    return new Response(null, { status: 101, webSocket: client });
  }

  // ---- socket events -----------------------------------------------------------------------

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const a = this.#attachment(ws);
    if (a === null) {
      this.#rawClose(ws, CLOSE_CODES.internalError, 'internal error');
      return;
    }
    if (messageBytes(message) > MAX_MESSAGE_BYTES) {
      await this.#closeSocket(ws, CLOSE_CODES.messageTooBig, 'message too big');
      return;
    }
    const now = this.clock();
    let limiter = this.#limiters.get(a.socketId);
    if (limiter === undefined) {
      limiter = new MessageRateLimiter(now);
      this.#limiters.set(a.socketId, limiter);
    }
    const verdict = limiter.admit(now);
    if (verdict === 'close') {
      await this.#closeSocket(ws, CLOSE_CODES.rateLimited, 'rate limited');
      return;
    }
    if (verdict !== 'accept') {
      if (verdict === 'drop_and_notify') this.#sendError(ws, 'rate_limited');
      return;
    }

    const firstMessage = a.identity === null && !this.#authStarted.has(a.socketId);
    if (typeof message !== 'string') {
      if (firstMessage) return void (await this.#closeSocket(ws, CLOSE_CODES.policyViolation, 'authenticate first'));
      this.#sendError(ws, 'invalid_message', { message: 'Binary frames are not accepted; send JSON text.' });
      return;
    }
    const parsed = parseClientMessage(message);
    if (firstMessage) {
      if (!parsed.ok || parsed.message.type !== 'authenticate') {
        await this.#closeSocket(ws, CLOSE_CODES.policyViolation, 'authenticate first');
        return;
      }
      this.#authStarted.add(a.socketId);
    }
    if (!parsed.ok) {
      const { code, message: text, field, replyTo } = parsed.refusal;
      this.#sendError(ws, code, { message: text, field, replyTo });
      return;
    }
    const request = parsed.message;
    await this.#enqueue(a.socketId, async () => {
      try {
        await this.#dispatch(ws, request);
      } catch (error) {
        // A database the room cannot reach (case 23) is the client's to retry, not a bug; a
        // database error's message holds the statement's parameters, so only names are logged.
        const database = classifyDatabaseError(error);
        if (database?.failure === 'unavailable') {
          this.#log('warn', 'database_unavailable', { type: request.type, chain: database.chain.join(' < '), code: database.code });
          return this.#sendError(ws, 'unavailable', { replyTo: request.id });
        }
        this.#log('error', 'room_handler_failed', { type: request.type, error: error instanceof Error ? error.name : 'unknown' });
        this.#sendError(ws, 'internal_error', { replyTo: request.id });
      }
    });
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    await this.#socketGone(ws, code);
    // Complete the closing handshake (a no-op where the runtime already answered the close).
    this.#rawClose(ws, CLOSE_CODES.normal, '');
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.#socketGone(ws, 1006);
  }

  /** A socket the client (or the network) closed: its session becomes resumable (§5.10). */
  async #socketGone(ws: WebSocket, code: number): Promise<void> {
    const a = this.#attachment(ws);
    if (a === null || a.closing || this.#gone.has(a.socketId)) return;
    this.#gone.add(a.socketId);
    this.#forgetSocketMemory(a.socketId);
    const session = a.voiceSessionId === null ? undefined : this.#sessions.get(a.voiceSessionId);
    if (session !== undefined && session.socketId === a.socketId) {
      if (session.installed) {
        this.#putSession({ ...session, socketId: null, resumableUntil: this.clock() + this.#voiceConfig().resumeWindowMs });
      } else {
        void this.#endSession(session.sessionId);
      }
    }
    this.#publish({ leftReasons: a.identity === null ? undefined : new Map([[a.identity.subject, 'disconnected' as const]]) });
    this.#log('info', 'socket_closed', { code, inVoice: session !== undefined });
    await this.#forgetLoginIfGone(a.identity?.loginId);
    await this.#scheduleAlarm();
  }

  #forgetSocketMemory(socketId: string): void {
    const exchange = this.#exchanges.drop(socketId);
    if (exchange !== undefined) void this.#releaseExchangeSsrc(exchange);
    this.#limiters.delete(socketId);
    this.#authStarted.delete(socketId);
    this.#pendingSpeaking.delete(socketId);
  }

  #enqueue(socketId: string, task: () => Promise<void>): Promise<void> {
    const previous = this.#queues.get(socketId) ?? Promise.resolve();
    const next = previous.then(task, task);
    this.#queues.set(socketId, next);
    void next.finally(() => {
      if (this.#queues.get(socketId) === next) this.#queues.delete(socketId);
    });
    return next;
  }

  async #dispatch(ws: WebSocket, message: ClientMessage): Promise<void> {
    const a = this.#attachment(ws);
    if (a === null || a.closing || this.#gone.has(a.socketId)) return;
    switch (message.type) {
      case 'authenticate':
        return this.#onAuthenticate(ws, message);
      case 'key_exchange_init':
        return this.#onKeyExchangeInit(ws, message);
      case 'key_confirmation':
        return this.#onKeyConfirmation(ws, message);
      case 'set_state':
        return this.#onSetState(ws, message);
      case 'speaking':
        return this.#onSpeaking(ws, message);
      case 'moderate':
        return this.#onModerate(ws, message);
      case 'leave':
        return this.#onLeave(ws);
      case 'request_rekey':
        return this.#onRequestRekey(ws, message);
      case 'relay_unreachable':
        return this.#onRelayUnreachable(ws, message);
      case 'ping':
        return this.#send(ws, { type: 'pong', ...(message.id === undefined ? {} : { replyTo: message.id }) });
    }
  }

  // ---- authentication (§5.4) and resume (§5.10) ------------------------------------------

  async #onAuthenticate(ws: WebSocket, message: ClientMessageOf<'authenticate'>): Promise<void> {
    const room = this.#room;
    if (room === null) return this.#closeSocket(ws, CLOSE_CODES.internalError, 'internal error');
    const now = this.clock();
    const db = this.#database();
    const before = this.#attachment(ws)?.identity ?? null;
    // A fresh token must be for the same subject and login (§5.4), decided before anything else.
    const sameAs = before === null ? undefined : { subject: before.subject, loginId: before.loginId };
    const admission = await admitToRoom(db, this.#requireConfig(), message.token, room.channelId, now, sameAs);
    let a = this.#attachment(ws);
    if (a === null || a.closing) return;
    if (!admission.ok) {
      this.#log('info', 'room_auth_refused', { reason: admission.reason, code: admission.closeCode });
      return this.#closeSocket(ws, admission.closeCode, closeReasonText(admission.closeCode));
    }
    const first = a.identity === null;
    this.#room = { ...room, channelName: admission.channel.name, pinnedRegion: admission.channel.region };
    void this.ctx.storage.put(STORAGE_KEYS.room, this.#room);
    if (first) await recordRoomLogin(db, admission.identity.loginId, room.channelId, now);
    a = this.#attachment(ws);
    if (a === null || a.closing) return;
    this.#setAttachment(ws, { ...a, identity: admission.identity });

    let resumed: { voice: ResumedVoice } | { error: 'unknown_session' | 'expired' | 'mismatch' } | null = null;
    if (first && message.resume !== undefined) resumed = await this.#resume(ws, message.resume, this.clock());

    this.#publish({ excludeSocketId: first ? this.#attachment(ws)?.socketId : undefined });
    this.#send(ws, {
      type: 'authenticated',
      ...(message.id === undefined ? {} : { replyTo: message.id }),
      subject: admission.identity.subject,
      name: admission.identity.name,
      channel: { id: admission.channel.id, name: admission.channel.name },
      permissions: permissionsFromBits(admission.identity.permissions),
      tokenExpiresAt: admission.identity.tokenExpiresAt,
      resumed: resumed !== null && 'voice' in resumed,
      ...(resumed !== null && 'error' in resumed ? { resumeError: resumed.error } : {}),
      ...(resumed !== null && 'voice' in resumed ? { voice: resumed.voice } : {}),
      roster: [...this.#published.values()],
    });
    // A resumed session that owes a rotation is told again: the old socket may never have seen it.
    if (resumed !== null && 'voice' in resumed) {
      const session = this.#sessions.get(resumed.voice.sessionId);
      const move = session?.move ?? null;
      const rekey = session?.rekey ?? null;
      // So is a move it owes (§5.9): the move replaces the rotation.
      if (move !== null) this.#send(ws, { type: 'voice_moved', reason: move.reason, relayId: move.relay.relayId });
      else if (rekey !== null) this.#send(ws, { type: 'rekey_required', reason: rekey.reason });
    }
    this.#log('info', 'room_authenticated', { kind: admission.identity.kind, fresh: !first, resumed: resumed !== null && 'voice' in resumed });
    await this.#scheduleAlarm();
  }

  async #resume(
    ws: WebSocket,
    resume: { sessionId: string; resumeToken: string },
    now: number,
  ): Promise<{ voice: ResumedVoice } | { error: 'unknown_session' | 'expired' | 'mismatch' }> {
    const a = this.#attachment(ws)!;
    const identity = a.identity!;
    const session = this.#sessions.get(resume.sessionId);
    if (session === undefined || !session.installed) return { error: 'unknown_session' };
    if (session.subject !== identity.subject || session.loginId !== identity.loginId || !resumeTokenMatches(resume.resumeToken, session.resumeTokenHash)) {
      return { error: 'mismatch' };
    }
    if (session.resumableUntil !== null && session.resumableUntil <= now) {
      await this.#endSession(session.sessionId, 'disconnected');
      return { error: 'expired' };
    }
    // The session's old socket may still look open (a half-open TCP connection): it moves here.
    if (session.socketId !== null && session.socketId !== a.socketId) {
      for (const old of this.ctx.getWebSockets(session.socketId)) {
        const oldAttachment = this.#attachment(old);
        if (oldAttachment !== null) this.#setAttachment(old, { ...oldAttachment, voiceSessionId: null });
        await this.#closeSocket(old, CLOSE_CODES.moved, 'moved');
      }
    }
    const token = newResumeToken();
    this.#putSession({ ...session, socketId: a.socketId, resumableUntil: null, resumeTokenHash: token.hash });
    this.#setAttachment(ws, { ...this.#attachment(ws)!, voiceSessionId: session.sessionId });
    this.#log('info', 'voice_resumed', {});
    return { voice: this.#voiceOf(this.#sessions.get(session.sessionId)!, token.token) };
  }

  #voiceOf(session: VoiceSessionRecord, resumeToken: string, purpose: ResumedVoice['purpose'] = 'join'): ResumedVoice {
    return {
      purpose,
      sessionId: session.sessionId,
      relayId: session.relay.relayId,
      udpEndpoint: session.udpEndpoint!,
      ssrc: session.ssrc,
      profile: session.profile,
      keysExpireAt: session.keysExpireAt,
      resumeToken,
      resumeWindowMs: this.#voiceConfig().resumeWindowMs,
    };
  }

  // ---- the key exchange (§5.5) -------------------------------------------------------------

  async #onKeyExchangeInit(ws: WebSocket, message: ClientMessageOf<'key_exchange_init'>): Promise<void> {
    const a = this.#attachment(ws)!;
    const identity = a.identity!;
    const replyTo = message.id;
    if (!hasPermission(identity.permissions, 'listen') && !hasPermission(identity.permissions, 'speak')) {
      return this.#sendError(ws, 'forbidden', { replyTo });
    }
    // On a socket in voice, an init is a move once the room moved the session (§5.9), else a
    // rotation once the room asked for one (§5.8).
    const inVoice = a.voiceSessionId === null ? undefined : this.#sessions.get(a.voiceSessionId);
    const moving = inVoice?.installed === true && (inVoice.move ?? null) !== null ? inVoice : undefined;
    const rotating = moving === undefined && inVoice?.installed === true && (inVoice.rekey ?? null) !== null ? inVoice : undefined;
    const continuing = moving ?? rotating;
    if (a.voiceSessionId !== null && continuing === undefined) {
      return this.#sendError(ws, 'already_in_voice', { replyTo });
    }
    if (continuing !== undefined && message.profile !== undefined && message.profile !== continuing.profile) {
      return this.#sendError(ws, 'invalid_message', { replyTo, field: 'profile', message: 'profile: a rotation or move keeps the session\'s profile.' });
    }
    const clientPublicKey = decodeKey32(message.clientPublicKey);
    try {
      if (clientPublicKey === null) throw new ExchangeError('bad_public_key');
      assertUsablePublicKey(clientPublicKey, 'clientPublicKey');
    } catch (error) {
      if (error instanceof ExchangeError || isKeyScheduleError(error)) return this.#sendError(ws, 'bad_public_key', { replyTo, field: 'clientPublicKey' });
      throw error;
    }
    // A new init replaces a pending one at once, so its SSRC is never kept for nothing.
    const replaced = this.#exchanges.drop(a.socketId);
    if (replaced !== undefined) void this.#releaseExchangeSsrc(replaced);

    // A rotation stays on its session's relay, under its session id, with a new SSRC (§6.5); a
    // move keeps the session id and goes to the relay the room chose for it (§5.9).
    const relay = moving?.move?.relay ?? rotating?.relay ?? (await this.#relayForChannel(a.location));
    if (relay === null) return this.#sendError(ws, 'no_relay_available', { replyTo });
    const room = this.#room!;
    const sessionId = continuing?.sessionId ?? newId('vs');
    let ssrc: number;
    try {
      ssrc = await allocateSsrc(this.#database(), {
        relayId: relay.relayId,
        bootId: relay.bootId,
        sessionId,
        channelId: room.channelId,
        now: this.clock(),
        cooldownMs: this.#voiceConfig().keyMaxAgeMs + KEY_EXPIRY_GRACE_MS,
      });
    } catch (error) {
      if (error instanceof SsrcAllocationError) return this.#sendError(ws, 'relay_unavailable', { replyTo });
      throw error;
    }
    let exchange: PendingExchange;
    try {
      exchange = await startExchange(
        this.agreement,
        {
          purpose: moving !== undefined ? 'move' : rotating !== undefined ? 'rotate' : 'join',
          sessionId,
          userId: identity.subject,
          channelId: room.channelId,
          relay,
          ssrc,
          profile: continuing?.profile ?? message.profile ?? 'aes128gcm',
          clientPublicKey: clientPublicKey!,
          muted: continuing?.muted ?? message.muted ?? false,
          deafened: continuing?.deafened ?? message.deafened ?? false,
        },
        this.clock() + CONFIRM_TIMEOUT_MS,
      );
    } catch (error) {
      await releaseSsrc(this.#database(), relay.relayId, relay.bootId, ssrc, sessionId, this.clock());
      if (error instanceof ExchangeError) return this.#sendError(ws, 'bad_public_key', { replyTo, field: 'clientPublicKey' });
      throw error;
    }
    const now = this.#attachment(ws);
    if (now === null || now.closing || this.#gone.has(now.socketId)) {
      exchange.wipe();
      await releaseSsrc(this.#database(), relay.relayId, relay.bootId, ssrc, sessionId, this.clock());
      return;
    }
    const previous = this.#exchanges.set(a.socketId, exchange);
    if (previous !== undefined) void this.#releaseExchangeSsrc(previous);
    this.#send(ws, { ...exchange.response(), ...(replyTo === undefined ? {} : { replyTo }) });
    await this.#scheduleAlarm();
  }

  async #onKeyConfirmation(ws: WebSocket, message: ClientMessageOf<'key_confirmation'>): Promise<void> {
    const a = this.#attachment(ws)!;
    const replyTo = message.id;
    const exchange = this.#exchanges.take(a.socketId);
    if (exchange === undefined) return this.#sendError(ws, 'no_exchange', { replyTo });
    const offer = exchange.offer;
    const release = () => releaseSsrc(this.#database(), offer.relay.relayId, offer.relay.bootId, offer.ssrc, offer.sessionId, this.clock());
    if (this.clock() > exchange.confirmBy) {
      exchange.wipe();
      await release();
      return this.#sendError(ws, 'exchange_timeout', { replyTo });
    }
    let confirmed: ReturnType<PendingExchange['confirm']>;
    try {
      confirmed = exchange.confirm(decodeKey32(message.clientConfirmation)!);
    } catch (error) {
      await release();
      if (error instanceof ExchangeError) return this.#sendError(ws, 'key_confirmation_failed', { replyTo, field: 'clientConfirmation' });
      throw error;
    }
    if (offer.purpose === 'rotate') return this.#completeRotation(ws, a, exchange, confirmed, replyTo);
    if (offer.purpose === 'move') return this.#completeMove(ws, a, exchange, confirmed, replyTo);
    const identity = a.identity!;
    const now = this.clock();
    const keysExpireAt = now + this.#voiceConfig().keyMaxAgeMs + KEY_EXPIRY_GRACE_MS;
    const canSpeak = hasPermission(identity.permissions, 'speak');
    const canListen = hasPermission(identity.permissions, 'listen');
    const serverMuted = this.#serverMuted.has(identity.subject);
    const resume = newResumeToken();
    // Written before the install, so a room that dies during it still revokes it (#load).
    this.#putSession({
      v: 1,
      sessionId: offer.sessionId,
      kind: identity.kind,
      subject: identity.subject,
      name: identity.name,
      loginId: identity.loginId,
      relay: offer.relay,
      ssrc: offer.ssrc,
      profile: offer.profile,
      installed: false,
      udpEndpoint: null,
      canSpeak,
      canListen,
      muted: offer.muted,
      deafened: offer.deafened,
      createdAt: now,
      keysExpireAt,
      keysIssuedAt: now,
      rekey: null,
      resumeTokenHash: resume.hash,
      socketId: a.socketId,
      resumableUntil: null,
    });
    let installed;
    try {
      installed = await this.#relaySessions().install(offer.relay, {
        sessionId: offer.sessionId,
        userId: identity.subject,
        channelId: offer.channelId,
        ssrc: offer.ssrc,
        profile: offer.profile,
        canSpeak,
        canListen,
        muted: offer.muted || serverMuted,
        deafened: offer.deafened,
        expiresAt: keysExpireAt,
        keys: confirmed.keys,
      });
    } catch (error) {
      this.#dropSession(offer.sessionId);
      await release();
      if (!(error instanceof RelayCallError)) throw error;
      this.#log('warn', 'relay_install_failed', { relayId: offer.relay.relayId, status: error.status, relayError: error.relayError });
      return this.#sendError(ws, 'relay_unavailable', { replyTo });
    }
    // The socket may have gone, or the member been kicked, while the relay answered.
    const session = this.#sessions.get(offer.sessionId);
    const current = this.#attachment(ws);
    if (session === undefined || session.socketId !== a.socketId || current === null || current.closing || this.#gone.has(a.socketId)) {
      await this.#endSession(offer.sessionId);
      return;
    }
    // One voice session per member: an older one (another socket, or resumable) ends here.
    for (const other of [...this.#sessions.values()]) {
      if (other.subject !== identity.subject || other.sessionId === offer.sessionId) continue;
      const otherSocketId = other.socketId;
      await this.#endSession(other.sessionId);
      if (otherSocketId !== null && otherSocketId !== a.socketId) {
        for (const old of this.ctx.getWebSockets(otherSocketId)) await this.#closeSocket(old, CLOSE_CODES.moved, 'moved');
      }
    }
    this.#putSession({ ...session, installed: true, udpEndpoint: installed.udpEndpoint });
    this.#setAttachment(ws, { ...this.#attachment(ws)!, voiceSessionId: offer.sessionId });
    // Listeners learn the SSRC before the member is told to use it (§5.6).
    this.#publish();
    const ready = this.#sessions.get(offer.sessionId)!;
    this.#send(ws, {
      type: 'voice_ready',
      ...(replyTo === undefined ? {} : { replyTo }),
      ...this.#voiceOf(ready, resume.token),
      serverConfirmation: confirmed.serverConfirmation,
    });
    this.#log('info', 'voice_joined', { relayId: offer.relay.relayId, kind: identity.kind });
    await this.#scheduleAlarm();
  }

  /**
   * A confirmed rotation (§5.8): the new keys and SSRC installed on the relay as a rotation of
   * the same session (§8.5; the relay overlaps old and new keys, §6.5), the keys' expiry moved,
   * listeners told the new SSRC before the member is; the old SSRC is released with the session.
   */
  async #completeRotation(ws: WebSocket, a: SocketAttachment, exchange: PendingExchange, confirmed: ReturnType<PendingExchange['confirm']>, replyTo: string | undefined): Promise<void> {
    const offer = exchange.offer;
    const release = (ssrc: number) => releaseSsrc(this.#database(), offer.relay.relayId, offer.relay.bootId, ssrc, offer.sessionId, this.clock());
    const session = this.#sessions.get(offer.sessionId);
    if (session === undefined || session.socketId !== a.socketId) {
      wipeSessionKeyMaterial(confirmed.keys);
      await release(offer.ssrc);
      return this.#sendError(ws, 'not_in_voice', { replyTo });
    }
    const issuedAt = this.clock();
    const keysExpireAt = issuedAt + this.#voiceConfig().keyMaxAgeMs + KEY_EXPIRY_GRACE_MS;
    try {
      // One signed request: the new keys and the session's new expiry together (§8.3).
      await this.#relaySessions().rotate(offer.relay, offer.sessionId, offer.ssrc, offer.profile, confirmed.keys, keysExpireAt);
    } catch (error) {
      await release(offer.ssrc);
      if (!(error instanceof RelayCallError)) throw error;
      this.#log('warn', 'relay_rotate_failed', { relayId: offer.relay.relayId, status: error.status, relayError: error.relayError });
      return this.#sendError(ws, 'relay_unavailable', { replyTo });
    }
    const latest = this.#sessions.get(offer.sessionId);
    if (latest === undefined) return;
    const resume = newResumeToken();
    const expiresAt = Math.max(latest.keysExpireAt, keysExpireAt);
    // The rotation the session owed is done; the next is due at the new keys' rotation age.
    // The old SSRC stays the session's until it ends (releaseSessionSsrcs): no database write here.
    this.#putSession({ ...latest, ssrc: offer.ssrc, keysExpireAt: expiresAt, keysIssuedAt: issuedAt, rekey: null, resumeTokenHash: resume.hash });
    // Listeners learn the new SSRC before the member is told to use it (§5.6).
    this.#publish();
    this.#send(ws, {
      type: 'voice_ready',
      ...(replyTo === undefined ? {} : { replyTo }),
      ...this.#voiceOf(this.#sessions.get(offer.sessionId)!, resume.token, 'rotate'),
      serverConfirmation: confirmed.serverConfirmation,
    });
    this.#log('info', 'voice_rotated', { relayId: offer.relay.relayId });
    await this.#scheduleAlarm();
  }

  // ---- moves to another relay (§5.9) -------------------------------------------------------

  /**
   * A confirmed move (§5.9): the session installed on the relay the room chose for it, with the
   * new keys and SSRC (sealed for that relay's current boot: the offer's relay ref carries it),
   * listeners told the new SSRC before the member is, then the old relay session revoked (a
   * draining relay still holds it; a dead one forgot it) and its SSRC released.
   */
  async #completeMove(ws: WebSocket, a: SocketAttachment, exchange: PendingExchange, confirmed: ReturnType<PendingExchange['confirm']>, replyTo: string | undefined): Promise<void> {
    const offer = exchange.offer;
    const db = this.#database();
    const releaseNew = () => releaseSsrc(db, offer.relay.relayId, offer.relay.bootId, offer.ssrc, offer.sessionId, this.clock());
    const session = this.#sessions.get(offer.sessionId);
    const move = session?.move ?? null;
    if (session === undefined || session.socketId !== a.socketId || move === null || !sameRun(move.relay, offer.relay)) {
      // Moved elsewhere meanwhile (a second failure), or no longer this socket's session.
      wipeSessionKeyMaterial(confirmed.keys);
      await releaseNew();
      return this.#sendError(ws, 'not_in_voice', { replyTo });
    }
    const issuedAt = this.clock();
    const keysExpireAt = issuedAt + this.#voiceConfig().keyMaxAgeMs + KEY_EXPIRY_GRACE_MS;
    let installed;
    try {
      installed = await this.#relaySessions().install(offer.relay, {
        sessionId: offer.sessionId,
        userId: session.subject,
        channelId: offer.channelId,
        ssrc: offer.ssrc,
        profile: offer.profile,
        canSpeak: session.canSpeak,
        canListen: session.canListen,
        muted: session.muted || this.#serverMuted.has(session.subject),
        deafened: session.deafened,
        expiresAt: keysExpireAt,
        keys: confirmed.keys,
      });
    } catch (error) {
      await releaseNew();
      if (!(error instanceof RelayCallError)) throw error;
      // The move stays owed: the client may start the exchange again until move_timeout.
      this.#log('warn', 'relay_move_install_failed', { relayId: offer.relay.relayId, status: error.status, relayError: error.relayError });
      return this.#sendError(ws, 'relay_unavailable', { replyTo });
    }
    const latest = this.#sessions.get(offer.sessionId);
    const current = this.#attachment(ws);
    if (latest === undefined || latest.socketId !== a.socketId || current === null || current.closing || this.#gone.has(a.socketId)) {
      // Ended (kicked, left) while the relay answered: the new install goes too.
      void this.#retireRelaySession(offer.relay, offer.sessionId, keysExpireAt);
      return;
    }
    const old = { relay: latest.relay, keysExpireAt: latest.keysExpireAt };
    const resume = newResumeToken();
    this.#putSession({
      ...latest,
      relay: offer.relay,
      ssrc: offer.ssrc,
      udpEndpoint: installed.udpEndpoint,
      keysExpireAt,
      keysIssuedAt: issuedAt,
      rekey: null,
      move: null,
      resumeTokenHash: resume.hash,
    });
    // Listeners learn the new SSRC before the member is told to use it (§5.6).
    this.#publish();
    this.#send(ws, {
      type: 'voice_ready',
      ...(replyTo === undefined ? {} : { replyTo }),
      ...this.#voiceOf(this.#sessions.get(offer.sessionId)!, resume.token, 'move'),
      serverConfirmation: confirmed.serverConfirmation,
    });
    this.#log('info', 'voice_moved', { from: old.relay.relayId, to: offer.relay.relayId, reason: move.reason });
    // Back on the same relay run (a lost session): the relay holds only the new install.
    // (There the old SSRC stays the session's until it ends, as after a rotation.)
    if (!sameRun(old.relay, offer.relay)) await this.#retireRelaySession(old.relay, offer.sessionId, old.keysExpireAt);
    await this.#scheduleAlarm();
  }

  /**
   * A session's install on a relay it no longer uses: revoked (short timeout), its SSRCs there
   * released. A relay that does not answer may only be unreachable for a while and still hold
   * the keys (a dead one has forgotten them), so the revoke is then owed and retried by the alarm
   * with backoff (#oweRevocation) until the keys installed there (`keysExpireAt`) expire. Never
   * throws.
   */
  async #retireRelaySession(relay: RelayRef, sessionId: string, keysExpireAt: number): Promise<void> {
    const [revoked, released] = await Promise.allSettled([
      this.#relaySessions().revoke(relay, sessionId, RELAY_PROBE_TIMEOUT_MS),
      releaseSessionSsrcs(this.#database(), relay.relayId, relay.bootId, sessionId, this.clock()),
    ]);
    if (revoked.status === 'rejected') {
      this.#log('info', 'old_relay_revoke_failed', { relayId: relay.relayId, status: revoked.reason instanceof RelayCallError ? revoked.reason.status : 0 });
      this.#oweRevocation(sessionId, relay, keysExpireAt);
    }
    if (released.status === 'rejected') this.#log('warn', 'ssrc_release_failed', { error: released.reason instanceof Error ? released.reason.name : 'unknown' });
  }

  /**
   * A member's media stopped (`relay_unreachable`, §5.9). The report alone moves nothing: the
   * room probes the relay (at most once per relay run every PROBE_MIN_INTERVAL_MS, whoever
   * reports) and moves what the probe shows is gone. A report about a relay the member is not on
   * (it moved meanwhile) is ignored. No answer: the member sees the move, or nothing.
   */
  async #onRelayUnreachable(ws: WebSocket, message: ClientMessageOf<'relay_unreachable'>): Promise<void> {
    const a = this.#attachment(ws)!;
    const session = a.voiceSessionId === null ? undefined : this.#sessions.get(a.voiceSessionId);
    if (session === undefined || !session.installed) return this.#sendError(ws, 'not_in_voice', { replyTo: message.id });
    if (session.relay.relayId !== message.relayId || (session.move ?? null) !== null) return;
    const run = session.relay;
    if (!this.#probes.admit(run, this.clock())) return;
    const probe = await this.#relaySessions().probe(run);
    const onRun = [...this.#sessions.values()].filter((s) => s.installed && (s.move ?? null) === null && sameRun(s.relay, run)).map((s) => s.sessionId);
    const verdict = probeVerdict(probe, onRun);
    this.#log('info', 'relay_probed', { relayId: run.relayId, result: probe.kind, status: probe.kind === 'unreachable' ? probe.status : 200, move: verdict?.reason ?? null });
    if (verdict !== null) await this.#moveSessions(run, verdict.reason, verdict.sessionIds);
  }

  /**
   * Moves the room's sessions on relay run `from` (all, or `only` these) to another relay
   * (§5.9): chooses the target (relay-failover.ts), makes it the channel's relay, and tells each
   * member `voice_moved`; each then runs a fresh exchange (purpose `move`) on its socket and is
   * installed on the target only after its confirmation (#completeMove). A member that does not
   * start it within the rekey timeout is ended (`move_timeout`); a resumable session is told
   * when it resumes. Sessions already moving are left alone. Returns how many were moved.
   */
  async #moveSessions(from: RelayRun, reason: MoveReason, only?: readonly string[]): Promise<number> {
    const room = this.#room;
    if (room === null) return 0;
    const wanted = only === undefined ? null : new Set(only);
    const affected = () => [...this.#sessions.values()].filter((s) => s.installed && (s.move ?? null) === null && sameRun(s.relay, from) && (wanted === null || wanted.has(s.sessionId)));
    const first = affected()[0];
    if (first === undefined) return 0;
    const now = this.clock();
    let target: RelayRef | null;
    try {
      target = chooseMoveTarget({
        routes: await this.#relayCatalog().listRelays(),
        from: first.relay,
        reason,
        now,
        deadAfterMs: this.#requireConfig().relays.deadAfterMs,
        pinnedRegion: this.#room?.pinnedRegion ?? null,
        client: { kind: 'unknown' },
      });
    } catch (error) {
      // The directory is unreachable (case 23): nothing moves; the calls go on as long as they can.
      this.#log('warn', 'relay_move_directory_failed', { relayId: from.relayId, error: error instanceof Error ? error.name : 'unknown' });
      return 0;
    }
    if (target === null) {
      this.#log('warn', 'relay_move_no_target', { relayId: from.relayId, reason });
      return 0;
    }
    const sessions = affected();
    if (this.#room !== null && (this.#room.relay === null || sameRun(this.#room.relay, from) || reason !== 'relay_lost_session')) {
      this.#room = { ...this.#room, relay: target };
      void this.ctx.storage.put(STORAGE_KEYS.room, this.#room);
    }
    const deadline = now + this.#voiceConfig().rekeyTimeoutMs;
    for (const session of sessions) {
      this.#putSession({ ...session, rekey: null, move: { reason, relay: target, deadline } });
      for (const ws of session.socketId === null ? [] : this.ctx.getWebSockets(session.socketId)) this.#send(ws, { type: 'voice_moved', reason, relayId: target.relayId });
    }
    this.#log('info', 'relay_move_started', { from: from.relayId, to: target.relayId, reason, sessions: sessions.length });
    await this.#scheduleAlarm();
    return sessions.length;
  }

  /**
   * The periodic check's look at the directory (§5.9): a relay run the room's sessions are on
   * that is gone, restarted, silent or draining moves them. A directory that cannot be read
   * moves nothing (case 23).
   */
  async #checkRelays(now: number): Promise<void> {
    const runs = new Map<string, RelayRun>();
    for (const s of this.#sessions.values()) if (s.installed && (s.move ?? null) === null) runs.set(`${s.relay.relayId}\n${s.relay.bootId}`, s.relay);
    if (runs.size === 0) return;
    let routes;
    try {
      routes = await this.#relayCatalog().listRelays();
    } catch {
      return;
    }
    for (const run of runs.values()) {
      const reason = directoryVerdict(run, routes, now, this.#requireConfig().relays.deadAfterMs);
      if (reason !== null) await this.#moveSessions(run, reason);
    }
  }

  /** The client asks for new keys (§5.8): the room answers rekey_required; the client runs the exchange. */
  #onRequestRekey(ws: WebSocket, message: ClientMessageOf<'request_rekey'>): void {
    const a = this.#attachment(ws)!;
    const session = a.voiceSessionId === null ? undefined : this.#sessions.get(a.voiceSessionId);
    if (session === undefined || !session.installed) return this.#sendError(ws, 'not_in_voice', { replyTo: message.id });
    // A rotation the room already asked for keeps its reason and deadline.
    const rekey = session.rekey ?? { reason: 'requested' as const, deadline: null };
    if ((session.rekey ?? null) === null) this.#putSession({ ...session, rekey });
    this.#send(ws, { type: 'rekey_required', ...(message.id === undefined ? {} : { replyTo: message.id }), reason: rekey.reason });
  }

  /**
   * The room asks for new keys itself (§5.8): at the keys' rotation age (`key_age`) or when the
   * relay reports the soft usage limit (`usage_limit`). The session's socket gets
   * `rekey_required`; the client must start the rotation by the deadline (rekeyTimeoutMs), or
   * the session ends (the `rekey_timeout` deadline). A session already told keeps its deadline.
   * Returns whether the session was asked now.
   */
  async #requireRekey(sessionId: string, reason: Exclude<RekeyReason, 'requested'>, now: number): Promise<boolean> {
    const session = this.#sessions.get(sessionId);
    if (session === undefined || !session.installed || (session.move ?? null) !== null) return false;
    if (session.rekey != null && session.rekey.deadline !== null) return false;
    const rekey = { reason, deadline: now + this.#voiceConfig().rekeyTimeoutMs };
    this.#putSession({ ...session, rekey });
    for (const ws of session.socketId === null ? [] : this.ctx.getWebSockets(session.socketId)) this.#send(ws, { type: 'rekey_required', reason });
    this.#log('info', 'rekey_required', { reason, resumable: session.socketId === null });
    await this.#scheduleAlarm();
    return true;
  }

  async #releaseExchangeSsrc(exchange: PendingExchange): Promise<void> {
    const o = exchange.offer;
    try {
      await releaseSsrc(this.#database(), o.relay.relayId, o.relay.bootId, o.ssrc, o.sessionId, this.clock());
    } catch (error) {
      this.#log('warn', 'ssrc_release_failed', { error: error instanceof Error ? error.name : 'unknown' });
    }
  }

  /**
   * The channel's relay (§5.5): the one its voice already uses while it has sessions there,
   * else a fresh choice. One choice at a time, so two first joiners cannot split the channel.
   */
  #relayForChannel(client: ClientLocation): Promise<RelayRef | null> {
    this.#relayChoice ??= this.#chooseRelay(client).finally(() => {
      this.#relayChoice = null;
    });
    return this.#relayChoice;
  }

  async #chooseRelay(client: ClientLocation): Promise<RelayRef | null> {
    const room = this.#room!;
    const routes = await this.#relayCatalog().listRelays();
    const now = this.clock();
    const deadAfterMs = this.#requireConfig().relays.deadAfterMs;
    if (room.relay !== null) {
      const current = isRelayUsable(room.relay, routes, now, deadAfterMs);
      if (current !== null) return current;
      // Sessions still on a relay the directory no longer counts usable: they move (§5.9), and
      // the joiner goes where they go. While nowhere else can take them, the channel stays.
      const left = room.relay;
      if ([...this.#sessions.values()].some((s) => sameRun(s.relay, left))) {
        const reason = directoryVerdict(left, routes, now, deadAfterMs);
        if (reason !== null) await this.#moveSessions(left, reason);
        return this.#room?.relay ?? left;
      }
    }
    const chosen = chooseRelay({ relays: routes, now, deadAfterMs, pinnedRegion: room.pinnedRegion, stickyRegion: room.relay?.region ?? null, client });
    if (chosen === null) return null;
    const relay: RelayRef = { relayId: chosen.relayId, bootId: chosen.bootId, apiUrl: chosen.apiUrl, publicKey: chosen.publicKey, region: chosen.region };
    this.#room = { ...this.#room!, relay };
    void this.ctx.storage.put(STORAGE_KEYS.room, this.#room);
    return relay;
  }

  // ---- presence (§5.6) ---------------------------------------------------------------------

  async #onSetState(ws: WebSocket, message: ClientMessageOf<'set_state'>): Promise<void> {
    const a = this.#attachment(ws)!;
    const session = a.voiceSessionId === null ? undefined : this.#sessions.get(a.voiceSessionId);
    if (session === undefined || !session.installed) return this.#sendError(ws, 'not_in_voice', { replyTo: message.id });
    const muted = message.muted ?? session.muted;
    const deafened = message.deafened ?? session.deafened;
    if (muted !== session.muted || deafened !== session.deafened) {
      try {
        await this.#relaySessions().update(session.relay, session.sessionId, { muted: muted || this.#serverMuted.has(session.subject), deafened });
      } catch (error) {
        if (!(error instanceof RelayCallError)) throw error;
        return this.#sendError(ws, 'relay_unavailable', { replyTo: message.id });
      }
      const latest = this.#sessions.get(session.sessionId);
      if (latest !== undefined) this.#putSession({ ...latest, muted, deafened });
    }
    this.#publish({ replyTo: message.id === undefined ? undefined : { socketId: a.socketId, subject: session.subject, id: message.id } });
  }

  async #onSpeaking(ws: WebSocket, message: ClientMessageOf<'speaking'>): Promise<void> {
    const a = this.#attachment(ws)!;
    const session = a.voiceSessionId === null ? undefined : this.#sessions.get(a.voiceSessionId);
    if (session === undefined || !session.installed) return this.#sendError(ws, 'not_in_voice', { replyTo: message.id });
    const now = this.clock();
    const delay = this.#speaking.delayFor(session.subject, now);
    if (delay === 0) {
      this.#applySpeaking(ws, message.speaking);
      return;
    }
    // Over the cap: keep the latest value and send it when the cap allows.
    const hadPending = this.#pendingSpeaking.has(a.socketId);
    this.#pendingSpeaking.set(a.socketId, message.speaking);
    if (!hadPending) {
      setTimeout(() => {
        const value = this.#pendingSpeaking.get(a.socketId);
        this.#pendingSpeaking.delete(a.socketId);
        const latest = this.#attachment(ws);
        if (value !== undefined && latest !== null && !latest.closing) this.#applySpeaking(ws, value);
      }, delay);
    }
  }

  #applySpeaking(ws: WebSocket, speaking: boolean): void {
    const a = this.#attachment(ws)!;
    if (a.speaking === speaking) return;
    this.#setAttachment(ws, { ...a, speaking });
    if (a.identity !== null) this.#speaking.sent(a.identity.subject, this.clock());
    this.#publish();
  }

  #roster(): Roster {
    return buildRoster({ sockets: this.#sockets().map((s) => s.a), sessions: this.#sessions.values(), serverMuted: this.#serverMuted });
  }

  /**
   * Sends every socket the change since the last publish. `excludeSocketId`: a socket that
   * gets the whole roster instead (in `authenticated`); `replyTo`: the member_updated of that
   * subject sent to that socket answers its request (sent even when nothing changed).
   */
  #publish(options: { leftReasons?: ReadonlyMap<string, MemberLeftReason>; excludeSocketId?: string; replyTo?: { socketId: string; subject: string; id: string } } = {}): void {
    const after = this.#roster();
    const events = presenceEvents(this.#published, after, options.leftReasons);
    this.#published = after;
    const replyTo = options.replyTo;
    let replied = false;
    for (const { ws, a } of this.#sockets()) {
      if (a.identity === null || a.socketId === options.excludeSocketId) continue;
      for (const event of events) {
        if (replyTo !== undefined && a.socketId === replyTo.socketId && event.type === 'member_updated' && event.member.subject === replyTo.subject) {
          this.#send(ws, { ...event, replyTo: replyTo.id });
          replied = true;
        } else {
          this.#send(ws, event);
        }
      }
    }
    if (replyTo !== undefined && !replied) {
      const entry = after.get(replyTo.subject);
      for (const ws of this.ctx.getWebSockets(replyTo.socketId)) if (entry !== undefined) this.#send(ws, { type: 'member_updated', replyTo: replyTo.id, member: entry });
    }
  }

  // ---- moderation (§5.7) -------------------------------------------------------------------

  async #onModerate(ws: WebSocket, message: ClientMessageOf<'moderate'>): Promise<void> {
    const a = this.#attachment(ws)!;
    const identity = a.identity!;
    const replyTo = message.id;
    const room = this.#room!;
    if (!hasPermission(identity.permissions, 'moderate')) return this.#sendError(ws, 'forbidden', { replyTo });
    const target = message.subject;
    const present = this.#published.has(target) || this.#roster().has(target);
    if (!present && message.action !== 'ban') return this.#sendError(ws, 'subject_not_found', { replyTo, field: 'subject' });
    const actor = principalOf(identity, room.channelId);
    const decision = await decideModeration(this.#database(), actor, room.channelId, target);
    if (decision !== 'allowed') return this.#sendError(ws, 'forbidden', { replyTo });

    switch (message.action) {
      case 'server_mute':
      case 'server_unmute': {
        const mute = message.action === 'server_mute';
        const session = this.#sessionOf(target);
        if (session !== undefined && session.installed) {
          try {
            await this.#relaySessions().update(session.relay, session.sessionId, { muted: mute || session.muted });
          } catch (error) {
            if (!(error instanceof RelayCallError)) throw error;
            return this.#sendError(ws, 'relay_unavailable', { replyTo });
          }
        }
        if (mute) {
          this.#serverMuted.add(target);
          void this.ctx.storage.put(`${STORAGE_KEYS.serverMutedPrefix}${target}`, true);
        } else {
          this.#serverMuted.delete(target);
          void this.ctx.storage.delete(`${STORAGE_KEYS.serverMutedPrefix}${target}`);
        }
        this.#publish();
        break;
      }
      case 'kick':
        await this.#removeSubject(target, CLOSE_CODES.kicked);
        break;
      case 'ban':
        try {
          await banSubject(this.#database(), actor, room.channelId, target, message.reason ?? null, this.clock());
        } catch (error) {
          if (error instanceof ApiError) {
            return this.#sendError(ws, error.code === 'validation_failed' ? 'invalid_message' : 'forbidden', { replyTo, ...(error.field === undefined ? {} : { field: error.field }) });
          }
          throw error;
        }
        await this.#removeSubject(target, CLOSE_CODES.banned);
        break;
    }
    this.#log('info', 'moderated', { action: message.action });
    this.#send(ws, { type: 'moderated', ...(replyTo === undefined ? {} : { replyTo }), action: message.action, subject: target });
  }

  #sessionOf(subject: string): VoiceSessionRecord | undefined {
    for (const session of this.#sessions.values()) if (session.subject === subject) return session;
    return undefined;
  }

  /**
   * Closes every socket of `subject` with `code` and ends its voice session, revoked on the
   * relay before this returns (kick, ban, §5.7).
   */
  async #removeSubject(subject: string, code: CloseCode): Promise<number> {
    let closed = 0;
    const endings: Promise<void>[] = [];
    for (const { ws, a } of this.#sockets()) {
      if (a.identity?.subject !== subject) continue;
      closed++;
      endings.push(this.#closeSocket(ws, code, closeReasonText(code)));
    }
    const session = this.#sessionOf(subject);
    if (session !== undefined) endings.push(this.#endSession(session.sessionId, LEFT_REASON_BY_CLOSE[code]));
    await Promise.all(endings);
    return closed;
  }

  // ---- leaving (§5.11) and ending ----------------------------------------------------------

  async #onLeave(ws: WebSocket): Promise<void> {
    await this.#closeSocket(ws, CLOSE_CODES.normal, 'left');
  }

  /**
   * Closes a socket the room decided to close, with the bookkeeping a client close gets in
   * #socketGone; for codes that end voice (§5.13) its session is revoked before this returns.
   */
  async #closeSocket(ws: WebSocket, code: CloseCode, reason: string): Promise<void> {
    const a = this.#attachment(ws);
    if (a === null || a.closing) {
      this.#rawClose(ws, code, reason);
      return;
    }
    this.#setAttachment(ws, { ...a, closing: true });
    this.#gone.add(a.socketId);
    this.#forgetSocketMemory(a.socketId);
    this.#rawClose(ws, code, reason);
    const session = a.voiceSessionId === null ? undefined : this.#sessions.get(a.voiceSessionId);
    let ending: Promise<void> | undefined;
    if (session !== undefined && session.socketId === a.socketId) {
      if (closeEndsSession(code)) {
        ending = this.#endSession(session.sessionId, LEFT_REASON_BY_CLOSE[code]);
      } else {
        this.#putSession({ ...session, socketId: null, resumableUntil: this.clock() + this.#voiceConfig().resumeWindowMs });
      }
    }
    const leftReason = LEFT_REASON_BY_CLOSE[code];
    this.#publish({ leftReasons: a.identity === null || leftReason === undefined ? undefined : new Map([[a.identity.subject, leftReason]]) });
    this.#log('info', 'socket_closed_by_room', { code });
    await ending;
    await this.#forgetLoginIfGone(a.identity?.loginId);
    await this.#scheduleAlarm();
  }

  #rawClose(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code, reason);
    } catch {
      // Already closed.
    }
  }

  /**
   * Ends a voice session: gone from the room at once (and from the roster, with `leftReason`
   * if that was the member's last trace), revoked on its relay, its SSRC released. A revoke the
   * relay does not answer is retried by the alarm until the keys would have expired anyway.
   */
  async #endSession(sessionId: string, leftReason?: MemberLeftReason): Promise<void> {
    const session = this.#dropSession(sessionId);
    if (session === undefined) return;
    for (const ws of session.socketId === null ? [] : this.ctx.getWebSockets(session.socketId)) {
      const a = this.#attachment(ws);
      if (a !== null && a.voiceSessionId === sessionId) this.#setAttachment(ws, { ...a, voiceSessionId: null, speaking: false });
    }
    this.#publish({ leftReasons: leftReason === undefined ? undefined : new Map([[session.subject, leftReason]]) });
    const db = this.#database();
    const [revoked] = await Promise.allSettled([
      this.#relaySessions().revoke(session.relay, sessionId),
      releaseSessionSsrcs(db, session.relay.relayId, session.relay.bootId, sessionId, this.clock()),
    ]);
    if (revoked.status === 'rejected') {
      this.#log('warn', 'relay_revoke_failed', { relayId: session.relay.relayId, status: revoked.reason instanceof RelayCallError ? revoked.reason.status : 0 });
      this.#oweRevocation(sessionId, session.relay, session.keysExpireAt);
    }
    if (this.#sessions.size === 0 && this.#room !== null && this.#room.relay !== null) {
      this.#room = { ...this.#room, relay: null };
      void this.ctx.storage.put(STORAGE_KEYS.room, this.#room);
    }
    await this.#forgetLoginIfGone(session.loginId);
    await this.#scheduleAlarm();
  }

  #dropSession(sessionId: string): VoiceSessionRecord | undefined {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return undefined;
    this.#sessions.delete(sessionId);
    void this.ctx.storage.delete(`${STORAGE_KEYS.sessionPrefix}${sessionId}`);
    return session;
  }

  #putSession(record: VoiceSessionRecord): void {
    this.#sessions.set(record.sessionId, record);
    void this.ctx.storage.put(`${STORAGE_KEYS.sessionPrefix}${record.sessionId}`, record);
  }

  #putRevocation(revocation: PendingRevocation): void {
    const key = revocationKey(revocation.sessionId, revocation.relay);
    this.#revocations.set(key, revocation);
    void this.ctx.storage.put(`${STORAGE_KEYS.revocationPrefix}${key}`, revocation);
  }

  #dropRevocation(key: string): void {
    const revocation = this.#revocations.get(key);
    this.#revocations.delete(key);
    void this.ctx.storage.delete(`${STORAGE_KEYS.revocationPrefix}${key}`);
    // Stored before revocations were keyed by relay run: under the session id alone.
    if (revocation !== undefined) void this.ctx.storage.delete(`${STORAGE_KEYS.revocationPrefix}${revocation.sessionId}`);
  }

  /**
   * A revoke the relay did not answer: owed, and tried again by the alarm with backoff
   * (relay-revocations.ts), a bounded number of times and never past the keys' expiry.
   */
  #oweRevocation(sessionId: string, relay: RelayRef, giveUpAt: number): void {
    const nextAttemptAt = nextRevocationAttemptAt(1, this.clock(), giveUpAt);
    if (nextAttemptAt === null) return;
    this.#putRevocation({ v: 1, sessionId, relay, attempts: 1, nextAttemptAt, giveUpAt });
  }

  async #retryRevocation(key: string, now: number): Promise<void> {
    const revocation = this.#revocations.get(key);
    if (revocation === undefined) return;
    if (now >= revocation.giveUpAt) return this.#dropRevocation(key);
    try {
      await this.#relaySessions().revoke(revocation.relay, revocation.sessionId);
    } catch {
      const attempts = revocation.attempts + 1;
      const nextAttemptAt = nextRevocationAttemptAt(attempts, now, revocation.giveUpAt);
      if (nextAttemptAt !== null) return this.#putRevocation({ ...revocation, attempts, nextAttemptAt });
      // Out of tries: the relay drops the keys at their expiry (the install's expiresAt, §8.5).
      this.#log('warn', 'relay_revoke_abandoned', { relayId: revocation.relay.relayId, attempts });
    }
    this.#dropRevocation(key);
  }

  /** Forgets the (login, channel) pair once the room holds nothing of that login. */
  async #forgetLoginIfGone(loginId: string | undefined): Promise<void> {
    if (loginId === undefined || this.#room === null) return;
    const holds = this.#sockets().some((s) => s.a.identity?.loginId === loginId) || [...this.#sessions.values()].some((s) => s.loginId === loginId);
    if (holds) return;
    try {
      await forgetRoomLogin(this.#database(), loginId, this.#room.channelId);
    } catch (error) {
      this.#log('warn', 'forget_login_failed', { error: error instanceof Error ? error.name : 'unknown' });
    }
  }

  // ---- calls from the HTTP side (RPC) ------------------------------------------------------

  /** Logins ended (logout, password change, app key revoked): their sockets close with 4003. */
  async endLogins(loginIds: string[]): Promise<number> {
    const ended = new Set(loginIds);
    let closed = 0;
    const work: Promise<void>[] = [];
    for (const { ws, a } of this.#sockets()) {
      if (a.identity === null || !ended.has(a.identity.loginId)) continue;
      closed++;
      work.push(this.#closeSocket(ws, CLOSE_CODES.loggedOut, closeReasonText(CLOSE_CODES.loggedOut)));
    }
    for (const session of [...this.#sessions.values()]) if (ended.has(session.loginId)) work.push(this.#endSession(session.sessionId, 'logged_out'));
    await Promise.all(work);
    return closed;
  }

  /** A ban through the HTTP API: the subject's sockets close with 4005. */
  async subjectBanned(subject: string): Promise<number> {
    return this.#removeSubject(subject, CLOSE_CODES.banned);
  }

  /**
   * A membership ended (removed, or the member left the channel): without it an account holds
   * no permission here, so its sockets close with 4009 and its voice session ends.
   */
  async membershipEnded(userId: string): Promise<number> {
    return this.#removeSubject(userId, CLOSE_CODES.forbidden);
  }

  /** The channel is gone: every socket closes with 4006, every session is revoked, the room forgets. */
  async channelDeleted(): Promise<number> {
    const work: Promise<void>[] = [];
    let closed = 0;
    for (const { ws } of this.#sockets()) {
      closed++;
      work.push(this.#closeSocket(ws, CLOSE_CODES.channelDeleted, closeReasonText(CLOSE_CODES.channelDeleted)));
    }
    for (const session of [...this.#sessions.values()]) work.push(this.#endSession(session.sessionId, 'channel_deleted'));
    await Promise.all(work);
    const pending = [...this.#revocations.values()];
    await this.ctx.storage.deleteAll();
    // Revocations still owed survive the reset: they are the relay's keys.
    for (const revocation of pending) this.#putRevocation(revocation);
    this.#room = null;
    this.#serverMuted.clear();
    this.#alarmAt = null;
    await this.#scheduleAlarm();
    return closed;
  }

  /**
   * A relay reported sessions whose keys reached the soft usage limit (its heartbeat's
   * `rekeyRequested`, §8.6). Only this room's sessions on that relay run are asked to rotate;
   * keys installed moments ago are not the ones the report is about. Returns how many were
   * asked now.
   */
  async relayRequestedRekey(relayId: string, bootId: string, sessionIds: readonly string[]): Promise<number> {
    const now = this.clock();
    let asked = 0;
    for (const sessionId of sessionIds) {
      const session = this.#sessions.get(sessionId);
      if (session === undefined || session.relay.relayId !== relayId || session.relay.bootId !== bootId) continue;
      if (now - voiceKeysIssuedAt(session, this.#voiceConfig().keyMaxAgeMs) < USAGE_REPORT_SETTLE_MS) continue;
      if (await this.#requireRekey(sessionId, 'usage_limit', now)) asked++;
    }
    return asked;
  }

  /**
   * A relay's heartbeat listed sessions it lost (`lostSessions`, §8.6: a worker failed): this
   * room's among them, on that relay run, are moved (back onto the same relay while it is
   * healthy, §5.9). Returns how many.
   */
  async relayLostSessions(relayId: string, bootId: string, sessionIds: readonly string[]): Promise<number> {
    return this.#moveSessions({ relayId, bootId }, 'relay_lost_session', sessionIds);
  }

  /** A relay's heartbeat says it drains: this room's sessions on that run move elsewhere (§5.9). */
  async relayDraining(relayId: string, bootId: string): Promise<number> {
    return this.#moveSessions({ relayId, bootId }, 'relay_draining');
  }

  /** A relay registered with a new boot id: this room's sessions on its old run `bootId` are gone (§5.9). */
  async relayRestarted(relayId: string, bootId: string): Promise<number> {
    return this.#moveSessions({ relayId, bootId }, 'relay_failed');
  }

  /** What the room holds, without secrets: for tests and operators. */
  async summary(): Promise<RoomSummary> {
    return {
      channelId: this.#room?.channelId ?? null,
      relayId: this.#room?.relay?.relayId ?? null,
      sockets: this.#sockets().length,
      pendingExchanges: this.#exchanges.size,
      sessions: [...this.#sessions.values()].map((s) => ({
        sessionId: s.sessionId,
        subject: s.subject,
        ssrc: s.ssrc,
        installed: s.installed,
        socketId: s.socketId,
        resumableUntil: s.resumableUntil,
        muted: s.muted,
        deafened: s.deafened,
        relayId: s.relay.relayId,
        bootId: s.relay.bootId,
        moving: s.move?.reason ?? null,
      })),
      pendingRevocations: this.#revocations.size,
    };
  }

  // ---- the alarm ---------------------------------------------------------------------------

  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    const now = this.clock();
    for (const deadline of dueDeadlines(this.#deadlines(), now)) {
      try {
        await this.#onDeadline(deadline, now);
      } catch (error) {
        this.#log('error', 'room_deadline_failed', { kind: deadline.kind, error: error instanceof Error ? error.name : 'unknown' });
      }
    }
    await this.#scheduleAlarm();
  }

  async #onDeadline(deadline: RoomDeadline, now: number): Promise<void> {
    switch (deadline.kind) {
      case 'auth_timeout':
        for (const ws of this.ctx.getWebSockets(deadline.socketId)) {
          const a = this.#attachment(ws);
          if (a !== null && a.identity === null) await this.#closeSocket(ws, CLOSE_CODES.policyViolation, 'authenticate first');
        }
        return;
      case 'token_expiring':
        for (const ws of this.ctx.getWebSockets(deadline.socketId)) {
          const a = this.#attachment(ws);
          if (a?.identity == null || a.identity.expiryNoticeSent) continue;
          this.#setAttachment(ws, { ...a, identity: { ...a.identity, expiryNoticeSent: true } });
          this.#send(ws, { type: 'token_expiring', expiresAt: a.identity.tokenExpiresAt });
        }
        return;
      case 'token_expired':
        for (const ws of this.ctx.getWebSockets(deadline.socketId)) {
          const a = this.#attachment(ws);
          if (a?.identity != null && a.identity.tokenExpiresAt <= now) await this.#closeSocket(ws, CLOSE_CODES.tokenExpired, closeReasonText(CLOSE_CODES.tokenExpired));
        }
        return;
      case 'exchange_timeout':
        for (const ws of this.ctx.getWebSockets(deadline.socketId)) {
          const exchange = this.#exchanges.get(deadline.socketId);
          if (exchange === undefined || exchange.confirmBy > now) continue;
          this.#exchanges.drop(deadline.socketId);
          await this.#releaseExchangeSsrc(exchange);
          this.#sendError(ws, 'exchange_timeout');
        }
        return;
      case 'resume_window_over': {
        const session = this.#sessions.get(deadline.sessionId);
        if (session !== undefined && session.socketId === null && session.resumableUntil !== null && session.resumableUntil <= now) {
          await this.#endSession(session.sessionId, 'disconnected');
        }
        return;
      }
      case 'keys_expired': {
        const session = this.#sessions.get(deadline.sessionId);
        if (session === undefined || session.keysExpireAt > now) return;
        const sockets = session.socketId === null ? [] : this.ctx.getWebSockets(session.socketId);
        await this.#endSession(session.sessionId, 'disconnected');
        for (const ws of sockets) this.#sendError(ws, 'keys_expired');
        return;
      }
      case 'rotate_keys': {
        const session = this.#sessions.get(deadline.sessionId);
        if (session !== undefined && this.#rotateKeysAt(session) <= now) await this.#requireRekey(session.sessionId, 'key_age', now);
        return;
      }
      case 'rekey_timeout': {
        const session = this.#sessions.get(deadline.sessionId);
        const rekeyDeadline = session?.rekey?.deadline ?? null;
        if (session === undefined || rekeyDeadline === null || rekeyDeadline > now) return;
        // A rotation under way gets its own chance (its exchange_timeout comes first).
        if (session.socketId !== null && this.#exchanges.get(session.socketId) !== undefined) return;
        const sockets = session.socketId === null ? [] : this.ctx.getWebSockets(session.socketId);
        this.#log('info', 'rekey_timed_out', { reason: session.rekey!.reason });
        await this.#endSession(session.sessionId, 'disconnected');
        for (const ws of sockets) this.#sendError(ws, 'rekey_timeout');
        return;
      }
      case 'move_timeout': {
        const session = this.#sessions.get(deadline.sessionId);
        const moveDeadline = session?.move?.deadline ?? null;
        if (session === undefined || moveDeadline === null || moveDeadline > now) return;
        if (session.socketId !== null && this.#exchanges.get(session.socketId) !== undefined) return;
        const sockets = session.socketId === null ? [] : this.ctx.getWebSockets(session.socketId);
        this.#log('info', 'move_timed_out', { reason: session.move!.reason });
        await this.#endSession(session.sessionId, 'disconnected');
        for (const ws of sockets) this.#sendError(ws, 'move_timeout');
        return;
      }
      case 'retry_revocation':
        return this.#retryRevocation(deadline.key, now);
      case 'room_check':
        this.#lastCheckAt = now;
        if (this.#reconcileSessions(now) > 0) this.#publish();
        await this.#checkRelays(now);
        return;
    }
  }

  #deadlines(): RoomDeadline[] {
    return roomDeadlines({
      sockets: this.#sockets().map((s) => s.a),
      sessions: this.#sessions.values(),
      revocations: this.#revocations.values(),
      pendingExchanges: this.#exchanges.deadlines(),
      lastCheckAt: this.#lastCheckAt,
      rotateKeysAt: (session) => this.#rotateKeysAt(session),
    });
  }

  #rotateKeysAt(session: VoiceSessionRecord): number {
    const voice = this.#voiceConfig();
    return voiceKeysIssuedAt(session, voice.keyMaxAgeMs) + voice.keyRotateAfterMs;
  }

  /**
   * Makes sure the alarm fires no later than the earliest deadline. An alarm already set at or
   * before it is left alone, and one set for a deadline that went away (an exchange confirmed,
   * a socket authenticated) is not deleted: it fires early, finds nothing due and sets the next
   * one. Moving it back and forth cost a storage write on every step of every exchange (each
   * sets a confirmBy, then clears it), the largest item in the room's CPU per exchange; a
   * wake-up with nothing to do costs less, and comes at most once per deadline that went away.
   */
  async #scheduleAlarm(): Promise<void> {
    const next = nextAlarmAt(this.#deadlines());
    if (next === null || (this.#alarmAt !== null && this.#alarmAt <= next)) return;
    this.#alarmAt = next;
    await this.ctx.storage.setAlarm(next);
  }

  // ---- sockets -----------------------------------------------------------------------------

  /**
   * The socket's attachment. The room is its only writer (#setAttachment), so what it last
   * wrote or read is kept in memory: the room reads every socket's attachment many times per
   * message (deadlines, roster, checks) and deserializing each time was a noticeable part of an
   * exchange's CPU. After hibernation the memory is empty and the attachment is read again.
   */
  #attachment(ws: WebSocket): SocketAttachment | null {
    const known = this.#attachments.get(ws);
    if (known !== undefined) return known;
    let a: SocketAttachment | null;
    try {
      a = readSocketAttachment(ws.deserializeAttachment());
    } catch {
      return null;
    }
    if (a !== null) this.#attachments.set(ws, a);
    return a;
  }

  #setAttachment(ws: WebSocket, attachment: SocketAttachment): void {
    try {
      ws.serializeAttachment(attachment);
      this.#attachments.set(ws, attachment);
    } catch {
      // The socket is gone; so is what it carried.
    }
  }

  /** The room's open sockets that it has not closed (getWebSockets() order means nothing). */
  #sockets(): RoomSocket[] {
    const out: RoomSocket[] = [];
    for (const ws of this.ctx.getWebSockets()) {
      if (ws.readyState !== READY_STATE_OPEN) continue;
      const a = this.#attachment(ws);
      if (a === null || a.closing || this.#gone.has(a.socketId)) continue;
      out.push({ ws, a });
    }
    return out;
  }

  #send(ws: WebSocket, message: RoomMessage): void {
    try {
      ws.send(JSON.stringify(message));
    } catch {
      // A socket that closed meanwhile gets nothing.
    }
  }

  #sendError(ws: WebSocket, code: RoomErrorCode, details: { message?: string; field?: string | undefined; replyTo?: string | undefined } = {}): void {
    this.#send(ws, {
      type: 'error',
      ...(details.replyTo === undefined ? {} : { replyTo: details.replyTo }),
      code,
      message: details.message ?? ROOM_ERROR_MESSAGES[code],
      ...(details.field === undefined ? {} : { field: details.field }),
    });
  }

  #log(level: 'info' | 'warn' | 'error', event: string, fields: LogFields): void {
    const line = JSON.stringify({ level, event, channelId: this.#room?.channelId, ...fields });
    if (level === 'error') console.error(line);
    else if (level === 'warn') console.warn(line);
    else console.log(line);
  }
}

/** The route's location header; anything unreadable is an unknown location. */
function clientLocationHeader(text: string | null): ClientLocation {
  if (text === null) return { kind: 'unknown' };
  try {
    return clientLocationFrom(JSON.parse(text));
  } catch {
    return { kind: 'unknown' };
  }
}

function messageBytes(message: string | ArrayBuffer): number {
  if (typeof message !== 'string') return message.byteLength;
  // UTF-8 takes 1..3 bytes per UTF-16 unit: only count when the answer is in doubt.
  if (message.length > MAX_MESSAGE_BYTES) return message.length;
  if (message.length * 3 <= MAX_MESSAGE_BYTES) return message.length;
  return new TextEncoder().encode(message).length;
}

/** Close reasons: short fixed texts (a close frame carries at most 123 bytes). */
function closeReasonText(code: CloseCode): string {
  switch (code) {
    case CLOSE_CODES.tokenExpired:
      return 'token expired';
    case CLOSE_CODES.unauthorized:
      return 'unauthorized';
    case CLOSE_CODES.loggedOut:
      return 'logged out';
    case CLOSE_CODES.kicked:
      return 'kicked';
    case CLOSE_CODES.banned:
      return 'banned';
    case CLOSE_CODES.channelDeleted:
      return 'channel deleted';
    case CLOSE_CODES.forbidden:
      return 'forbidden';
    default:
      return '';
  }
}

export type { RosterEntry };
