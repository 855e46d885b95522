/**
 * The command behind `npm run admin:create-key` (control/dev/create-app-key.ts): creates an
 * app key directly in the database and prints it once. This is how a deployment gets its first operator key (the /v1/admin routes need one to create
 * the others), and how an operator who revoked the last one gets back in.
 *
 *   npm run admin:create-key -- --name ops --scope operator                   .parley/local.db
 *   LIBSQL_URL=libsql://db-org.turso.io LIBSQL_AUTH_TOKEN=… npm run -s admin:create-key -- --name ops --scope operator
 *   KEY=$(npm run -s admin:create-key -- --name chat-app --scope tokens:mint)
 *
 * The key goes to stdout alone on one line, so it can be captured; everything else goes to
 * stderr. Only its hash is stored (auth/app-keys.ts issueAppKey, the same code the admin route
 * uses), so it cannot be shown again. The database must be migrated first (npm run db:migrate).
 */
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient, type Client } from '@libsql/client';
import { APP_KEY_SCOPES, issueAppKey, type AppKeyScope } from '../src/auth/app-keys.js';
import { checkDisplayName } from '../src/auth/display-names.js';
import { databaseFromClient } from '../src/db/client.js';
import { LOCAL_DATABASE_FILE, REPO_ROOT } from './local-paths.js';

const USAGE = `usage: npm run admin:create-key -- --name NAME --scope SCOPE [--scope SCOPE]

Creates an app key in LIBSQL_URL (with LIBSQL_AUTH_TOKEN), or in .parley/local.db when LIBSQL_URL
is unset, and prints it once on stdout. Scopes: ${APP_KEY_SCOPES.join(', ')} (operator allows every
route, including /v1/admin). NAME: 1..64 characters, what the key is for.`;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface CommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

class UsageError extends Error {}

interface Target {
  readonly url: string;
  readonly authToken: string | undefined;
  /** Without credentials or query, for printing. */
  readonly shown: string;
}

function chooseTarget(environment: Readonly<Record<string, string | undefined>>): Target {
  const url = environment['LIBSQL_URL'];
  const givenToken = environment['LIBSQL_AUTH_TOKEN'];
  const authToken = givenToken === undefined || givenToken === '' ? undefined : givenToken;
  if (url === undefined || url === '') {
    return { url: `file:${LOCAL_DATABASE_FILE}`, authToken: undefined, shown: relative(REPO_ROOT, LOCAL_DATABASE_FILE) };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError('LIBSQL_URL is not a URL');
  }
  const shown = parsed.protocol === 'file:' ? (url.split('?', 1)[0] ?? url) : `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  if (parsed.protocol === 'http:' && !LOOPBACK_HOSTS.has(parsed.hostname)) {
    throw new UsageError(`refusing plain http:// to ${parsed.hostname}; use https:// or libsql://`);
  }
  if (!['file:', 'http:', 'https:', 'libsql:'].includes(parsed.protocol)) {
    throw new UsageError(`LIBSQL_URL must be libsql:, https:, http: (loopback) or file:, not ${parsed.protocol}`);
  }
  return { url, authToken, shown };
}

function parseCommandLine(argv: readonly string[]): { name: string; scopes: AppKeyScope[] } | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { name: { type: 'string' }, scope: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) return 'help';
  if (values.name === undefined) throw new UsageError('--name is required');
  const name = checkDisplayName(values.name);
  if (!name.ok) throw new UsageError(`--name ${name.problem}`);
  const scopes = values.scope ?? [];
  if (scopes.length === 0) throw new UsageError('at least one --scope is required');
  for (const scope of scopes) {
    if (!(APP_KEY_SCOPES as readonly string[]).includes(scope)) throw new UsageError(`--scope must be one of ${APP_KEY_SCOPES.join(', ')}`);
  }
  if (new Set(scopes).size !== scopes.length) throw new UsageError('each --scope may be given once');
  return { name: name.value, scopes: scopes as AppKeyScope[] };
}

async function hasAppKeysTable(client: Client): Promise<boolean> {
  const result = await client.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'app_keys'");
  return result.rows.length > 0;
}

/** The command, with its environment and output injected (tests call it directly). Returns the exit code. */
export async function createAppKeyCommand(argv: readonly string[], environment: Readonly<Record<string, string | undefined>>, io: CommandIo, now = Date.now()): Promise<number> {
  let request;
  let target;
  try {
    request = parseCommandLine(argv);
    if (request === 'help') {
      io.stderr(`${USAGE}\n`);
      return 0;
    }
    target = chooseTarget(environment);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`admin:create-key: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (target.url === `file:${LOCAL_DATABASE_FILE}` && !existsSync(LOCAL_DATABASE_FILE)) {
    io.stderr(`admin:create-key: ${target.shown} does not exist; run npm run db:migrate first, or set LIBSQL_URL\n`);
    return 1;
  }
  let client: Client | undefined;
  try {
    client = createClient({ url: target.url, authToken: target.authToken, intMode: 'number' });
    if (!(await hasAppKeysTable(client))) {
      io.stderr(`admin:create-key: ${target.shown} has no app_keys table; run npm run db:migrate first (with the same LIBSQL_URL)\n`);
      return 1;
    }
    const issued = await issueAppKey(databaseFromClient(client), { name: request.name, scopes: request.scopes, createdBy: 'bootstrap', now });
    io.stderr(`admin:create-key: created ${issued.appKeyId} "${issued.name}" (${issued.scopes.join(', ')}) in ${target.shown}\n`);
    io.stderr('admin:create-key: the key follows on stdout; it is shown this once and cannot be recovered\n');
    io.stdout(`${issued.key}\n`);
    return 0;
  } catch (error) {
    // libSQL's messages name the failure (e.g. SQLITE_CANTOPEN, 401) and never carry the token.
    io.stderr(`admin:create-key: failed against ${target.shown}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    client?.close();
  }
}
