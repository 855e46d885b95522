/**
 * Every session on one relay, indexed by session id, by SSRC and by channel.
 *
 * GCM nonce safety (docs/protocol.md, "Relay"): for a listener's relay→client key, the IV is a
 * function of (SSRC, index). The relay forwards each speaker's packets with their own SSRC and
 * sequence number, through the listener's one outbound SrtpContext, which refuses to protect an
 * (SSRC, index) it has already protected. Two things keep that refusal from ever dropping audio:
 * SSRCs are unique on the relay (a duplicate install is refused), and an SSRC is not handed out
 * again while any outbound context that may have used it is still alive (`#retiredSsrcs`).
 */
import type { RelaySessionSummary } from '../../../shared/relay-api/messages.js';
import type { SrtpCryptoBackend } from '../../../shared/srtp/crypto-backend.js';
import { KeyEpoch, RelaySession, type SessionLimits } from './relay-session.js';
import type { SessionKeyMaterial, SessionPatch, SessionSpec } from './session-spec.js';

export type InstallRefusal = 'duplicate-session' | 'duplicate-ssrc' | 'session-limit' | 'channel-limit' | 'draining' | 'expired';

export class InstallRefusedError extends Error {
  override readonly name = 'InstallRefusedError';
  constructor(readonly reason: InstallRefusal) {
    super(`relay: session refused (${reason})`);
  }
}

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
  /** Channel id → members, as an array: the forwarding loop iterates it per packet. */
  readonly #channels = new Map<string, RelaySession[]>();
  /** SSRC → when it was released; reusable once no outbound context older than that lives. */
  readonly #retiredSsrcs = new Map<number, number>();
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
    this.#checkSsrcFree(spec.ssrc);
    if (this.#sessions.size >= this.limits.maxSessions) throw new InstallRefusedError('session-limit');
    const members = this.#channels.get(spec.channelId);
    if (members === undefined && this.#channels.size >= this.limits.maxChannels) throw new InstallRefusedError('channel-limit');
    const session = new RelaySession(spec, this.backend, this.limits.session, now);
    this.#sessions.set(session.sessionId, session);
    this.#bySsrc.set(spec.ssrc, { session, epoch: session.epochs[0]! });
    if (members === undefined) this.#channels.set(spec.channelId, [session]);
    else members.push(session);
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
    return this.#channels.get(channelId) ?? [];
  }

  update(sessionId: string, patch: SessionPatch): RelaySession | undefined {
    const session = this.#sessions.get(sessionId);
    session?.applyPatch(patch);
    return session;
  }

  rotate(sessionId: string, keys: SessionKeyMaterial, now: number): RelaySession | undefined {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return undefined;
    this.#checkSsrcFree(keys.ssrc);
    const dropped = session.rotate(keys, now, this.limits.rotationOverlapMs);
    for (const epoch of dropped) this.#releaseSsrc(epoch.ssrc, now);
    this.#bySsrc.set(keys.ssrc, { session, epoch: session.epochs[0]! });
    return session;
  }

  revoke(sessionId: string, now: number, reason: SessionEndReason = 'revoked'): boolean {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return false;
    this.#sessions.delete(sessionId);
    for (const epoch of session.epochs) this.#releaseSsrc(epoch.ssrc, now);
    const members = this.#channels.get(session.channelId);
    if (members !== undefined) {
      const remaining = members.filter((m) => m !== session);
      if (remaining.length === 0) this.#channels.delete(session.channelId);
      else this.#channels.set(session.channelId, remaining);
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
        if (retired !== null) this.#releaseSsrc(retired.ssrc, now);
      }
    }
    this.#forgetSafeRetiredSsrcs();
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
    this.#retiredSsrcs.clear();
  }

  #checkSsrcFree(ssrc: number): void {
    if (this.#bySsrc.has(ssrc) || this.#retiredSsrcs.has(ssrc)) throw new InstallRefusedError('duplicate-ssrc');
  }

  #releaseSsrc(ssrc: number, now: number): void {
    if (this.#bySsrc.delete(ssrc)) this.#retiredSsrcs.set(ssrc, now);
  }

  /**
   * An SSRC released at time t may be reused once every live outbound context was created after
   * t: none of them can have protected anything under it.
   */
  #forgetSafeRetiredSsrcs(): void {
    if (this.#retiredSsrcs.size === 0) return;
    let oldestContext = Infinity;
    for (const session of this.#sessions.values()) {
      for (const epoch of session.epochs) oldestContext = Math.min(oldestContext, epoch.createdAt);
    }
    for (const [ssrc, releasedAt] of this.#retiredSsrcs) {
      if (releasedAt < oldestContext) this.#retiredSsrcs.delete(ssrc);
    }
  }
}
