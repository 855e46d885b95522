/**
 * Every session on one relay worker, indexed by session id, by SSRC and by channel.
 *
 * GCM nonce safety (docs/protocol.md §6.6): for a listener's relay→client key, the IV is a
 * function of (SSRC, index). The relay forwards each speaker's packets under the speaker's SSRC,
 * numbered for the listener, through the listener's one outbound SrtpContext, which refuses to
 * protect an (SSRC, index) it has already protected. Two things keep that refusal from ever
 * dropping audio: SSRCs are unique on the worker (a duplicate install is refused), and an SSRC
 * is not handed out again in a channel while any outbound context of that channel that may have
 * used it is still alive (RelayChannel's retired SSRCs).
 */
import type { RelaySessionSummary } from '../../../shared/relay-api/messages.js';
import type { SrtpCryptoBackend } from '../../../shared/srtp/crypto-backend.js';
import { RelayChannel } from './relay-channel.js';
import { KeyEpoch, RelaySession, type SessionLimits } from './relay-session.js';
import type { SessionKeyMaterial, SessionPatch, SessionSpec } from './session-spec.js';

export type InstallRefusal = 'duplicate-session' | 'duplicate-ssrc' | 'session-limit' | 'channel-limit' | 'draining' | 'expired';

export class InstallRefusedError extends Error {
  override readonly name = 'InstallRefusedError';
  constructor(readonly reason: InstallRefusal) {
    super(`relay: session refused (${reason})`);
  }
}

const NO_MEMBERS: readonly RelaySession[] = [];

export type SessionEndReason = 'revoked' | 'expired' | 'idle' | 'shutdown';

export interface RegistryLimits {
  readonly maxSessions: number;
  readonly maxChannels: number;
  /** A session with no authenticated packet for this long ends. */
  readonly idleTimeoutMs: number;
  /** How long the previous keys stay valid after a rotation. */
  readonly rotationOverlapMs: number;
  readonly session: SessionLimits;
}

export interface SsrcOwner {
  readonly session: RelaySession;
  readonly epoch: KeyEpoch;
}


export interface RegistryEvents {
  onSessionEnded?(session: RelaySession, reason: SessionEndReason): void;
}

export class SessionRegistry {
  readonly #sessions = new Map<string, RelaySession>();
  readonly #bySsrc = new Map<number, SsrcOwner>();
  /** Channel id → its members and their slots. */
  readonly #channels = new Map<string, RelayChannel>();
  #draining = false;

  constructor(
    readonly limits: RegistryLimits,
    private readonly backend: SrtpCryptoBackend,
    private readonly events: RegistryEvents = {},
  ) {}

  get size(): number {
    return this.#sessions.size;
  }

