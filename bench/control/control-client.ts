/**
 * The few control-plane calls the benchmark makes (docs/protocol.md §4.3), each timed, with the
 * status kept: a benchmark counts every answer, it never assumes one.
 */
import { performance } from 'node:perf_hooks';

export interface TokenPair {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly sessionId: string;
}

export interface Timed<T> {
  readonly status: number;
  /** Wall time from sending to the whole body read, ms. */
  readonly ms: number;
  /** The parsed body when the status was the expected one. */
  readonly value: T | null;
}

export class UnexpectedStatusError extends Error {
  override readonly name = 'UnexpectedStatusError';
}

export class ControlClient {
  constructor(readonly baseUrl: string) {}

  async #send<T>(method: 'GET' | 'POST', path: string, expected: number, options: { body?: unknown; token?: string } = {}): Promise<Timed<T>> {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
    const started = performance.now();
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await response.text();
    const ms = performance.now() - started;
    return { status: response.status, ms, value: response.status === expected && text !== '' ? (JSON.parse(text) as T) : null };
  }

  healthz(): Promise<Timed<unknown>> {
    return this.#send('GET', '/healthz', 200);
  }

  register(username: string, password: string): Promise<Timed<TokenPair>> {
    return this.#send('POST', '/v1/auth/register', 201, { body: { username, password } });
  }

  login(username: string, password: string): Promise<Timed<TokenPair>> {
    return this.#send('POST', '/v1/auth/login', 200, { body: { username, password } });
  }

  refresh(refreshToken: string): Promise<Timed<TokenPair>> {
    return this.#send('POST', '/v1/auth/refresh', 200, { body: { refreshToken } });
  }

  me(accessToken: string): Promise<Timed<unknown>> {
    return this.#send('GET', '/v1/me', 200, { token: accessToken });
  }

  /** An operator's channel (§4.7), with the stack's operator app key. */
  createChannel(operatorKey: string, name: string): Promise<Timed<{ readonly id: string }>> {
    return this.#send('POST', '/v1/admin/channels', 201, { token: operatorKey, body: { name, visibility: 'private' } });
  }

  /** A token for an app's user who may speak and listen in one channel (§4.5). */
  mintToken(appKey: string, userId: string, channelId: string, ttlSeconds: number): Promise<Timed<{ readonly accessToken: string }>> {
    return this.#send('POST', '/v1/tokens', 201, {
      token: appKey,
      body: { userId, displayName: userId, grants: [{ channelId, permissions: ['speak', 'listen'] }], ttlSeconds },
    });
  }
}

/** The value, or UnexpectedStatusError naming what was asked and what came back. */
export function expectValue<T>(what: string, timed: Timed<T>): T {
  if (timed.value === null) throw new UnexpectedStatusError(`${what}: HTTP ${timed.status}`);
  return timed.value;
}
