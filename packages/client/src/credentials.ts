/**
 * Holds the client's access token and renews it before it expires: with the refresh token for
 * an account's login (docs/protocol.md §4.3.4), or through the application's callback for a
 * token its server minted (§4.5). One renewal at a time; a renewal that fails for a passing
 * reason is retried with backoff; a refused refresh token signs the client out.
 *
 * The schedule is shared/client/token-renewal.ts; this module owns the one timer. The timer is
 * unref'd: a client with nothing else to do lets the process exit.
 */
import { EventEmitter } from 'node:events';
import { readAccessTokenClaims, renewalDelayMs, renewalRetryDelayMs, type AccessTokenClaims } from '../../../shared/client/token-renewal.js';
import type { TokenPair, User } from '../../../shared/client/control-api-schemas.js';
import type { ControlApi } from './control-api.js';
import { ApiError, ClosedError, ConnectionError, NotSignedInError, ParleyError, ProtocolError } from './errors.js';

/** Fetches a fresh access token from the application's server (which mints it, §4.5). */
export type TokenSource = () => Promise<string>;

export type SignedOutReason =
  /** logout() ended the login. */
  | 'logout'
  /** The refresh token was refused (expired, revoked, reused, the login ended): sign in again. */
  | 'refresh_refused'
  /** A token without a way to renew it expired. */
  | 'token_expired'
  /** The client was closed. */
  | 'closed';

export interface CredentialEvents {
  /** A new token pair: store `refreshToken` if the login should survive a restart (it rotates on every refresh). */
  credentials: [pair: TokenPair];
  /** The access token was renewed (refresh or the app's token source). */
  tokenRenewed: [info: { readonly expiresAt: number }];
  /** A renewal failed for a reason that may pass; the next try is scheduled. */
  renewalFailed: [info: { readonly error: ParleyError; readonly attempt: number; readonly retryInMs: number }];
  signedOut: [info: { readonly reason: SignedOutReason }];
}

interface Held {
  readonly accessToken: string;
  readonly claims: AccessTokenClaims;
  readonly expiresAtMs: number;
  readonly renew: { readonly kind: 'refresh'; refreshToken: string } | { readonly kind: 'source'; readonly source: TokenSource } | { readonly kind: 'none' };
  readonly user: User | null;
}

export interface Identity {
  /** `usr_…` for an account, `<appKeyId>:<userId>` for a minted token. */
  readonly subject: string | null;
  /** The login (`ses_…`) or, for a minted token, the app key id. */
  readonly sessionId: string | null;
  /** The account (after register, login or a refresh); null for a minted token. */
  readonly user: User | null;
  readonly accessTokenExpiresAt: number;
}

export class CredentialKeeper extends EventEmitter<CredentialEvents> {
  readonly #api: ControlApi;
  readonly #random: () => number;
  #held: Held | null = null;
  #renewal: Promise<string> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #failures = 0;
  #closed = false;
  /** Bumped whenever the credentials are replaced, so a renewal for old ones is not kept. */
  #generation = 0;

  constructor(api: ControlApi, random: () => number = Math.random) {
    super();
    this.#api = api;
    this.#random = random;
  }

  get signedIn(): boolean {
    return this.#held !== null;
  }

  identity(): Identity | null {
    const held = this.#held;
    if (held === null) return null;
    return { subject: held.claims.subject, sessionId: held.claims.sessionId, user: held.user, accessTokenExpiresAt: held.expiresAtMs };
  }

  /** Takes a token pair from register, login or refresh. */
  useTokenPair(pair: TokenPair): void {
    this.#assertOpen();
    this.#set(pair.accessToken, { kind: 'refresh', refreshToken: pair.refreshToken }, pair.user, pair.accessTokenExpiresAt);
    this.emit('credentials', pair);
  }

  /** Takes an access token (e.g. minted by the app's server) and, optionally, where to get the next one. */
  useAccessToken(accessToken: string, source?: TokenSource): void {
    this.#assertOpen();
    if (source !== undefined && typeof source !== 'function') throw new TypeError('credentials: renew must be a function returning a token');
    this.#set(accessToken, source === undefined ? { kind: 'none' } : { kind: 'source', source }, null, null);
  }

