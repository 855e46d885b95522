/**
 * `parley register`, `parley login`, `parley logout` and `parley channels`: an account on a
 * Parley control plane, through the client SDK (packages/client). The login is kept in the
 * credentials file (account/credential-store.ts); the control plane's URL comes from --url,
 * PARLEY_URL or the local stack (account/control-url.ts). Failures: account/command-failure.ts.
 */
import { parseArgs } from 'node:util';
import type { Channel } from '../packages/client/src/index.js';
import { describeFailure, EXIT, CommandFailure } from './account/command-failure.js';
import { CONTROL_URL_VARIABLE, DEFAULT_CONTROL_URL, resolveControlUrl } from './account/control-url.js';
import { CredentialStore } from './account/credential-store.js';
import { readPassword } from './account/password-input.js';
import { keepLoginStored, newClient, signedInClient } from './account/signed-in-client.js';
import type { CommandIo } from './srtp-command.js';

export interface AccountIo extends CommandIo {
  readonly env?: NodeJS.ProcessEnv;
}

export const CONTROL_URL_HELP = `  --url URL        the control plane (default: $${CONTROL_URL_VARIABLE}, else the local stack
                   \`npm start\` runs, else ${DEFAULT_CONTROL_URL})`;

export const EXIT_CODES_HELP = `Exit codes: 0 done; 2 bad usage; 3 the control plane cannot be reached (or the URL is not one);
4 not logged in (the login was refused, or the stored one expired or ended); 5 refused by the
control plane (a full channel, a taken username, not found); 1 anything else.`;

export const REGISTER_USAGE = `usage: parley register USERNAME [--url URL]

Creates an account and logs in as it. The password is asked for on a terminal (not echoed), or
read from the first line of stdin:  printf '%s\\n' "$PASSWORD" | parley register alice
The login is stored in $XDG_CONFIG_HOME/parley/credentials.json (default ~/.config/parley/),
mode 0600 in a 0700 directory.

${CONTROL_URL_HELP}

${EXIT_CODES_HELP}
`;

export const LOGIN_USAGE = REGISTER_USAGE.replace('usage: parley register USERNAME', 'usage: parley login USERNAME')
  .replace('Creates an account and logs in as it.', 'Logs in (replacing a login stored for the same control plane).')
  .replace('parley register alice', 'parley login alice');

export const LOGOUT_USAGE = `usage: parley logout [--url URL]

Ends the stored login on the control plane and removes it from the credentials file.

${CONTROL_URL_HELP}
`;

export const CHANNELS_USAGE = `usage: parley channels [list] [--mine | --open] [--json] [--url URL]
       parley channels create NAME [--open] [--member-limit N] [--json] [--url URL]

list     channels you are a member of and every open one (--mine: yours only; --open: open ones)
create   a channel you own; private unless --open (anyone logged in may join an open one)

  --json           one JSON object per channel instead of the table
${CONTROL_URL_HELP}

${EXIT_CODES_HELP}
`;

interface AccountArgs {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
  readonly env: NodeJS.ProcessEnv;
  /** The control plane: --url, else PARLEY_URL, else the local stack, else the default. */
  readonly controlUrl: string;
}

interface AccountArgsSpec {
  /** Options besides --url and --help. */
  readonly options?: Record<string, { type: 'string' | 'boolean' }>;
  /** What is wrong with the positionals, or null when they are right (checked after --help). */
  readonly checkPositionals?: (positionals: readonly string[]) => string | null;
}

function writeUsageError(io: AccountIo, command: string, message: string, usage: string): number {
  io.stderr.write(`parley ${command}: ${message}\n\n${usage}`);
  return EXIT.usage;
}

/**
 * What every account command does first: parse argv strictly (with --url and -h/--help), answer
 * --help, check the positionals, and resolve the control plane's URL. Returns the arguments, or
 * the exit code once it has written the help or the error (with the usage, except for a bad URL,
 * which is one line: it may come from PARLEY_URL rather than the command line).
 */
