/**
 * ParleyClient: one user's connection to a Parley deployment. Signs in (register, login, a
 * stored refresh token, or an access token the application's server minted), keeps the access
 * token fresh, calls the HTTP API (docs/protocol.md §4) and joins channels' voice (§5, §6).
 */
import { EventEmitter } from 'node:events';
import type { Channel, ChannelPage, Me, Member, MemberPage, TokenPair } from '../../../shared/client/control-api-schemas.js';
import { ControlApi, type CreateChannelInput, type ListChannelsInput, type PageInput } from './control-api.js';
import { CredentialKeeper, type CredentialEvents, type Identity, type TokenSource } from './credentials.js';
import { ApiError, ClosedError } from './errors.js';
import { VoiceSession, type JoinVoiceOptions } from './voice-session.js';

export interface ParleyClientOptions {
  /** The control plane's URL, e.g. `https://parley-control.example.workers.dev`. */
  readonly baseUrl: string | URL;
  /** A fetch implementation (default: the global one, Node's undici). */
  readonly fetch?: typeof globalThis.fetch;
  /** Per-request timeout, ms (default 15000). */
  readonly requestTimeoutMs?: number;
  /** Sent as User-Agent on HTTP requests (default `parley-client/<version> node/<version>`). */
  readonly userAgent?: string;
}

export type ParleyClientEvents = CredentialEvents;

export interface UseTokenOptions {
  /**
   * Called for a fresh token before the current one expires (and when the server refuses it):
   * typically a request to the application's own server, which mints one with its app key.
   * Without it, the client signs out when the token expires.
   */
  readonly renew?: TokenSource;
}

export const CLIENT_VERSION = '0.1.0';

/** Channel routes (§4.4), with the client's current token. */
export class ChannelsApi {
  readonly #client: ParleyClient;

  /** @internal */
  constructor(client: ParleyClient) {
    this.#client = client;
  }

  /** One page of channels (default: yours and every open one, oldest first). */
  list(input: ListChannelsInput = {}): Promise<ChannelPage> {
    return this.#client.authorized((api, token) => api.listChannels(token, input));
  }

  /** Every channel the filter selects, page by page. */
  async *all(input: Omit<ListChannelsInput, 'cursor'> = {}): AsyncGenerator<Channel, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...input, ...(cursor === undefined ? {} : { cursor }) });
      yield* page.channels;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** Creates a channel; you become its owner. */
  create(input: CreateChannelInput): Promise<Channel> {
    return this.#client.authorized((api, token) => api.createChannel(token, input));
  }

  get(channelId: string): Promise<Channel> {
    return this.#client.authorized((api, token) => api.getChannel(token, channelId));
  }

  /** Becomes a member of an open channel (idempotent). */
  join(channelId: string): Promise<Member> {
    return this.#client.authorized((api, token) => api.joinChannel(token, channelId));
  }

  leave(channelId: string): Promise<void> {
    return this.#client.authorized((api, token) => api.leaveChannel(token, channelId));
  }

  /** Deletes a channel you own. */
  delete(channelId: string): Promise<void> {
    return this.#client.authorized((api, token) => api.deleteChannel(token, channelId));
  }

  members(channelId: string, input: PageInput = {}): Promise<MemberPage> {
    return this.#client.authorized((api, token) => api.listMembers(token, channelId, input));
  }
}

export class ParleyClient extends EventEmitter<ParleyClientEvents> {
  readonly api: ControlApi;
  readonly channels: ChannelsApi;
  readonly #credentials: CredentialKeeper;
  readonly #closers = new Set<() => Promise<void>>();
  #closed: Promise<void> | null = null;

  constructor(options: ParleyClientOptions) {
    super();
    this.api = new ControlApi({
      baseUrl: options.baseUrl,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
      userAgent: options.userAgent ?? `parley-client/${CLIENT_VERSION} node/${process.versions.node}`,
    });
    this.#credentials = new CredentialKeeper(this.api);
    for (const name of ['credentials', 'tokenRenewed', 'renewalFailed', 'signedOut'] as const) {
      this.#credentials.on(name, (...args: unknown[]) => (this.emit as (event: string, ...rest: unknown[]) => boolean)(name, ...args));
    }
    this.channels = new ChannelsApi(this);
  }

