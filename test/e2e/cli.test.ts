/**
 * The real `parley` CLI, spawned as a process (node --import tsx cli/parley.ts …), fed on
 * stdin and read on stdout/stderr.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { isSrtpProfileName } from '../../shared/srtp/profiles.js';
import { runLineProcess, type LineProcessResult } from '../interop/line-process.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

function parley(args: readonly string[], stdin: readonly string[] = []): Promise<LineProcessResult> {
  return runLineProcess(process.execPath, ['--import', 'tsx', 'cli/parley.ts', ...args], stdin, { cwd: REPO_ROOT });
}

interface MasterProtectVector {
  readonly id: string;
  readonly kind: string;
  readonly profile: string;
  readonly master_key: string;
  readonly master_salt: string;
  readonly plaintext: string;
  readonly expected: string;
}

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/srtp-vectors.json', import.meta.url), 'utf8')) as {
  vectors: readonly MasterProtectVector[];
};
const masterProtectVectors = fixtures.vectors.filter((vector) => vector.kind === 'master_protect');
const parleyVectors = masterProtectVectors.filter((vector) => isSrtpProfileName(vector.profile));

// RFC 7714 §16.1 plaintext RTP packet, and an RTCP SR in the shape of §17.1.
const RTP_1 = '8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573';
const RTP_2 = '8040f17c8041fc935501a0b2' + '00'.repeat(40);
const RTP_3 = '80eff17d80420053 5501a0b2 ' + 'ab'.repeat(20); // marker bit, white space inside
const RTCP = '81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef';

const KEY = '000102030405060708090a0b0c0d0e0f';
const SALT = '517569642070726f2071756f';
const GCM_ARGS = ['--profile', 'aes128gcm', '--key', KEY, '--salt', SALT];

describe('parley CLI', () => {
  it('prints usage for help, exit 0', async () => {
    const result = await parley(['help']);
    expect(result.code).toBe(0);
    expect(result.lines.join('\n')).toContain('usage: parley <command>');
    const srtpHelp = await parley(['help', 'srtp']);
    expect(srtpHelp.code).toBe(0);
    expect(srtpHelp.lines.join('\n')).toContain('usage: parley srtp protect|unprotect');
  });

  it('rejects no command and an unknown command with usage on stderr, exit 2', async () => {
    const [none, unknown] = await Promise.all([parley([]), parley(['frobnicate'])]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('usage: parley');
    expect(unknown.code).toBe(2);
    expect(unknown.lines).toEqual([]);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    expect(unknown.stderr).toContain('usage: parley');
  });

  it('rejects bad key material with exit 2, naming the option but never echoing the value', async () => {
    const shortKey = '00112233445566778899aabbccddee'; // 15 bytes
    const oddSalt = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf'; // 16 bytes, too long for aescm128sha80's 14
    const notHex = 'zz112233445566778899aabbccddeeff';
    const runs = await Promise.all([
      parley(['srtp', 'protect', '--key', shortKey, '--salt', SALT]),
      parley(['srtp', 'protect', '--profile', 'aescm128sha80', '--key', KEY, '--salt', oddSalt]),
      parley(['srtp', 'unprotect', '--key', notHex, '--salt', SALT]),
      parley(['srtp', 'protect', '--salt', SALT]),
      parley(['srtp', 'protect', '--profile', 'aes192gcm', '--key', KEY, '--salt', SALT]),
      parley(['srtp', 'sideways', '--key', KEY, '--salt', SALT]),
      parley(['srtp', 'protect', `--kye=${KEY}`, '--salt', SALT]),
    ]);
    const messages = [
      '--key must be 16 bytes (32 hex digits) for aes128gcm, got 15 bytes',
      '--salt must be 14 bytes (28 hex digits) for aescm128sha80, got 16 bytes',
      '--key must be hex digits',
      '--key is required',
      "unknown profile 'aes192gcm'",
      "unknown direction 'sideways'",
      "unknown option '--kye'",
    ];
    runs.forEach((run, i) => {
      expect(run.code, messages[i]).toBe(2);
      expect(run.lines, messages[i]).toEqual([]);
      expect(run.stderr).toContain(`parley srtp: ${messages[i]}`);
      for (const secret of [shortKey, oddSalt, notHex, KEY, SALT]) expect(run.stderr).not.toContain(secret);
    });
  });

  it('protects packets and unprotects them back; replays, tampering and garbage get ERR lines', async () => {
    const protect = await parley(['srtp', 'protect', ...GCM_ARGS], [RTP_1, '', RTP_2, RTCP, '   ', RTP_3]);
    expect(protect.stderr).toBe('');
    expect(protect.code).toBe(0);
    expect(protect.lines).toHaveLength(4);
    expect(protect.lines.every((line) => /^OK [0-9a-f]+$/.test(line))).toBe(true);
    const [srtp1, srtp2, srtcp, srtp3] = protect.lines.map((line) => line.slice(3)) as [string, string, string, string];
    // The RFC 7714 packet's protected length: 12-byte header + 38 payload + 16-byte tag.
    expect(srtp1).toHaveLength(2 * (12 + 38 + 16));
    // SRTCP: E bit set, index 1 (libsrtp numbers from 1); for GCM the word goes after the tag.
    expect(srtcp.slice(-8)).toBe('80000001');

    // A flipped bit in a packet not yet seen fails authentication (a replayed one would be
    // stopped earlier, as a replay); the genuine packet still opens afterwards.
    const flipped = srtp3.slice(0, 30) + (srtp3[30] === '0' ? '1' : '0') + srtp3.slice(31);
    const unprotect = await parley(
      ['srtp', 'unprotect', ...GCM_ARGS],
      [srtp1, srtp2, ` ${srtcp}\t`, flipped, srtp3, srtp2, 'not hex at all', 'abc', '8000', srtcp],
    );
    expect(unprotect.stderr).toBe('');
    expect(unprotect.code).toBe(0);
    expect(unprotect.lines).toEqual([
      `OK ${RTP_1}`,
      `OK ${RTP_2}`,
      `OK ${RTCP}`,
      'ERR auth-failed',
      `OK ${RTP_3.replace(/\s+/g, '')}`,
      'ERR replay',
      'ERR bad-hex',
      'ERR bad-hex', // odd number of digits
      'ERR malformed', // two bytes are not an RTP packet
      'ERR replay', // the SRTCP index is replay-checked too
    ]);
  });

  it('gives the same bytes with --backend noble as with the default node backend', async () => {
    const input = [RTP_1, RTP_2, RTCP, RTP_3];
    const [node, noble] = await Promise.all([
      parley(['srtp', 'protect', ...GCM_ARGS], input),
      parley(['srtp', 'protect', ...GCM_ARGS, '--backend', 'noble'], input),
    ]);
    expect(node.code).toBe(0);
    expect(noble.code).toBe(0);
    expect(noble.lines).toEqual(node.lines);
  });

  it('has libsrtp master-key known answers for Parley profiles', () => {
    expect(parleyVectors.length).toBeGreaterThanOrEqual(4);
  });

  it.each(parleyVectors.map((vector) => [vector.id, vector] as const))(
    'reproduces libsrtp known answer %s through the CLI',
    async (_id, vector) => {
      const args = ['srtp', 'protect', '--profile', vector.profile, '--key', vector.master_key, '--salt', vector.master_salt];
      const protect = await parley(args, [vector.plaintext]);
      expect(protect.stderr).toBe('');
      expect(protect.lines).toEqual([`OK ${vector.expected}`]);
      const unprotect = await parley(['srtp', 'unprotect', ...args.slice(2)], [vector.expected]);
      expect(unprotect.lines).toEqual([`OK ${vector.plaintext}`]);
    },
  );
});
