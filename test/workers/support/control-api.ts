/**
 * Calling the control-plane Worker from workerd tests, and reaching the database it uses (the
 * local libSQL server the workers project's global setup started, from the LIBSQL_URL /
 * LIBSQL_AUTH_TOKEN bindings). Every test file shares that database: use fresh accounts and
 * channels (test/support/test-principals.ts) and never assume a table is empty.
 */
import { env, exports } from 'cloudflare:workers';
import { describe, it } from 'vitest';
import { loadControlConfig, type ControlConfig } from '../../../control/src/config.js';
import { openDatabase, type Database } from '../../../control/src/db/client.js';

export const BASE_URL = 'https://control.test';

/**
 * The address the unit tests use for "no database server" (a port nothing listens on). The
 * workers project never has it: its global setup (test/support/libsql-global-setup.ts) starts the
 * local libSQL server and vitest.config.ts passes that server's URL as LIBSQL_URL.
 */
const NO_DATABASE_PLACEHOLDER = 'http://127.0.0.1:9/';

/** Whether the workers project runs with a real database (the local libSQL server). */
export const workerDatabaseConfigured =
  typeof env.LIBSQL_URL === 'string' && env.LIBSQL_URL !== '' && env.LIBSQL_URL !== NO_DATABASE_PLACEHOLDER;

/**
 * `describe` for tests that need the database. Without one it does not skip: a suite that skips
 * silently reports green for tests that never ran. It registers one failing test instead, which
 * says what is missing and how to provide it; the suite's own tests are not registered, so they
 * do not each fail with a connection error that hides the cause.
 */
export function describeWithDatabase(name: string, body: () => void): void {
  if (workerDatabaseConfigured) {
    describe(name, body);
    return;
  }
  describe(name, () => {
    it('has the libSQL server it needs', () => {
      throw new Error(missingDatabaseMessage());
    });
  });
}

function missingDatabaseMessage(): string {
  const found = typeof env.LIBSQL_URL !== 'string' || env.LIBSQL_URL === '' ? 'no LIBSQL_URL binding' : `LIBSQL_URL is the placeholder ${NO_DATABASE_PLACEHOLDER}`;
  // Only the URL's absence is named: never the auth token.
  return (
    `the workers project has no libSQL server (${found}). ` +
    'vitest.config.ts provides one: its workers project runs the global setup test/support/libsql-global-setup.ts, ' +
    'which starts the local libSQL server in-process on an ephemeral port and passes its URL and token as the ' +
    'LIBSQL_URL / LIBSQL_AUTH_TOKEN bindings. Run these tests from the repository root with ' +
    '`npx vitest run --project workers <file>` or `npm test`, not with a config that leaves that global setup out.'
  );
}

let config: ControlConfig | undefined;

/** The configuration the Worker itself runs with (the same bindings). */
export function workerConfig(): ControlConfig {
  config ??= loadControlConfig(env as unknown as Record<string, unknown>);
  return config;
}

/** A client on the Worker's database, for arranging state and checking what was stored. */
export function workerDatabase(): Database {
  return openDatabase(workerConfig().database);
}

export interface ApiResponse<T = Record<string, unknown>> {
  readonly status: number;
  readonly headers: Headers;
  /** The parsed JSON body, or null for an empty one. */
  readonly body: T;
  readonly text: string;
}

export interface ApiRequest {
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** JSON-encoded with Content-Type application/json. */
  readonly json?: unknown;
  /** Sent as it is (with the given headers), for malformed bodies. */
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function api<T = any>(method: string, path: string, request: ApiRequest = {}): Promise<ApiResponse<T>> {
  const headers = new Headers(request.headers);
  if (request.token !== undefined) headers.set('Authorization', `Bearer ${request.token}`);
  let body: string | undefined = request.rawBody;
  if (request.json !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(request.json);
  }
  const response = await exports.default.fetch(`${BASE_URL}${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: (text === '' ? null : JSON.parse(text)) as T };
}