  /** Whether the client holds credentials. */
  get signedIn(): boolean {
    return this.#credentials.signedIn;
  }

  /** Who the credentials belong to, or null when signed out. */
  get identity(): Identity | null {
    return this.#credentials.identity();
  }

  /** Creates an account and signs in as it (§4.3.6). */
  async register(username: string, password: string): Promise<TokenPair> {
    this.#assertOpen();
    const pair = await this.api.register(username, password);
    this.#credentials.useTokenPair(pair);
    return pair;
  }

  /** Signs in with a username and password (§4.3.7). */
  async login(username: string, password: string): Promise<TokenPair> {
    this.#assertOpen();
    const pair = await this.api.login(username, password);
    this.#credentials.useTokenPair(pair);
    return pair;
  }

  /** Resumes a login from a stored refresh token (it is used up: store the one `credentials` gives). */
  async useRefreshToken(refreshToken: string): Promise<TokenPair> {
    this.#assertOpen();
    const pair = await this.api.refresh(refreshToken);
    this.#credentials.useTokenPair(pair);
    return pair;
  }

  /** Uses an access token the application's server minted (§4.5), renewed through `renew`. */
  useToken(accessToken: string, options: UseTokenOptions = {}): void {
    this.#assertOpen();
    this.#credentials.useAccessToken(accessToken, options.renew);
  }

  /** The current access token, renewed first if it has expired meanwhile. */
  accessToken(): Promise<string> {
    return this.#credentials.accessToken();
  }

  /** Renews the access token now (refresh, or the `renew` source). */
  async refresh(): Promise<void> {
    await this.#credentials.renew();
  }

  /** Who the token belongs to, as the server sees it (§4.3.10). */
  me(): Promise<Me> {
    return this.authorized((api, token) => api.me(token));
  }

  /**
   * Joins a channel's voice (§5, §6): the WebSocket to the channel's room, the key exchange, the
   * UDP socket to the relay. Resolves once the keys are confirmed and the media plane runs;
   * rejects with a VoiceError (the room's code: `forbidden`, `no_relay_available`, …) or a
   * ConnectionError. close() on the client closes it too.
   */
  joinVoice(channelId: string, options: JoinVoiceOptions = {}): Promise<VoiceSession> {
    this.#assertOpen();
    return VoiceSession.join(this, channelId, options);
  }

  /** Ends this login on the server (§4.3.9) and forgets the credentials. */
  async logout(): Promise<void> {
    this.#assertOpen();
    if (!this.#credentials.signedIn) return;
    const token = await this.#credentials.accessToken();
    try {
      await this.api.logout(token);
    } catch (error) {
      // Already ended (401) is what logout wanted; anything else is reported.
      if (!(error instanceof ApiError && error.status === 401)) throw error;
    }
    this.#credentials.signOut('logout');
  }

  /**
   * Runs an API call with the current token; if the server refuses that token as expired or
   * revoked (401 unauthorized) and it can be renewed, renews once and tries again.
   * @internal
   */
  async authorized<T>(call: (api: ControlApi, token: string) => Promise<T>): Promise<T> {
    this.#assertOpen();
    const token = await this.#credentials.accessToken();
    try {
      return await call(this.api, token);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401 && error.code === 'unauthorized') || !this.#credentials.canRenew) throw error;
      const fresh = await this.#credentials.renew(token);
      return call(this.api, fresh);
    }
  }

  /** @internal The credentials, for voice sessions (fresh tokens on their sockets). */
  get credentials(): CredentialKeeper {
    return this.#credentials;
  }

  /** @internal Registers something close() must close first (a voice session). */
  own(close: () => Promise<void>): () => void {
    this.#closers.add(close);
    return () => this.#closers.delete(close);
  }

  /**
   * Closes every voice session, stops token renewal and forgets the credentials (the login stays
   * valid on the server: call logout() first to end it). Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.allSettled([...this.#closers].map((close) => close()));
      this.#closers.clear();
      this.#credentials.close();
      this.removeAllListeners();
    })();
    return this.#closed;
  }

  #assertOpen(): void {
    if (this.#closed !== null) throw new ClosedError('The Parley client');
  }
}
