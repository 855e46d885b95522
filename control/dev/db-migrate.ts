/**
 * `npm run db:migrate` — applies the drizzle-kit migrations in migrations/ to a database.
 *
 *   npm run db:migrate                          the local database file, .parley/local.db
 *   LIBSQL_URL=libsql://db-org.turso.io LIBSQL_AUTH_TOKEN=… npm run db:migrate     Turso
 *   LIBSQL_URL=http://127.0.0.1:PORT LIBSQL_AUTH_TOKEN=… npm run db:migrate        the local server
 *   npm run db:migrate -- --migrations test/fixtures/drizzle-migrations
 *
 * Without LIBSQL_URL it opens the local file directly (`file:` through @libsql/client, on the
 * same `libsql` engine as the local server) and starts nothing; a running local server may keep
 * serving the same file meanwhile (WAL). It prints the target (never credentials) and each
 * migration it applied; "no migrations yet" is not an error.
 */
import { mkdirSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { createClient } from '@libsql/client';

import { LOCAL_DATABASE_FILE, LOCAL_STATE_DIR, MIGRATIONS_DIR, REPO_ROOT } from './local-paths.js';
import { applyMigrations } from './migrate.js';

const USAGE = `usage: npm run db:migrate -- [--migrations DIR]

Applies drizzle-kit migrations (default: migrations/) to LIBSQL_URL with LIBSQL_AUTH_TOKEN
(libsql://, https://, http:// on loopback, file:), or to .parley/local.db when LIBSQL_URL is unset.`;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

interface Target {
  readonly url: string;
  readonly authToken: string | undefined;
  /** The URL without credentials or query, for printing. */
  readonly shown: string;
}

class UsageError extends Error {}

function chooseTarget(environment: NodeJS.ProcessEnv): Target {
  const url = environment.LIBSQL_URL;
  const authToken = environment.LIBSQL_AUTH_TOKEN === '' ? undefined : environment.LIBSQL_AUTH_TOKEN;
  if (url === undefined || url === '') {
    mkdirSync(LOCAL_STATE_DIR, { recursive: true });
    return { url: `file:${LOCAL_DATABASE_FILE}`, authToken: undefined, shown: relative(REPO_ROOT, LOCAL_DATABASE_FILE) };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError('LIBSQL_URL is not a URL');
  }
  const shown = parsed.protocol === 'file:' ? url.split('?', 1)[0] ?? url : `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  switch (parsed.protocol) {
    case 'file:':
      return { url, authToken, shown };
    case 'libsql:':
    case 'https:':
      if (authToken === undefined && !parsed.searchParams.has('authToken')) {
        throw new UsageError(`LIBSQL_AUTH_TOKEN is required for ${shown}`);
      }
      return { url, authToken, shown };
    case 'http:':
      // A token over plain HTTP is only acceptable on this machine.
      if (!LOOPBACK_HOSTS.has(parsed.hostname)) {
        throw new UsageError(`refusing plain http:// to ${parsed.hostname}; use https:// or libsql://`);
      }
      return { url, authToken, shown };
    default:
      throw new UsageError(`LIBSQL_URL must be libsql:, https:, http: (loopback) or file:, not ${parsed.protocol}`);
  }
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: { migrations: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  let target: Target;
  try {
    target = chooseTarget(process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`db:migrate: ${error.message}\n`);
    return 2;
  }
  const folder = resolve(values.migrations ?? MIGRATIONS_DIR);
  const insideRepo = relative(REPO_ROOT, folder);
  const shownFolder = insideRepo === '' || insideRepo.startsWith('..') ? folder : insideRepo;
  process.stdout.write(`db:migrate: ${shownFolder}/ -> ${target.shown}\n`);

  const client = createClient({ url: target.url, authToken: target.authToken });
  try {
    const outcome = await applyMigrations(client, folder);
    if (outcome.kind === 'no-migrations') {
      process.stdout.write(`db:migrate: no migrations yet (${shownFolder}/meta/_journal.json does not exist); nothing to do\n`);
      return 0;
    }
    for (const tag of outcome.applied) process.stdout.write(`db:migrate: applied ${tag}\n`);
    process.stdout.write(
      `db:migrate: ${outcome.applied.length} applied, ${outcome.alreadyApplied} already applied, ${outcome.total} in ${shownFolder}/\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`db:migrate: failed against ${target.shown}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    client.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`db:migrate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
