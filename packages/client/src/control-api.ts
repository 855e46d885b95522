/**
 * The control plane's HTTP API (docs/protocol.md §4) as typed calls: JSON in and out, errors
 * as ApiError, answers checked against the schemas in shared/client/control-api-schemas.ts.
 * Knows nothing about which token is current; the caller passes it.
 */
import type { z } from 'zod';
import { clockOffsetFromDateHeader } from '../../../shared/client/token-renewal.js';
import {
  ApiErrorBodySchema,
  ChannelPageSchema,
  ChannelSchema,
  MeSchema,
  MemberPageSchema,
  MemberSchema,
  TokenPairSchema,
  type Channel,
  type ChannelPage,
  type Me,
  type Member,
  type MemberPage,
  type TokenPair,
} from '../../../shared/client/control-api-schemas.js';
import { ApiError, ConnectionError, ProtocolError } from './errors.js';

export interface ControlApiOptions {
  /** The control plane's URL, e.g. `https://parley-control.example.workers.dev` (a path prefix is kept). */
  readonly baseUrl: string | URL;
  /** A fetch implementation (default: the global one). */
  readonly fetch?: typeof globalThis.fetch;
  /** Per-request timeout, ms (default 15000). */
  readonly requestTimeoutMs?: number;
  /** Sent as User-Agent (the server remembers it per login, §4.3.6). */
  readonly userAgent?: string;
}

export interface CreateChannelInput {
  readonly name: string;
  /** Default `private` (§4.4). */
  readonly visibility?: 'open' | 'private';
  readonly memberLimit?: number;
  /** A relay region code to pin the channel's voice to, or null. */
  readonly region?: string | null;
}

export interface ListChannelsInput {
  /** `member`: yours; `open`: open ones; `all` (default): both. */
  readonly membership?: 'member' | 'open' | 'all';
  readonly limit?: number;
  readonly cursor?: string;
}

export interface PageInput {
  readonly limit?: number;
  readonly cursor?: string;
}

interface Call {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Relative to the base URL, without a leading slash: `v1/auth/login`. */
  readonly path: string;
  readonly token?: string;
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
}

export class ControlApi {
  readonly baseUrl: URL;
  readonly #fetch: typeof globalThis.fetch;
  readonly #timeoutMs: number;
  readonly #userAgent: string | undefined;
  /** Server clock − local clock, ms, from the newest answer's Date header (null before one). */
  #clockOffsetMs: number | null = null;

