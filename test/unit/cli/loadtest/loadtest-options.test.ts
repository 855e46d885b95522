/** `parley loadtest` options: defaults, bounds, targets only as given, and the control-plane seam. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runLoadtestCommand } from '../../../../cli/loadtest-command.js';
import { DEFAULT_RELAY_API_URL, expectedCopies, LOADTEST_USAGE, LoadtestUsageError, parseLoadtestArgs } from '../../../../cli/loadtest/loadtest-options.js';
import { AllowedUdpHosts, UnlistedAddressError } from '../../../../cli/loadtest/member-provisioner.js';
import { formatProgress } from '../../../../cli/loadtest/progress-format.js';
import { ProgressLine } from '../../../../cli/progress-line.js';
import type { ProgressSnapshot } from '../../../../cli/loadtest/load-run.js';

function usageError(argv: string[]): string {
  try {
    parseLoadtestArgs(argv);
  } catch (error) {
    if (error instanceof LoadtestUsageError) return error.message;
    throw error;
  }
  throw new Error('expected a usage error');
}

describe('parseLoadtestArgs', () => {
  it('defaults to a development relay on this machine, no impairment', () => {
    const options = parseLoadtestArgs([]);
    expect(options.target).toMatchObject({ mode: 'relay', relayPublicKey: null, allowedUdpHosts: ['127.0.0.1'] });
    expect(options.target.mode === 'relay' && options.target.apiUrl.href).toBe(`${DEFAULT_RELAY_API_URL}/`);
    expect(options.shape).toEqual({ channels: 4, members: 5, speakers: 1, rate: 50, payloadBytes: 160, durationSeconds: 10, rampUpSeconds: 1, profile: 'aes128gcm' });
    expect(options.impairment).toBeNull();
    expect(options.json).toBe(false);
    expect(options.reportFile).toBeNull();
  });

  it('reads every load, impairment and output option', () => {
    const options = parseLoadtestArgs([
      '--channels', '10', '--members', '8', '--speakers', '3', '--rate', '25', '--payload', '400', '--duration', '30', '--ramp-up', '2.5',
      '--profile', 'aescm128sha80', '--loss', '0.02', '--duplicate', '0.01', '--reorder', '0.03', '--jitter', '12', '--impair', 'up', '--seed', '99',
      '--json', '--report', 'out.html', '--udp-host', '10.0.0.5',
    ]);
    expect(options.shape).toEqual({ channels: 10, members: 8, speakers: 3, rate: 25, payloadBytes: 400, durationSeconds: 30, rampUpSeconds: 2.5, profile: 'aescm128sha80' });
    expect(options.impairment).toEqual({ settings: { loss: 0.02, duplicate: 0.01, reorder: 0.03, jitterMs: 12, seed: 99 }, directions: 'toUpstream' });
    expect(options.target.allowedUdpHosts).toEqual(['127.0.0.1', '10.0.0.5']);
    expect(options).toMatchObject({ json: true, reportFile: 'out.html' });
  });

  it('keeps every run bounded', () => {
    expect(usageError(['--channels', '501'])).toMatch(/--channels must be an integer from 1 to 500/);
    expect(usageError(['--members', '1'])).toMatch(/--members/);
    expect(usageError(['--members', '4', '--speakers', '5'])).toMatch(/--speakers must be an integer from 1 to 4/);
    expect(usageError(['--duration', '601'])).toMatch(/--duration/);
    expect(usageError(['--rate', '0'])).toMatch(/--rate/);
    expect(usageError(['--payload', '1500'])).toMatch(/--payload/);
    expect(usageError(['--channels', '100', '--members', '21'])).toMatch(/at most 2000 sessions/);
    expect(usageError(['--channels', '100', '--members', '20', '--speakers', '20', '--rate', '100', '--duration', '600'])).toMatch(/packet copies/);
    expect(expectedCopies(parseLoadtestArgs(['--channels', '2', '--members', '3', '--speakers', '2', '--rate', '10', '--duration', '5']).shape)).toBe(2 * 2 * 10 * 5 * 2);
    expect(usageError(['--loss', '1.5'])).toMatch(/--loss/);
    expect(usageError(['--jitter', '-1'])).toMatch(/--jitter/);
    expect(usageError(['--impair', 'sideways'])).toMatch(/--impair/);
    expect(usageError(['--report', 'out.txt'])).toMatch(/\.html/);
    expect(usageError(['--frobnicate'])).toMatch(/frobnicate/);
  });

  it('uses the development keys for a loopback relay only', () => {
    expect(usageError(['--relay-api', 'https://relay.example.net'])).toMatch(/--relay-public-key is required/);
    const remote = parseLoadtestArgs(['--relay-api', 'https://relay.example.net', '--relay-public-key', 'A'.repeat(43)]);
    expect(remote.target.allowedUdpHosts).toEqual(['relay.example.net']);
    expect(usageError(['--relay-api', 'ftp://127.0.0.1'])).toMatch(/http or https/);
    expect(usageError(['--relay-api', 'http://user:pw@127.0.0.1:7400'])).toMatch(/credentials/);
  });

  it('designs control-plane mode: its options, exclusive with relay mode', () => {
    const options = parseLoadtestArgs(['--control-plane', 'https://parley.example', '--app-key-env', 'PARLEY_APP_KEY']);
    expect(options.target).toMatchObject({ mode: 'control-plane', appKeyVariable: 'PARLEY_APP_KEY', refreshTokensFile: null, allowedUdpHosts: ['parley.example'] });
    expect(usageError(['--control-plane', 'https://parley.example'])).toMatch(/exactly one of --app-key-env and --refresh-tokens/);
    expect(usageError(['--control-plane', 'https://parley.example', '--relay-api', 'http://127.0.0.1:7400', '--app-key-env', 'K'])).toMatch(/relay mode/);
    expect(usageError(['--app-key-env', 'K'])).toMatch(/control-plane mode/);
    expect(LOADTEST_USAGE).toMatch(/target \(control-plane mode\):\n  --control-plane URL/);
  });
});

describe('AllowedUdpHosts', () => {
  it('resolves only the hosts given', async () => {
    const allowed = new AllowedUdpHosts(['127.0.0.1', 'localhost']);
    await expect(allowed.resolve({ host: '127.0.0.1', port: 4000 })).resolves.toEqual({ host: '127.0.0.1', port: 4000 });
    await expect(allowed.resolve({ host: 'LOCALHOST', port: 4001 })).resolves.toEqual({ host: '127.0.0.1', port: 4001 });
    await expect(allowed.resolve({ host: '203.0.113.9', port: 4000 })).rejects.toThrow(UnlistedAddressError);
  });
});

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { io: { stdin: new PassThrough(), stdout, stderr, env: {} }, out: () => out, err: () => err };
}

describe('runLoadtestCommand', () => {
  it('refuses control-plane mode without an app key in the named variable, before any request', async () => {
    const t = io();
    const code = await runLoadtestCommand(['--control-plane', 'https://parley.example', '--app-key-env', 'PARLEY_APP_KEY'], t.io);
    expect(code).toBe(2);
    expect(t.err()).toMatch(/\$PARLEY_APP_KEY must hold an app key/);
    expect(t.out()).toBe('');
  });

  it('refuses a remote relay without an API key in the environment', async () => {
    const t = io();
    const code = await runLoadtestCommand(['--relay-api', 'https://relay.example.net', '--relay-public-key', 'A'.repeat(43)], t.io);
    expect(code).toBe(2);
    expect(t.err()).toMatch(/PARLEY_RELAY_API_KEY \(keyId:secret\) must be set/);
  });

  it('prints usage for --help and exits 2 for bad options', async () => {
    const help = io();
    expect(await runLoadtestCommand(['--help'], help.io)).toBe(0);
    expect(help.out()).toBe(LOADTEST_USAGE);
    const bad = io();
    expect(await runLoadtestCommand(['--channels', 'many'], bad.io)).toBe(2);
    expect(bad.err()).toMatch(/--channels must be an integer/);
  });
});

describe('formatProgress', () => {
  const snapshot: ProgressSnapshot = {
    elapsedMs: 3200, phase: 'talking', planned: 20, joined: 20, failedJoins: 0, sent: 600, expected: 2400, received: 2376,
    decryptFailures: 0, replayFailures: 1, recentLatencyP50Ms: 0.734,
  };

  it('formats elapsed time, clients, counts, loss and latency', () => {
    expect(formatProgress(snapshot)).toBe('t=  3s talking  clients 20/20  sent 600  received 2376/2400  loss 1.00%  p50 0.73 ms  decrypt-fail 0  replay 1');
  });

  it('rewrites one line on a terminal, writes plain lines otherwise', () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true });
    let ttyOut = '';
    tty.on('data', (c: Buffer) => (ttyOut += c.toString()));
    const line = new ProgressLine(tty);
    line.update(formatProgress(snapshot));
    line.update(formatProgress({ ...snapshot, elapsedMs: 4200 }));
    line.end();
    line.end();
    expect(ttyOut).toBe(`\r\x1b[2K${formatProgress(snapshot)}\r\x1b[2K${formatProgress({ ...snapshot, elapsedMs: 4200 })}\n`);

    const pipe = new PassThrough();
    let pipeOut = '';
    pipe.on('data', (c: Buffer) => (pipeOut += c.toString()));
    const plain = new ProgressLine(pipe, { pipeIntervalMs: 0 });
    plain.update(formatProgress(snapshot));
    plain.end();
    expect(pipeOut).toBe(`${formatProgress(snapshot)}\n`);
  });
});
