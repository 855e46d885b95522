/**
 * `parley`: Parley's command-line tool. Entry point; dispatches to subcommands.
 *
 *   npm run --silent parley -- srtp protect --profile aes128gcm --key HEX --salt HEX < packets.hex
 *
 * Exit codes: 0 success, 1 unexpected failure (a bug), 2 bad usage.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { DEMO_USAGE, runDemoCommand } from './demo-command.js';
import { LOADTEST_USAGE, runLoadtestCommand, type LoadtestIo } from './loadtest-command.js';
import { SRTP_USAGE, runSrtpCommand, type CommandIo } from './srtp-command.js';

export const PARLEY_USAGE = `usage: parley <command> [options]

commands:
  register USERNAME        create an account on a control plane and log in (the login is stored, 0600)
  login USERNAME           log in; the tokens go to $XDG_CONFIG_HOME/parley/credentials.json
  logout                   end the stored login
  channels [list|create]   list your and the open channels, or create one
  join CHANNEL             join a channel's voice: roster and events live, --send a WAV, --record,
                           --export-keys (prints the SRTP keys: secrets)
  srtp protect|unprotect   protect or unprotect hex packets read from stdin, one per line
  demo                     three people in a voice channel on this machine, end to end (development keys)
  loadtest                 many simulated voice clients against a relay or a control plane
                           (bounded; only the targets given)
  help [command]           show help for parley or for a command

Run 'parley help <command>' for a command's options.
`;

const COMMAND_USAGE: Readonly<Record<string, string>> = Object.freeze({
  srtp: SRTP_USAGE,
  demo: DEMO_USAGE,
  loadtest: LOADTEST_USAGE,
});

/**
 * The account commands load the client SDK (and `join` the Opus codec): imported when used, so
 * `parley srtp` and the others start as fast as before.
 */
async function accountUsage(topic: string): Promise<string | undefined> {
  if (topic === 'join') return (await import('./join-command.js')).JOIN_USAGE;
  const account = await import('./account-commands.js');
  return ({ register: account.REGISTER_USAGE, login: account.LOGIN_USAGE, logout: account.LOGOUT_USAGE, channels: account.CHANNELS_USAGE } as Record<string, string>)[topic];
}
const ACCOUNT_COMMANDS = new Set(['register', 'login', 'logout', 'channels', 'join']);

/**
 * Quotes a value back only if it is a short word with a letter beyond f: it could be a
 * pasted key, and hex never is.
 */
function quotable(value: string): string {
  return /^[A-Za-z][A-Za-z0-9-]{0,23}$/.test(value) && /[g-zG-Z]/.test(value) ? ` '${value}'` : '';
}

export async function runParley(argv: readonly string[], io: CommandIo & Pick<LoadtestIo, 'env' | 'signal'>): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'srtp':
      return runSrtpCommand(rest, io);
    case 'demo':
      return runDemoCommand(rest, io);
    case 'loadtest':
      return runLoadtestCommand(rest, io);
    case 'register':
      return (await import('./account-commands.js')).runRegisterCommand(rest, io);
    case 'login':
      return (await import('./account-commands.js')).runLoginCommand(rest, io);
    case 'logout':
      return (await import('./account-commands.js')).runLogoutCommand(rest, io);
    case 'channels':
      return (await import('./account-commands.js')).runChannelsCommand(rest, io);
    case 'join':
      return (await import('./join-command.js')).runJoinCommand(rest, io);
    case 'help':
    case '--help':
    case '-h': {
      const topic = rest[0];
      if (topic === undefined) {
        io.stdout.write(PARLEY_USAGE);
        return 0;
      }
      const usage = COMMAND_USAGE[topic] ?? (ACCOUNT_COMMANDS.has(topic) ? await accountUsage(topic) : undefined);
      if (usage === undefined) {
        io.stderr.write(`parley: no help for unknown command${quotable(topic)}\n\n${PARLEY_USAGE}`);
        return 2;
      }
      io.stdout.write(usage);
      return 0;
    }
    case undefined:
      io.stderr.write(PARLEY_USAGE);
      return 2;
    default:
      io.stderr.write(`parley: unknown command${quotable(command)}\n\n${PARLEY_USAGE}`);
      return 2;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // `parley … | head` closes stdout early: stop quietly instead of dying on EPIPE.
  process.stdout.on('error', function exitOnClosedStdout(error: NodeJS.ErrnoException) {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  // Ctrl-C: the first stops a load test early (it still revokes its sessions) or leaves a
  // channel's voice cleanly (recordings finished); a second quits. (Other commands keep the
  // default: Ctrl-C ends them at once.)
  const interrupt = new AbortController();
  if (process.argv[2] === 'loadtest' || process.argv[2] === 'join') {
    process.on('SIGINT', function stopOnInterrupt() {
      if (interrupt.signal.aborted) process.exit(130);
      interrupt.abort();
    });
  }
  runParley(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, signal: interrupt.signal }).then(
    function exitWhenFlushed(code) {
      // Exit once stdout has drained rather than when the event loop empties: fetch keeps idle
      // HTTP connections (to the relay's API in `parley demo`) open for seconds.
      process.exitCode = code;
      process.stdout.write('', () => process.exit(code));
    },
    function reportUnexpected(error: unknown) {
      // A bug, not bad input: say what broke, but never dump arguments (they hold keys).
      const message = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
      process.stderr.write(`parley: unexpected failure: ${message}\n`);
      process.exitCode = 1;
    },
  );
}
