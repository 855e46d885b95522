/**
 * The room's calls to relays (docs/protocol.md §8.5), over the signed internal API
 * (shared/relay-api RelayApiClient): install a session with its keys sealed to the relay,
 * change its mute/deafen/permissions, rotate its keys, revoke it, list what the relay holds, and
 * probe whether the relay still answers (the move decision of §5.9).
 *
 * Errors come back as RelayCallError with what the room needs to decide (retry or not); never
 * with key material or the relay's detail text in a client-facing message.
 */
import { decodeBase64Url } from '../../../shared/relay-api/base64url.js';
import { RelayApiClient, RelayApiError } from '../../../shared/relay-api/relay-api-client.js';
import { wipeSessionKeyMaterial, type SessionKeyMaterial } from '../../../shared/relay-api/sealed-keys.js';
import type { InstallSessionResponse, SessionListResponse, UpdateSessionBody } from '../../../shared/relay-api/messages.js';
import type { SrtpProfileName } from '../../../shared/srtp/profiles.js';
import type { NamedSecret } from '../config.js';
import type { RelayRef } from './room-state.js';
import { webCryptoX25519 } from './x25519-agreement.js';

export class RelayCallError extends Error {
  override readonly name = 'RelayCallError';
  constructor(
    readonly operation: 'install' | 'rotate' | 'update' | 'revoke' | 'list' | 'probe',
    /** HTTP status, or 0 when the relay did not answer. */
    readonly status: number,
    /** The relay's error code (safe to log), e.g. 'conflict' or 'unavailable'. */
    readonly relayError: string,
    options?: { cause?: unknown },
  ) {
    super(`relay ${operation}: ${status === 0 ? 'no answer' : `${status} ${relayError}`}`, options);
  }
}

export interface InstallRequest {
  readonly sessionId: string;
  /** The relay's user id: the member's subject (visible ASCII, §8.1). */
  readonly userId: string;
  readonly channelId: string;
  readonly ssrc: number;
  readonly profile: SrtpProfileName;
  readonly canSpeak: boolean;
  readonly canListen: boolean;
  readonly muted: boolean;
  readonly deafened: boolean;
  readonly expiresAt: number;
  /** Sealed here, then wiped (also on failure). */
  readonly keys: SessionKeyMaterial;
}

/**
 * What a probe of a relay found (§5.9): it did not answer in time (or answered 5xx), or it
 * answered with the sessions it holds and whether it drains.
 */
export type RelayProbe =
  | { readonly kind: 'unreachable'; readonly status: number }
  /** `sessionIds` null: the relay answered but refused the listing (4xx), so nothing is known of them. */
  | { readonly kind: 'answered'; readonly draining: boolean; readonly sessionIds: ReadonlySet<string> | null };

/** A probe gets this long: on a loopback or datacenter path a live relay answers in milliseconds. */
export const RELAY_PROBE_TIMEOUT_MS = 1_000;

export interface RelaySessionsOptions {
  readonly apiKey: NamedSecret;
  readonly fetch: (request: Request) => Promise<Response>;
  readonly now: () => number;
  /** Per call; a relay that does not answer in time counts as unavailable. */
  readonly timeoutMs?: number;
}

export class RelaySessions {
  readonly #options: RelaySessionsOptions;
  readonly #clients = new Map<string, RelayApiClient>();

  constructor(options: RelaySessionsOptions) {
    this.#options = options;
  }

