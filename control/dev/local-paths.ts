/**
 * Where local development keeps its state: `.parley/` at the repository root (git-ignored).
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The repository root (this file is control/dev/local-paths.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Local state: the development database and the local server's connection file. */
export const LOCAL_STATE_DIR = join(REPO_ROOT, '.parley');

/** The database `npm run libsql:server` serves and `npm run db:migrate` migrates by default. */
export const LOCAL_DATABASE_FILE = join(LOCAL_STATE_DIR, 'local.db');

/** Written by the local server when it generated its token: LIBSQL_URL and LIBSQL_AUTH_TOKEN. */
export const LOCAL_SERVER_ENV_FILE = join(LOCAL_STATE_DIR, 'libsql-server.env');

/** The drizzle-kit migrations folder. */
export const MIGRATIONS_DIR = join(REPO_ROOT, 'migrations');
