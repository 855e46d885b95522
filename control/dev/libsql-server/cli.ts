/**
 * `npm run libsql:server` — runs the local libSQL server until SIGINT/SIGTERM.
 *
 *   LIBSQL_AUTH_TOKEN=dev-token npm run libsql:server -- --port 8080
 *   npm run libsql:server -- --database :memory:
 *
 * The token comes from LIBSQL_AUTH_TOKEN (never from the command line, where `ps` shows it).
 * Without one, a random token is generated and written, with the URL, to
 * .parley/libsql-server.env (or --connection-file; mode 0600) as LIBSQL_URL=… and LIBSQL_AUTH_TOKEN=…;
 * the file is removed on exit. The token itself is never printed.
 *
 * Refuses to start with PARLEY_ENV=production: production uses Turso.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { LOCAL_DATABASE_FILE, LOCAL_SERVER_ENV_FILE, REPO_ROOT } from '../local-paths.js';
import { DEFAULT_LIMITS, startLibsqlServer } from './http-server.js';

const USAGE = `usage: npm run libsql:server -- [options]

Serves a SQLite database over Hrana/HTTP on 127.0.0.1 (a local stand-in for Turso).

  --database PATH|:memory:   database file (default .parley/local.db)
  --port N                   TCP port on 127.0.0.1 (default 0: a free port, printed)
  --max-body-bytes N         largest request body (default ${DEFAULT_LIMITS.maxBodyBytes})
  --max-streams N            streams open at once (default ${DEFAULT_LIMITS.maxStreams})
  --stream-idle-ms N         idle stream expiry (default ${DEFAULT_LIMITS.streamIdleTimeoutMs})
  --busy-timeout-ms N        wait for another stream's write lock (default ${DEFAULT_LIMITS.busyTimeoutMs})
  --connection-file PATH     where a generated token is written (default .parley/libsql-server.env)

Environment: LIBSQL_AUTH_TOKEN (the Bearer token clients must send; generated if unset and
written with the URL to the --connection-file).`;

function integerOption(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]+$/.test(text)) throw new RangeError(`--${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        database: { type: 'string' },
        port: { type: 'string' },
        'max-body-bytes': { type: 'string' },
        'max-streams': { type: 'string' },
        'stream-idle-ms': { type: 'string' },
        'busy-timeout-ms': { type: 'string' },
        // Not "--env-file": Node 20 takes that flag for itself wherever it appears in argv.
        'connection-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
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
  if (process.env.PARLEY_ENV === 'production') {
    process.stderr.write('libsql-server: refusing to start with PARLEY_ENV=production; production uses Turso\n');
    return 1;
  }

  const givenToken = process.env.LIBSQL_AUTH_TOKEN;
  const authToken = givenToken !== undefined && givenToken !== '' ? givenToken : randomBytes(24).toString('base64url');
  const database = values.database ?? LOCAL_DATABASE_FILE;

  const server = await startLibsqlServer({
    database,
    authToken,
    port: integerOption('port', values.port),
    maxBodyBytes: integerOption('max-body-bytes', values['max-body-bytes']),
    maxStreams: integerOption('max-streams', values['max-streams']),
    streamIdleTimeoutMs: integerOption('stream-idle-ms', values['stream-idle-ms']),
    busyTimeoutMs: integerOption('busy-timeout-ms', values['busy-timeout-ms']),
  });

  let envFile: string | undefined;
  if (authToken !== givenToken) {
    envFile = resolve(values['connection-file'] ?? LOCAL_SERVER_ENV_FILE);
    mkdirSync(dirname(envFile), { recursive: true });
    writeFileSync(envFile, `LIBSQL_URL=${server.url}\nLIBSQL_AUTH_TOKEN=${authToken}\n`, { mode: 0o600 });
  }

  const insideRepo = relative(REPO_ROOT, server.databasePath);
  const shown =
    database === ':memory:'
      ? ':memory: (a temporary file)'
      : insideRepo.startsWith('..') || insideRepo === ''
        ? server.databasePath
        : insideRepo;
  process.stdout.write(`libsql-server listening on ${server.url} (database ${shown})\n`);
  process.stdout.write(
    envFile === undefined
      ? 'libsql-server: clients authenticate with the LIBSQL_AUTH_TOKEN given\n'
      : `libsql-server: generated a token; LIBSQL_URL and LIBSQL_AUTH_TOKEN are in ${envFile}\n`,
  );

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  if (envFile !== undefined) rmSync(envFile, { force: true });
  process.stdout.write('libsql-server stopped\n');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`libsql-server: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