  #client(relay: RelayRef, timeoutMs = this.#options.timeoutMs ?? 5_000): RelayApiClient {
    const key = `${relay.relayId}\n${relay.bootId}\n${relay.apiUrl}\n${relay.publicKey}\n${timeoutMs}`;
    let client = this.#clients.get(key);
    if (client === undefined) {
      const publicKey = decodeBase64Url(relay.publicKey);
      if (publicKey === null || publicKey.length !== 32) throw new RelayCallError('install', 0, 'bad_public_key');
      const fetchWithTimeout = (request: Request) => this.#options.fetch(new Request(request, { signal: AbortSignal.timeout(timeoutMs) }));
      client = new RelayApiClient({
        baseUrl: relay.apiUrl,
        relayId: relay.relayId,
        // Seals bind this run of the relay (§8.4): a restarted relay cannot open them.
        relayBootId: relay.bootId,
        relayPublicKey: publicKey,
        key: { keyId: this.#options.apiKey.id, secret: this.#options.apiKey.secret },
        fetch: fetchWithTimeout,
        now: this.#options.now,
        // Native X25519 for the seal's ephemeral key (§8.4): @noble/curves costs the room ~2 ms per seal.
        ephemeralKey: () => webCryptoX25519.generate(),
      });
      this.#clients.set(key, client);
    }
    return client;
  }

  /** Seals the keys to the relay and installs the session; the keys are wiped whatever happens. */
  async install(relay: RelayRef, request: InstallRequest): Promise<InstallSessionResponse> {
    try {
      return await this.#client(relay).installSession({
        sessionId: request.sessionId,
        userId: request.userId,
        channelId: request.channelId,
        ssrc: request.ssrc,
        profile: request.profile,
        permissions: { canSpeak: request.canSpeak, canListen: request.canListen, muted: request.muted, deafened: request.deafened },
        expiresAt: request.expiresAt,
        keys: request.keys,
      });
    } catch (error) {
      throw asCallError('install', error);
    } finally {
      wipeSessionKeyMaterial(request.keys);
    }
  }

  /** New keys and SSRC for a session (§8.5 rotate); the keys are wiped whatever happens. */
  /** New keys and SSRC on the session's relay, and the session's new expiry with them. */
  async rotate(relay: RelayRef, sessionId: string, ssrc: number, profile: SrtpProfileName, keys: SessionKeyMaterial, expiresAt: number): Promise<void> {
    try {
      await this.#client(relay).rotateSession(sessionId, ssrc, profile, keys, expiresAt);
    } catch (error) {
      throw asCallError('rotate', error);
    } finally {
      wipeSessionKeyMaterial(keys);
    }
  }

  async update(relay: RelayRef, sessionId: string, patch: UpdateSessionBody): Promise<void> {
    try {
      await this.#client(relay).updateSession(sessionId, patch);
    } catch (error) {
      throw asCallError('update', error);
    }
  }

  /** Ends the session on the relay. A session the relay does not have (404) counts as ended. */
  async revoke(relay: RelayRef, sessionId: string, timeoutMs?: number): Promise<void> {
    try {
      await this.#client(relay, timeoutMs).revokeSession(sessionId);
    } catch (error) {
      if (error instanceof RelayApiError && error.status === 404) return;
      throw asCallError('revoke', error);
    }
  }

  /**
   * Asks the relay what it holds, with a short timeout: the room's own look before it moves a
   * channel on a client's report (§5.9). Never throws.
   */
  async probe(relay: RelayRef, timeoutMs = RELAY_PROBE_TIMEOUT_MS): Promise<RelayProbe> {
    try {
      const list = await this.#client(relay, timeoutMs).listSessions();
      return { kind: 'answered', draining: list.draining, sessionIds: new Set(list.sessions.map((s) => s.sessionId)) };
    } catch (error) {
      const status = error instanceof RelayApiError ? error.status : 0;
      // A relay that answers 4xx is running (and refusing us for a reason a move would not fix).
      if (status !== 0 && status < 500) return { kind: 'answered', draining: false, sessionIds: null };
      return { kind: 'unreachable', status };
    }
  }

  async list(relay: RelayRef): Promise<SessionListResponse> {
    try {
      return await this.#client(relay).listSessions();
    } catch (error) {
      throw asCallError('list', error);
    }
  }
}

function asCallError(operation: RelayCallError['operation'], error: unknown): RelayCallError {
  if (error instanceof RelayCallError) return error;
  if (error instanceof RelayApiError) return new RelayCallError(operation, error.status, error.error, { cause: error });
  return new RelayCallError(operation, 0, 'unreachable', { cause: error });
}
