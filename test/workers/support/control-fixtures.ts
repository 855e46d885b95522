/**
 * Fixtures for the app-key, token and relay-directory route tests inside workerd, on top of
 * control-api.ts (the Worker's database and configuration). Every workers test file shares one
 * database (the local libSQL server's), so nothing here assumes it is empty: names and ids
 * carry a random suffix.
 */
import { exports } from 'cloudflare:workers';
import { issueAppKey, type AppKeyScope, type IssuedAppKey } from '../../../control/src/auth/app-keys.js';
import { channels } from '../../../control/src/db/schema.js';
import { newId } from '../../../control/src/ids.js';
import { BASE_URL, workerDatabase } from './control-api.js';

export { BASE_URL, describeWithDatabase, workerConfig, workerDatabase } from './control-api.js';

export function uniqueSuffix(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** An app key written straight to the database, as `npm run admin:create-key` does. */
export async function createAppKey(scopes: readonly AppKeyScope[], name = `test ${uniqueSuffix()}`): Promise<IssuedAppKey> {
  return issueAppKey(workerDatabase(), { name, scopes, createdBy: 'bootstrap', now: Date.now() });
}

/** A channel row (the channel routes are not needed to mint tokens for it). */
export async function createChannel(): Promise<string> {
  const id = newId('chn');
  const now = Date.now();
  await workerDatabase().insert(channels).values({ id, name: `test ${uniqueSuffix()}`, visibility: 'open', ownerId: null, memberLimit: 50, region: null, createdAt: now, updatedAt: now });
  return id;
}

/** A request to the Worker from wrangler.toml, through workerd's own fetch dispatch. */
export function workerFetch(pathOrRequest: string | Request, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(typeof pathOrRequest === 'string' ? new Request(`${BASE_URL}${pathOrRequest}`, init) : pathOrRequest);
}

export function jsonRequest(method: string, body: unknown, bearer?: string, headers: Record<string, string> = {}): RequestInit {
  return {
    method,
    headers: { 'content-type': 'application/json', ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

export interface ErrorResponseBody {
  readonly error: string;
  readonly message: string;
  readonly field?: string;
}

/** Asserts the one error shape and returns it. */
export async function errorOf(response: Response): Promise<ErrorResponseBody> {
  const body = (await response.json()) as ErrorResponseBody;
  if (typeof body.error !== 'string' || typeof body.message !== 'string') throw new Error(`not the error shape: ${JSON.stringify(body)}`);
  return body;
}