  constructor(options: ControlApiOptions) {
    let base: URL;
    try {
      base = new URL(String(options.baseUrl));
    } catch {
      throw new TypeError('control api: baseUrl must be an absolute URL');
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new TypeError('control api: baseUrl must be an http(s) URL');
    if (base.search !== '' || base.hash !== '') throw new TypeError('control api: baseUrl must not have a query or fragment');
    // Paths join below the base's path (RFC 3986 §5.2: a base without the trailing slash would
    // drop its last segment).
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    this.baseUrl = base;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#timeoutMs = options.requestTimeoutMs ?? 15_000;
    this.#userAgent = options.userAgent;
  }

  /** The server's clock now, estimated from the Date headers seen (the local clock before any). */
  serverNow(localNow = Date.now()): number {
    return localNow + (this.#clockOffsetMs ?? 0);
  }

  /** An absolute URL for a path relative to the base (`v1/channels/…/voice`). */
  url(path: string): URL {
    return new URL(path, this.baseUrl);
  }

  // ---- §4.3 accounts and tokens ----------------------------------------------------------

  register(username: string, password: string): Promise<TokenPair> {
    return this.#json({ method: 'POST', path: 'v1/auth/register', body: { username, password } }, TokenPairSchema);
  }

  login(username: string, password: string): Promise<TokenPair> {
    return this.#json({ method: 'POST', path: 'v1/auth/login', body: { username, password } }, TokenPairSchema);
  }

  refresh(refreshToken: string): Promise<TokenPair> {
    return this.#json({ method: 'POST', path: 'v1/auth/refresh', body: { refreshToken } }, TokenPairSchema);
  }

  async logout(token: string): Promise<void> {
    await this.#json({ method: 'POST', path: 'v1/auth/logout', token }, null);
  }

  me(token: string): Promise<Me> {
    return this.#json({ method: 'GET', path: 'v1/me', token }, MeSchema);
  }

  // ---- §4.4 channels ---------------------------------------------------------------------

  listChannels(token: string, input: ListChannelsInput = {}): Promise<ChannelPage> {
    return this.#json({ method: 'GET', path: 'v1/channels', token, query: { membership: input.membership, limit: input.limit, cursor: input.cursor } }, ChannelPageSchema);
  }

  createChannel(token: string, input: CreateChannelInput): Promise<Channel> {
    return this.#json({ method: 'POST', path: 'v1/channels', token, body: input }, ChannelSchema);
  }

  getChannel(token: string, channelId: string): Promise<Channel> {
    return this.#json({ method: 'GET', path: `v1/channels/${segment(channelId)}`, token }, ChannelSchema);
  }

  joinChannel(token: string, channelId: string): Promise<Member> {
    return this.#json({ method: 'POST', path: `v1/channels/${segment(channelId)}/join`, token }, MemberSchema);
  }

  async leaveChannel(token: string, channelId: string): Promise<void> {
    await this.#json({ method: 'POST', path: `v1/channels/${segment(channelId)}/leave`, token }, null);
  }

  async deleteChannel(token: string, channelId: string): Promise<void> {
    await this.#json({ method: 'DELETE', path: `v1/channels/${segment(channelId)}`, token }, null);
  }

  listMembers(token: string, channelId: string, input: PageInput = {}): Promise<MemberPage> {
    return this.#json({ method: 'GET', path: `v1/channels/${segment(channelId)}/members`, token, query: { limit: input.limit, cursor: input.cursor } }, MemberPageSchema);
  }

  // ---- transport -------------------------------------------------------------------------

  async #json<S extends z.ZodType>(call: Call, schema: S | null): Promise<z.infer<S>> {
    const url = this.url(call.path);
    for (const [name, value] of Object.entries(call.query ?? {})) if (value !== undefined) url.searchParams.set(name, String(value));
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (call.token !== undefined) headers['Authorization'] = `Bearer ${call.token}`;
    if (call.body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.#userAgent !== undefined) headers['User-Agent'] = this.#userAgent;
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method: call.method,
        headers,
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
      throw new ConnectionError(
        timedOut ? `${call.method} ${url.pathname}: no answer from ${url.origin} within ${this.#timeoutMs} ms` : `${call.method} ${url.pathname}: cannot reach ${url.origin}`,
        { cause: error },
      );
    }
    const offset = clockOffsetFromDateHeader(response.headers.get('date'), Date.now());
    if (offset !== null) this.#clockOffsetMs = offset;
    const requestId = response.headers.get('x-request-id') ?? undefined;
    const text = await response.text().catch((error: unknown) => {
      throw new ConnectionError(`${call.method} ${url.pathname}: the answer from ${url.origin} broke off`, { cause: error });
    });
    if (!response.ok) throw errorFrom(response, text, requestId, `${call.method} ${url.pathname}`);
    if (schema === null) return undefined as z.infer<S>;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ProtocolError(`${call.method} ${url.pathname}: the answer is not JSON (is ${url.origin} a Parley control plane?)`);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ProtocolError(`${call.method} ${url.pathname}: unexpected answer (${issue === undefined ? 'shape' : issue.path.join('.') || 'body'})`);
    }
    return parsed.data;
  }
}

function errorFrom(response: Response, text: string, requestId: string | undefined, what: string): ApiError | ProtocolError {
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Not the error shape: a proxy's page, a wrong URL.
  }
  const parsed = ApiErrorBodySchema.safeParse(body);
  if (!parsed.success) {
    if (response.status === 404) return new ProtocolError(`${what}: 404 without a Parley error body (is the URL a Parley control plane?)`);
    return new ApiError({ status: response.status, code: response.status >= 500 ? 'unavailable' : 'bad_request', message: `${what}: HTTP ${response.status}`, requestId });
  }
  const retryAfter = parsed.data.retryAfterSeconds ?? retryAfterHeader(response.headers.get('retry-after'));
  return new ApiError({ status: response.status, code: parsed.data.error, message: parsed.data.message, field: parsed.data.field, retryAfterSeconds: retryAfter, requestId });
}

function retryAfterHeader(value: string | null): number | undefined {
  if (value === null || !/^\d{1,6}$/.test(value)) return undefined;
  return Number(value);
}

/** A path segment, percent-encoded (ids never need it; it keeps a bad id from changing the path). */
function segment(value: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError('control api: an id must be a non-empty string');
  return encodeURIComponent(value);
}
