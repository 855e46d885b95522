/**
 * What the internal API asks of "the relay's sessions", wherever they live: `SessionDirectory`.
 * A SessionRegistry (session-registry.ts) holds the sessions of one thread; a SessionDirectory is
 * the API's view of all of them, in this thread or spread over the worker threads.
 *
 * Two implementations:
 *   - `LocalSessionDirectory`: one SessionRegistry in this thread. Each relay worker uses it for
 *     its own shard, and tests drive the internal API with it in-process.
 *   - `WorkerPool` (workers/worker-pool.ts): the main thread's router to the workers, each
 *     holding one shard of the channels behind its own UDP port.
 *
 * Methods are async because the second one crosses a thread boundary. Key material handed to
 * `install` and `rotate` is consumed before the returned promise is first awaited, so the caller
 * may wipe its copy as soon as the call returns.
 */
import type { RelaySessionSummary } from '../../../shared/relay-api/messages.js';
import type { SrtpProfileName } from '../../../shared/srtp/profiles.js';
import type { RelayEndpoint } from '../config.js';
import type { SessionRegistry } from './session-registry.js';
import type { SessionKeyMaterial, SessionPatch, SessionSpec } from './session-spec.js';

/** Where a session's client sends voice: its worker, that worker's port and public endpoint. */
export interface SessionPlacement {
  readonly worker: number;
  /** The port the worker's socket is bound to. */
  readonly udpPort: number;
  /** Where clients reach that socket (RELAY_PUBLIC_UDP_ENDPOINT, moved up by the worker's index). */
  readonly udpEndpoint: RelayEndpoint;
}

/** A session's permissions and expiry after an update. */
export interface SessionState {
  readonly sessionId: string;
  readonly canSpeak: boolean;
  readonly canListen: boolean;
  readonly muted: boolean;
  readonly deafened: boolean;
  readonly expiresAt: number;
}

/** The worker that holds a channel is not running (it crashed): its shard cannot take sessions. */
export class WorkerUnavailableError extends Error {
  override readonly name = 'WorkerUnavailableError';
  constructor(readonly worker: number) {
    super(`relay: worker ${worker} is not running`);
  }
}

export interface SessionDirectory {
  /** Sessions installed (across every worker). */
  readonly size: number;
  /** Channels with at least one session. */
  readonly channelCount: number;
  readonly draining: boolean;
  /** False once part of the relay has failed (a worker exited): health checks must say so. */
  readonly healthy: boolean;
  /** The session's SRTP profile (rotations are sealed for it), or undefined if unknown. */
  profileOf(sessionId: string): SrtpProfileName | undefined;
  /** Throws InstallRefusedError or WorkerUnavailableError. */
  install(spec: SessionSpec, now: number): Promise<SessionPlacement>;
  update(sessionId: string, patch: SessionPatch): Promise<SessionState | undefined>;
  /** The session's SSRCs after the rotation (new first), or undefined if unknown. Throws InstallRefusedError. */
  rotate(sessionId: string, keys: SessionKeyMaterial, now: number): Promise<readonly number[] | undefined>;
  revoke(sessionId: string, now: number): Promise<boolean>;
  list(): Promise<RelaySessionSummary[]>;
}

/** One SessionRegistry in this thread, placed at one UDP port. */
export class LocalSessionDirectory implements SessionDirectory {
  constructor(
    readonly registry: SessionRegistry,
    private readonly placement: SessionPlacement,
  ) {}

  get size(): number {
    return this.registry.size;
  }

  get channelCount(): number {
    return this.registry.channelCount;
  }

  get draining(): boolean {
    return this.registry.draining;
  }

  get healthy(): boolean {
    return true;
  }

  profileOf(sessionId: string): SrtpProfileName | undefined {
    return this.registry.get(sessionId)?.profile;
  }

  async install(spec: SessionSpec, now: number): Promise<SessionPlacement> {
    this.registry.install(spec, now);
    return this.placement;
  }

  async update(sessionId: string, patch: SessionPatch): Promise<SessionState | undefined> {
    const session = this.registry.update(sessionId, patch);
    if (session === undefined) return undefined;
    const { canSpeak, canListen, muted, deafened, expiresAt } = session;
    return { sessionId, canSpeak, canListen, muted, deafened, expiresAt };
  }

  async rotate(sessionId: string, keys: SessionKeyMaterial, now: number): Promise<readonly number[] | undefined> {
    return this.registry.rotate(sessionId, keys, now)?.epochs.map((e) => e.ssrc);
  }

  async revoke(sessionId: string, now: number): Promise<boolean> {
    return this.registry.revoke(sessionId, now);
  }

  async list(): Promise<RelaySessionSummary[]> {
    return this.registry.list();
  }
}
