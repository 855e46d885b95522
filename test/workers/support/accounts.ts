/**
 * Helpers for the account route tests inside workerd: unique names and client addresses (every
 * workers test file shares one database, and the throttle's Durable Objects live per file), a
 * JSON client over either the deployed Worker (`exports.default`) or an app built with test
 * options, and a database handle on the local libSQL server for looking at what was stored.
 */
import { env, exports } from 'cloudflare:workers';
import { createControlApp, type ControlAppOptions } from '../../../control/src/app.js';
import { createPasswordHasher, nobleArgon2id, type Argon2idFunction } from '../../../control/src/auth/passwords.js';
import type { ControlBindings } from '../../../control/src/bindings.js';
import type { PasswordHashParameters } from '../../../control/src/config.js';
import { openDatabase, type Database } from '../../../control/src/db/client.js';

export const PASSWORD = 'correct horse battery staple';
const ORIGIN = 'https://control.test';

/** A username no other test (or earlier run against the same database) uses. */
export function uniqueUsername(prefix = 'u'): string {
  return `${prefix}${crypto.randomUUID().replaceAll('-', '').slice(0, 20)}`;
}

/** A CF-Connecting-IP value of its own, so tests never share a per-address throttle bucket. */
export function uniqueAddress(): string {
  const [a, b, c] = crypto.getRandomValues(new Uint8Array(3));
  return `10.${a}.${b}.${c! % 254 + 1}`;
}

export interface JsonResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: T;
}

export type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

/** The Worker as deployed: requests go through workerd's own dispatch. */
export const worker: Fetch = (url, init) => exports.default.fetch(new Request(url, init));

/** An app with test options (a counting hasher) over the same bindings, optionally with extra variables. */
export function appClient(options: ControlAppOptions, extraEnv: Partial<Record<keyof ControlBindings, string>> = {}): Fetch {
  const app = createControlApp(options);
  const appEnv = { ...env, ...extraEnv };
  return async (url, init) => app.request(url, init, appEnv);
}

export async function send<T = Record<string, unknown>>(
  fetcher: Fetch,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; token?: string; address?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined || options.rawBody !== undefined) headers['Content-Type'] ??= 'application/json';
  if (options.token !== undefined) headers['Authorization'] = `Bearer ${options.token}`;
  headers['CF-Connecting-IP'] ??= options.address ?? uniqueAddress();
  const response = await fetcher(`${ORIGIN}${path}`, {
    method,
    headers,
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, headers: response.headers, text, body: body as T };
}

export interface TokenPairBody {
  tokenType: 'Bearer';
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken: string;
  refreshTokenExpiresAt: number;
  sessionId: string;
  user: { id: string; username: string; createdAt: number };
}

export interface ErrorBody {
  error: string;
  message: string;
  field?: string;
  retryAfterSeconds?: number;
}

/** Registers a fresh account through the Worker; fails the test unless it is 201. */
export async function registerAccount(fetcher: Fetch = worker, username = uniqueUsername(), password = PASSWORD): Promise<TokenPairBody & { password: string }> {
  const response = await send<TokenPairBody>(fetcher, 'POST', '/v1/auth/register', { body: { username, password } });
  if (response.status !== 201) throw new Error(`register: ${response.status} ${response.text}`);
  return { ...response.body, password };
}

/** Argon2id that records the parameters of every computation it runs. */
export function countingHasher(): { options: ControlAppOptions; computations: PasswordHashParameters[] } {
  const computations: PasswordHashParameters[] = [];
  const derive: Argon2idFunction = (password, salt, params) => {
    computations.push(params);
    return nobleArgon2id(password, salt, params);
  };
  return { options: { passwordHasher: createPasswordHasher(derive) }, computations };
}

/** The shared database of the workers run (the local libSQL server). */
export function testDatabase(): Database {
  return openDatabase({ url: env.LIBSQL_URL ?? '', authToken: env.LIBSQL_AUTH_TOKEN });
}

export async function countUsersWithKey(db: Database, key: string): Promise<number> {
  const result = await db.$client.execute({ sql: 'SELECT count(*) AS n FROM users WHERE username_key = ?', args: [key] });
  return Number(result.rows[0]!['n']);
}
