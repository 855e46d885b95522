/**
 * cli/account-commands.ts: the argument handling register, login, logout and channels share
 * (parseAccountArgs) — help, usage errors and a bad control-plane URL. Every case here ends
 * before the command reads a password or talks to a control plane.
 */
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  CHANNELS_USAGE,
  LOGIN_USAGE,
  LOGOUT_USAGE,
  REGISTER_USAGE,
  runChannelsCommand,
  runLoginCommand,
  runLogoutCommand,
  runRegisterCommand,
  type AccountIo,
} from '../../../cli/account-commands.js';

type Command = (argv: readonly string[], io: AccountIo) => Promise<number>;

async function run(command: Command, argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const code = await command(argv, { stdin: Readable.from([]), stdout, stderr, env });
  return { code, stdout: out, stderr: err };
}

const COMMANDS: ReadonlyArray<[string, Command, string]> = [
  ['register', runRegisterCommand, REGISTER_USAGE],
  ['login', runLoginCommand, LOGIN_USAGE],
  ['logout', runLogoutCommand, LOGOUT_USAGE],
  ['channels', runChannelsCommand, CHANNELS_USAGE],
];

describe('account command arguments', () => {
  it.each(COMMANDS)('%s --help and -h print the usage on stdout, exit 0, whatever the positionals', async (_name, command, usage) => {
    for (const argv of [['--help'], ['-h'], ['x', 'y', '--help']]) {
      const result = await run(command, argv);
      expect(result).toEqual({ code: 0, stdout: usage, stderr: '' });
    }
  });

  it.each(COMMANDS)('%s refuses an unknown option with its usage, exit 2', async (name, command, usage) => {
    const result = await run(command, ['--bogus']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`parley ${name}: Unknown option '--bogus'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- "--bogus"\n\n${usage}`);
  });

  it('register and login need one username; logout takes none', async () => {
    for (const [name, command, usage] of COMMANDS.slice(0, 2)) {
      for (const argv of [[], ['alice', 'bob']]) {
        expect(await run(command, argv)).toEqual({ code: 2, stdout: '', stderr: `parley ${name}: give a username (3-32 letters, digits, _ . -)\n\n${usage}` });
      }
    }
    expect(await run(runLogoutCommand, ['alice'])).toEqual({ code: 2, stdout: '', stderr: `parley logout: takes no arguments\n\n${LOGOUT_USAGE}` });
  });

  it.each(COMMANDS)('%s refuses a bad --url or PARLEY_URL in one line, exit 2', async (name, command) => {
    const argv = name === 'register' || name === 'login' ? ['alice'] : [];
    const flag = await run(command, [...argv, '--url', 'not a url']);
    expect(flag).toEqual({ code: 2, stdout: '', stderr: `parley ${name}: --url is not a URL (expected something like http://127.0.0.1:8787)\n` });
    const fromEnv = await run(command, argv, { PARLEY_URL: 'ftp://example.test' });
    expect(fromEnv).toEqual({ code: 2, stdout: '', stderr: `parley ${name}: PARLEY_URL must be an http or https URL\n` });
  });

  it('channels checks its action and options after the URL, with its usage', async () => {
    const url = ['--url', 'http://127.0.0.1:9'];
    const cases: ReadonlyArray<[readonly string[], string]> = [
      [['list', 'extra'], 'list takes no arguments'],
      [['--member-limit', '3'], '--member-limit is for create'],
      [['--mine', '--open'], '--mine and --open exclude each other'],
      [['create'], 'create takes one NAME'],
      [['create', 'Team', '--mine'], '--mine is for list'],
      [['create', 'Team', '--member-limit', '0'], '--member-limit must be a positive integer'],
      [['rename'], "unknown action 'rename' (list or create)"],
    ];
    for (const [argv, message] of cases) {
      expect(await run(runChannelsCommand, [...argv, ...url])).toEqual({ code: 2, stdout: '', stderr: `parley channels: ${message}\n\n${CHANNELS_USAGE}` });
    }
  });
});
