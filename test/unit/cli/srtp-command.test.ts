import { PassThrough, Readable } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { runParley } from '../../../cli/parley.js';
import { parseSrtpArgs, runSrtpCommand, srtpPacketLine, type SrtpPacketTransformer } from '../../../cli/srtp-command.js';
import { nodeCryptoBackend } from '../../../shared/srtp/backends/node-crypto.js';
import { SrtpContext } from '../../../shared/srtp/context.js';
import { SrtpError } from '../../../shared/srtp/errors.js';

const KEY = '000102030405060708090a0b0c0d0e0f';
const SALT = '517569642070726f2071756f';
const RTP = '8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573';
const RTCP = '81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef';

describe('parseSrtpArgs', () => {
  it('defaults to aes128gcm and the node backend', () => {
    const result = parseSrtpArgs(['protect', '--key', KEY, '--salt', SALT]);
    expect(result.kind).toBe('run');
    if (result.kind !== 'run') return;
    expect(result.options.direction).toBe('protect');
    expect(result.options.profile).toBe('aes128gcm');
    expect(result.options.backend).toBe('node');
    expect(Buffer.from(result.options.masterKey).toString('hex')).toBe(KEY);
    expect(Buffer.from(result.options.masterSalt).toString('hex')).toBe(SALT);
  });

  it('takes every profile with its own key and salt lengths', () => {
    const aes256 = parseSrtpArgs(['unprotect', '--profile', 'aes256gcm', '--key', KEY + KEY, '--salt', SALT, '--backend', 'noble']);
    expect(aes256.kind === 'run' && [aes256.options.profile, aes256.options.backend]).toEqual(['aes256gcm', 'noble']);
    const aescm = parseSrtpArgs(['protect', '--profile=aescm128sha80', `--key=${KEY}`, '--salt', `${SALT}0000`]);
    expect(aescm.kind === 'run' && aescm.options.masterSalt.length).toBe(14);
  });

  it('asks for help with -h or --help', () => {
    expect(parseSrtpArgs(['-h'])).toEqual({ kind: 'help' });
    expect(parseSrtpArgs(['protect', '--help'])).toEqual({ kind: 'help' });
  });

  it.each([
    [[], 'expected protect or unprotect'],
    [['protect', 'unprotect', '--key', KEY, '--salt', SALT], 'unexpected extra argument'],
    [['encrypt', '--key', KEY, '--salt', SALT], "unknown direction 'encrypt'"],
    [['protect', '--key', KEY, '--salt', SALT, '--backend', 'openssl'], "unknown backend 'openssl'"],
    [['protect', '--profile', 'aescm256sha80', '--key', KEY, '--salt', SALT], "unknown profile 'aescm256sha80'"],
    [['protect', '--key', KEY], '--salt is required (12 bytes of hex for aes128gcm)'],
    [['protect', '--key', `${KEY}00`, '--salt', SALT], '--key must be 16 bytes (32 hex digits) for aes128gcm, got 17 bytes'],
    [['protect', '--profile', 'aes256gcm', '--key', KEY, '--salt', SALT], '--key must be 32 bytes (64 hex digits) for aes256gcm, got 16 bytes'],
    [['protect', '--key', KEY, '--salt', `${SALT}0`], '--salt must be hex digits (an even number of them)'],
    [['protect', '--key', KEY, '--salt'], "option '--salt' needs a value"],
    [['protect', '--key', KEY, '--salt', SALT, '--verbose'], "unknown option '--verbose'"],
  ] as const)('rejects %j: %s', (argv, message) => {
    const result = parseSrtpArgs(argv);
    expect(result.kind).toBe('error');
    expect(result.kind === 'error' && result.message.startsWith(message), result.kind === 'error' ? result.message : '').toBe(true);
  });

  it('never quotes something that could be key material back', () => {
    const messages = [
      parseSrtpArgs([KEY, '--key', KEY, '--salt', SALT]),
      parseSrtpArgs(['protect', KEY, '--key', KEY, '--salt', SALT]),
      parseSrtpArgs(['protect', '--profile', KEY, '--key', KEY, '--salt', SALT]),
      parseSrtpArgs(['protect', '--backend', SALT, '--key', KEY, '--salt', SALT]),
      parseSrtpArgs(['protect', `--${KEY}`, '--salt', SALT]),
    ].map((result) => (result.kind === 'error' ? result.message : `unexpectedly ${result.kind}`));
    for (const message of messages) {
      expect(message).not.toMatch(/unexpectedly/);
      expect(message).not.toContain(KEY.slice(0, 8));
      expect(message).not.toContain(SALT.slice(0, 8));
    }
  });
});