function parseAccountArgs(command: string, usage: string, argv: readonly string[], io: AccountIo, spec: AccountArgsSpec = {}): AccountArgs | number {
  let values: AccountArgs['values'];
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], strict: true, allowPositionals: true, options: { url: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...spec.options } }));
  } catch (error) {
    // parseArgs names the option, never a value.
    return writeUsageError(io, command, error instanceof Error ? error.message.split('\n')[0]! : 'invalid arguments', usage);
  }
  if (values['help'] === true) {
    io.stdout.write(usage);
    return EXIT.ok;
  }
  const problem = spec.checkPositionals?.(positionals) ?? null;
  if (problem !== null) return writeUsageError(io, command, problem, usage);
  const env = io.env ?? process.env;
  try {
    return { values, positionals, env, controlUrl: resolveControlUrl(values['url'] as string | undefined, env).url };
  } catch (error) {
    io.stderr.write(`parley ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.usage;
  }
}

/** Runs a command body and turns its failure into one line and an exit code. */
export async function runAccountCommand(command: string, controlUrl: string, io: AccountIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    const failure = describeFailure(error, { command, controlUrl });
    if (failure === null) throw error;
    io.stderr.write(`${failure.line}\n`);
    return failure.exitCode;
  }
}

const USERNAME_HINT = 'a username (3-32 letters, digits, _ . -)';

async function signIn(kind: 'register' | 'login', argv: readonly string[], io: AccountIo): Promise<number> {
  const args = parseAccountArgs(kind, kind === 'register' ? REGISTER_USAGE : LOGIN_USAGE, argv, io, {
    checkPositionals: (positionals) => (positionals.length === 1 ? null : `give ${USERNAME_HINT}`),
  });
  if (typeof args === 'number') return args;
  const { controlUrl, env } = args;
  return runAccountCommand(kind, controlUrl, io, async () => {
    const username = args.positionals[0]!;
    const password = await readPassword(io.stdin, io.stderr, `password for ${username}: `);
    if (password === '') throw new CommandFailure('no password given (type it, or give it as the first line of stdin)', EXIT.usage);
    const store = CredentialStore.forEnvironment(env);
    const client = newClient(controlUrl);
    try {
      keepLoginStored(client, store, controlUrl);
      const pair = kind === 'register' ? await client.register(username, password) : await client.login(username, password);
      io.stdout.write(
        `${kind === 'register' ? 'Registered and logged in' : 'Logged in'} as ${pair.user.username} (${pair.user.id}) at ${controlUrl}\n` +
          `Login stored in ${store.path} (mode 0600); it lasts until ${new Date(pair.refreshTokenExpiresAt).toISOString()} unless renewed.\n`,
      );
      return EXIT.ok;
    } finally {
      await client.close();
    }
  });
}

export function runRegisterCommand(argv: readonly string[], io: AccountIo): Promise<number> {
  return signIn('register', argv, io);
}

export function runLoginCommand(argv: readonly string[], io: AccountIo): Promise<number> {
  return signIn('login', argv, io);
}

export async function runLogoutCommand(argv: readonly string[], io: AccountIo): Promise<number> {
  const args = parseAccountArgs('logout', LOGOUT_USAGE, argv, io, {
    checkPositionals: (positionals) => (positionals.length === 0 ? null : 'takes no arguments'),
  });
  if (typeof args === 'number') return args;
  const { controlUrl, env } = args;
  return runAccountCommand('logout', controlUrl, io, async () => {
    const store = CredentialStore.forEnvironment(env);
    if (store.get(controlUrl) === null) {
      io.stdout.write(`Not logged in to ${controlUrl}.\n`);
      return EXIT.ok;
    }
    let client;
    try {
      client = await signedInClient(store, controlUrl);
    } catch (error) {
      // A login that already ended is what logout wanted: forget it.
      const failure = describeFailure(error, { command: 'logout', controlUrl });
      if (failure?.exitCode !== EXIT.signedOut) throw error;
      store.remove(controlUrl);
      io.stdout.write(`Logged out of ${controlUrl} (the login had already ended).\n`);
      return EXIT.ok;
    }
    try {
      await client.logout();
      store.remove(controlUrl);
      io.stdout.write(`Logged out of ${controlUrl}.\n`);
      return EXIT.ok;
    } finally {
      await client.close();
    }
  });
}

function channelTable(channels: readonly Channel[]): string {
  if (channels.length === 0) return 'No channels.\n';
  const rows = [['id', 'name', 'visibility', 'members', 'you'], ...channels.map((c) => [c.id, c.name, c.visibility, `${c.memberCount}/${c.memberLimit}`, c.you?.role ?? '-'])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** Longest listing printed: a bound on pages fetched. */
const MAX_LISTED_CHANNELS = 1000;

export async function runChannelsCommand(argv: readonly string[], io: AccountIo): Promise<number> {
  const args = parseAccountArgs('channels', CHANNELS_USAGE, argv, io, {
    options: { mine: { type: 'boolean' }, open: { type: 'boolean' }, json: { type: 'boolean' }, 'member-limit': { type: 'string' } },
  });
  if (typeof args === 'number') return args;
  const { values, controlUrl, env } = args;
  const fail = (message: string): number => writeUsageError(io, 'channels', message, CHANNELS_USAGE);
  const [action = 'list', ...rest] = args.positionals;
  const json = values['json'] === true;
  if (action === 'list') {
    if (rest.length !== 0) return fail('list takes no arguments');
    if (values['member-limit'] !== undefined) return fail('--member-limit is for create');
    if (values['mine'] === true && values['open'] === true) return fail('--mine and --open exclude each other');
    const membership = values['mine'] === true ? 'member' : values['open'] === true ? 'open' : 'all';
    return runAccountCommand('channels', controlUrl, io, async () => {
      const client = await signedInClient(CredentialStore.forEnvironment(env), controlUrl);
      try {
        const channels: Channel[] = [];
        for await (const channel of client.channels.all({ membership, limit: 100 })) {
          channels.push(channel);
          if (channels.length >= MAX_LISTED_CHANNELS) break;
        }
        io.stdout.write(json ? channels.map((c) => `${JSON.stringify(c)}\n`).join('') : channelTable(channels));
        return EXIT.ok;
      } finally {
        await client.close();
      }
    });
  }
  if (action === 'create') {
    if (rest.length !== 1 || rest[0]!.trim() === '') return fail('create takes one NAME');
    if (values['mine'] === true) return fail('--mine is for list');
    const limitText = values['member-limit'] as string | undefined;
    const memberLimit = limitText === undefined ? undefined : Number(limitText);
    if (memberLimit !== undefined && (!Number.isInteger(memberLimit) || memberLimit < 1)) return fail('--member-limit must be a positive integer');
    return runAccountCommand('channels', controlUrl, io, async () => {
      const client = await signedInClient(CredentialStore.forEnvironment(env), controlUrl);
      try {
        const channel = await client.channels.create({ name: rest[0]!, visibility: values['open'] === true ? 'open' : 'private', ...(memberLimit === undefined ? {} : { memberLimit }) });
        io.stdout.write(json ? `${JSON.stringify(channel)}\n` : `Created ${channel.visibility} channel ${channel.name} (${channel.id}), up to ${channel.memberLimit} member${channel.memberLimit === 1 ? '' : 's'}.\n`);
        return EXIT.ok;
      } finally {
        await client.close();
      }
    });
  }
  return fail(`unknown action '${action.slice(0, 20)}' (list or create)`);
}