  get channelCount(): number {
    return this.#channels.size;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Refuse new sessions from now on (SIGTERM); existing ones continue. */
  startDraining(): void {
    this.#draining = true;
  }

  install(spec: SessionSpec, now: number): RelaySession {
    if (this.#draining) throw new InstallRefusedError('draining');
    if (spec.expiresAt <= now) throw new InstallRefusedError('expired');
    if (this.#sessions.has(spec.sessionId)) throw new InstallRefusedError('duplicate-session');
    this.#checkSsrcFree(spec.ssrc, spec.channelId);
    if (this.#sessions.size >= this.limits.maxSessions) throw new InstallRefusedError('session-limit');
    let channel = this.#channels.get(spec.channelId);
    if (channel === undefined && this.#channels.size >= this.limits.maxChannels) throw new InstallRefusedError('channel-limit');
    const session = new RelaySession(spec, this.backend, this.limits.session, now);
    this.#sessions.set(session.sessionId, session);
    this.#bySsrc.set(spec.ssrc, { session, epoch: session.epochs[0]! });
    if (channel === undefined) this.#channels.set(spec.channelId, (channel = new RelayChannel(spec.channelId)));
    channel.add(session);
    return session;
  }

  get(sessionId: string): RelaySession | undefined {
    return this.#sessions.get(sessionId);
  }

  /** The session and key epoch an SSRC belongs to; the per-packet lookup. */
  bySsrc(ssrc: number): SsrcOwner | undefined {
    return this.#bySsrc.get(ssrc);
  }

  members(channelId: string): readonly RelaySession[] {
    return this.#channels.get(channelId)?.members ?? NO_MEMBERS;
  }

  update(sessionId: string, patch: SessionPatch): RelaySession | undefined {
    const session = this.#sessions.get(sessionId);
    session?.applyPatch(patch);
    return session;
  }

  rotate(sessionId: string, keys: SessionKeyMaterial, now: number): RelaySession | undefined {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return undefined;
    this.#checkSsrcFree(keys.ssrc, session.channelId);
    const dropped = session.rotate(keys, now, this.limits.rotationOverlapMs);
    for (const epoch of dropped) this.#releaseSsrc(epoch.ssrc, session, now);
    this.#bySsrc.set(keys.ssrc, { session, epoch: session.epochs[0]! });
    return session;
  }

  revoke(sessionId: string, now: number, reason: SessionEndReason = 'revoked'): boolean {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return false;
    this.#sessions.delete(sessionId);
    for (const epoch of session.epochs) this.#releaseSsrc(epoch.ssrc, session, now);
    const channel = session.channel;
    if (channel !== null) {
      channel.remove(session);
      // No context that could have seen its retired SSRCs is left: they go with it.
      if (channel.size === 0) this.#channels.delete(session.channelId);
    }
    session.close();
    this.events.onSessionEnded?.(session, reason);
    return true;
  }

  /** Ends expired and idle sessions and finished rotation overlaps. Called about once a second. */
  sweep(now: number): void {
    for (const session of [...this.#sessions.values()]) {
      if (session.expiresAt <= now) this.revoke(session.sessionId, now, 'expired');
      else if (now - session.lastActiveAt >= this.limits.idleTimeoutMs) this.revoke(session.sessionId, now, 'idle');
      else {
        const retired = session.retireExpiredEpoch(now);
        if (retired !== null) this.#releaseSsrc(retired.ssrc, session, now);
      }
    }
    for (const channel of this.#channels.values()) channel.forgetSafeRetiredSsrcs();
  }

  /** SSRCs not yet free again in their channels (for tests and monitoring). */
  get retiredSsrcCount(): number {
    let count = 0;
    for (const channel of this.#channels.values()) count += channel.retiredSsrcCount;
    return count;
  }

  /** Up to `limit` sessions whose current keys reached the soft key-usage limit (a rekey is due). */
  sessionsAskingForRekey(limit: number): string[] {
    const due: string[] = [];
    for (const session of this.#sessions.values()) {
      if (due.length >= limit) break;
      if (session.rekeyRequested) due.push(session.sessionId);
    }
    return due;
  }

  /** State for reconciliation (GET /v1/sessions); never key material. */
  list(): RelaySessionSummary[] {
    return [...this.#sessions.values()].map((s) => ({
      sessionId: s.sessionId,
      userId: s.userId,
      channelId: s.channelId,
      ssrcs: s.epochs.map((e) => e.ssrc),
      profile: s.profile,
      canSpeak: s.canSpeak,
      canListen: s.canListen,
      muted: s.muted,
      deafened: s.deafened,
      expiresAt: s.expiresAt,
      lastActiveAt: s.lastActiveAt,
      addressLatched: s.address !== null,
    }));
  }

  /** Ends every session and wipes every key (shutdown). Idempotent. */
  close(now: number): void {
    for (const id of [...this.#sessions.keys()]) this.revoke(id, now, 'shutdown');
  }

  #checkSsrcFree(ssrc: number, channelId: string): void {
    if (this.#bySsrc.has(ssrc) || this.#channels.get(channelId)?.isRetired(ssrc) === true) throw new InstallRefusedError('duplicate-ssrc');
  }

  #releaseSsrc(ssrc: number, session: RelaySession, now: number): void {
    if (this.#bySsrc.delete(ssrc)) session.channel?.retire(ssrc, now);
  }
}