describe('srtpPacketLine', () => {
  const calls: string[] = [];
  const stub: SrtpPacketTransformer = {
    protectRtp: (packet) => (calls.push('protectRtp'), Uint8Array.of(...packet, 0xaa)),
    protectRtcp: (packet) => (calls.push('protectRtcp'), Uint8Array.of(...packet, 0xbb)),
    unprotectRtp: () => {
      throw new SrtpError('auth-failed', 'SRTP authentication failed');
    },
    unprotectRtcp: () => {
      throw new RangeError('a bug, not an input');
    },
  };

  it('skips blank lines and ignores white space anywhere in a line', () => {
    expect(srtpPacketLine(stub, 'protect', '')).toBeUndefined();
    expect(srtpPacketLine(stub, 'protect', ' \t ')).toBeUndefined();
    expect(srtpPacketLine(stub, 'protect', ' 80 6f 00 01\t')).toBe('OK 806f0001aa');
  });

  it('tells RTCP from RTP by the packet type (RFC 5761 §4)', () => {
    calls.length = 0;
    srtpPacketLine(stub, 'protect', '80ef0001'); // marker + PT 111 → RTP
    srtpPacketLine(stub, 'protect', '80c80001'); // SR → RTCP
    srtpPacketLine(stub, 'protect', '80df0001'); // 223, the top of the RTCP range
    srtpPacketLine(stub, 'protect', '80e00001'); // 224 → RTP
    expect(calls).toEqual(['protectRtp', 'protectRtcp', 'protectRtcp', 'protectRtp']);
  });

  it('answers bad-hex for lines that are not hex', () => {
    for (const line of ['xyz', '80c', '80 c', '0x80c8', '80c8ζ']) expect(srtpPacketLine(stub, 'protect', line)).toBe('ERR bad-hex');
  });

  it('reports SrtpError reasons and lets other errors (bugs) through', () => {
    expect(srtpPacketLine(stub, 'unprotect', '806f0001')).toBe('ERR auth-failed');
    expect(() => srtpPacketLine(stub, 'unprotect', '80c80001')).toThrow(RangeError);
  });

  it('keeps one context across lines: a repeat is a replay', () => {
    const options = { profile: 'aes128gcm', masterKey: Buffer.from(KEY, 'hex'), masterSalt: Buffer.from(SALT, 'hex'), backend: nodeCryptoBackend } as const;
    const sender = new SrtpContext(options);
    const receiver = new SrtpContext(options);
    const srtp = srtpPacketLine(sender, 'protect', RTP)!.slice(3);
    const srtcp = srtpPacketLine(sender, 'protect', RTCP)!.slice(3);
    expect(srtpPacketLine(sender, 'protect', RTP)).toBe('ERR replay'); // a sender never reuses an index
    expect([srtp, srtcp, srtp, srtcp].map((line) => srtpPacketLine(receiver, 'unprotect', line))).toEqual([
      `OK ${RTP}`,
      `OK ${RTCP}`,
      'ERR replay',
      'ERR replay',
    ]);
    expect(srtpPacketLine(receiver, 'unprotect', '80')).toBe('ERR malformed');
    sender.close();
    receiver.close();
  });
});

async function run(argv: readonly string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await runParley(argv, { stdin: Readable.from([input]), stdout, stderr });
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

describe('runParley / runSrtpCommand (in memory)', () => {
  it('round-trips through protect and unprotect, CRLF and blank lines included', async () => {
    const args = ['--key', KEY, '--salt', SALT];
    const protect = await run(['srtp', 'protect', ...args], `${RTP}\r\n\r\n${RTCP}\n`);
    expect(protect.code).toBe(0);
    const lines = protect.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const unprotect = await run(['srtp', 'unprotect', ...args], lines.map((line) => line.slice(3)).join('\n'));
    expect(unprotect).toEqual({ code: 0, stdout: `OK ${RTP}\nOK ${RTCP}\n`, stderr: '' });
  });

  it('exits 2 with usage on stderr for bad usage, writing nothing to stdout', async () => {
    const bad = await runSrtpCommand(['protect', '--key', KEY], { stdin: Readable.from([]), stdout: new PassThrough(), stderr: new PassThrough() });
    expect(bad).toBe(2);
    const unknown = await run(['bogus'], '');
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/^parley: unknown command 'bogus'\n\nusage: parley/);
    const noHelp = await run(['help', 'bogus'], '');
    expect(noHelp.code).toBe(2);
  });

  it('prints help on stdout, exit 0', async () => {
    for (const argv of [['help'], ['--help'], ['-h']]) {
      const result = await run(argv, '');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('usage: parley <command>');
    }
    const srtp = await run(['srtp', '--help'], '');
    expect(srtp.stdout).toContain('--profile NAME');
  });
});