  /**
   * The access token to use now. While a renewal is under way because the token is about to
   * expire, waits for it.
   */
  async accessToken(): Promise<string> {
    this.#assertOpen();
    const held = this.#held;
    if (held === null) throw new NotSignedInError();
    if (this.#renewal !== null && this.#api.serverNow() >= held.expiresAtMs) return this.#renewal;
    return held.accessToken;
  }

  /**
   * Renews now (one renewal at a time: concurrent callers share it). `staleToken`: renew only if
   * the current token is still that one (a 401 on it); otherwise the current token is returned.
   */
  renew(staleToken?: string): Promise<string> {
    this.#assertOpen();
    const held = this.#held;
    if (held === null) return Promise.reject(new NotSignedInError());
    if (staleToken !== undefined && held.accessToken !== staleToken) return Promise.resolve(held.accessToken);
    if (this.#renewal !== null) return this.#renewal;
    if (held.renew.kind === 'none') return Promise.reject(new NotSignedInError('The access token cannot be renewed: pass a renew function to useToken().'));
    const generation = this.#generation;
    const renewal = this.#renewOnce(held).finally(() => {
      if (this.#renewal === renewal) this.#renewal = null;
    });
    this.#renewal = renewal;
    renewal.then(
      () => undefined,
      (error: unknown) => {
        if (generation !== this.#generation || this.#closed) return;
        this.#afterFailure(error);
      },
    );
    return renewal;
  }

  /** Forgets the credentials (logout, a refused refresh). */
  signOut(reason: SignedOutReason): void {
    if (this.#held === null) return;
    this.#held = null;
    this.#generation++;
    this.#clearTimer();
    this.emit('signedOut', { reason });
  }

  /** Whether the current token can be renewed (a login's refresh token, or a token source). */
  get canRenew(): boolean {
    return this.#held !== null && this.#held.renew.kind !== 'none';
  }

  /** Stops the timer and forgets the credentials. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.signOut('closed');
    this.#closed = true;
    this.removeAllListeners();
  }

  async #renewOnce(held: Held): Promise<string> {
    const generation = this.#generation;
    if (held.renew.kind === 'refresh') {
      const pair = await this.#api.refresh(held.renew.refreshToken);
      if (generation !== this.#generation || this.#closed) return pair.accessToken;
      this.#failures = 0;
      this.#set(pair.accessToken, { kind: 'refresh', refreshToken: pair.refreshToken }, pair.user, pair.accessTokenExpiresAt);
      this.emit('credentials', pair);
      this.emit('tokenRenewed', { expiresAt: pair.accessTokenExpiresAt });
      return pair.accessToken;
    }
    if (held.renew.kind !== 'source') throw new NotSignedInError();
    let token: unknown;
    try {
      token = await held.renew.source();
    } catch (error) {
      throw new ConnectionError('The token source (renew) failed', { cause: error });
    }
    if (typeof token !== 'string' || readAccessTokenClaims(token) === null) throw new ProtocolError('The token source (renew) did not return an access token');
    if (generation !== this.#generation || this.#closed) return token;
    this.#failures = 0;
    this.#set(token, held.renew, null, null);
    this.emit('tokenRenewed', { expiresAt: this.#held!.expiresAtMs });
    return token;
  }

  #afterFailure(error: unknown): void {
    if (error instanceof ApiError && !error.transient) {
      // §4.3.4: on invalid_refresh_token, log in again. Any other refusal is not going to pass either.
      this.signOut('refresh_refused');
      return;
    }
    const held = this.#held;
    if (held === null) return;
    this.#failures++;
    const retryAfterMs = error instanceof ApiError && error.retryAfterSeconds !== undefined ? error.retryAfterSeconds * 1000 : undefined;
    const retryInMs = renewalRetryDelayMs(this.#failures, this.#random(), retryAfterMs);
    this.#schedule(retryInMs);
    const reported = error instanceof ParleyError ? error : new ConnectionError('Token renewal failed', { cause: error });
    this.emit('renewalFailed', { error: reported, attempt: this.#failures, retryInMs });
  }

  #set(accessToken: string, renew: Held['renew'], user: User | null, expiresAtMs: number | null): void {
    if (typeof accessToken !== 'string' || accessToken.length === 0) throw new TypeError('credentials: an access token must be a non-empty string');
    const claims = readAccessTokenClaims(accessToken);
    if (claims === null) throw new TypeError('credentials: the access token is not a Parley access token (a JWT with iat and exp)');
    this.#generation++;
    this.#held = { accessToken, claims, expiresAtMs: expiresAtMs ?? claims.expiresAtMs, renew, user: user ?? (renew.kind === 'refresh' ? this.#held?.user ?? null : null) };
    this.#failures = 0;
    this.#schedule(this.#delayFor(this.#held));
  }

  #delayFor(held: Held): number {
    return renewalDelayMs({ lifetimeMs: held.claims.expiresAtMs - held.claims.issuedAtMs, expiresAtMs: held.expiresAtMs, serverNowMs: this.#api.serverNow() });
  }

  #schedule(delayMs: number): void {
    this.#clearTimer();
    const held = this.#held;
    if (held === null || this.#closed) return;
    const generation = this.#generation;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (generation !== this.#generation || this.#held === null) return;
      if (this.#held.renew.kind === 'none') {
        // Nothing renews it: at expiry the client is signed out.
        if (this.#api.serverNow() >= this.#held.expiresAtMs) this.signOut('token_expired');
        else this.#schedule(this.#held.expiresAtMs - this.#api.serverNow());
        return;
      }
      this.renew().catch(() => undefined); // failures are handled (and reported) in renew()
    }, Math.min(delayMs, 2 ** 31 - 1));
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError('The Parley client');
  }
}
