/**
 * Parley's SRTP against libsrtp 2.5 (Debian libsrtp2), an independent implementation.
 *
 * For each profile, one long RTP stream (≥ 70,000 packets, starting at a sequence number
 * ≥ 60000 so the 16-bit sequence wraps early and the ROC has to advance) with SR/RR RTCP
 * compounds mixed in:
 *   (a) Parley protects   → libsrtp unprotects → the original, every packet;
 *   (b) libsrtp protects  → Parley unprotects  → the original, every packet;
 *   (c) Parley's and libsrtp's protected bytes are identical (SRTP is deterministic).
 * The peer is test/interop/libsrtp-peer.c, compiled in beforeAll. It needs Debian's gcc,
 * pkg-config and libsrtp2-dev: without them the file is skipped with a SKIPPED line naming the
 * apt-get command, except under CI, where it fails (test/system/support/requirements.ts).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nobleBackend } from '../../shared/srtp/backends/noble.js';
import { nodeCryptoBackend } from '../../shared/srtp/backends/node-crypto.js';
import type { SrtpCryptoBackend } from '../../shared/srtp/crypto-backend.js';
import { loadNativeGcmBackend } from '../../relay/src/media/native-gcm-backend.js';
import { SrtpContext } from '../../shared/srtp/context.js';
import { isSrtpError } from '../../shared/srtp/errors.js';
import { srtpProfile, type SrtpProfileName } from '../../shared/srtp/profiles.js';
import { buildLibsrtpPeer, type BuiltLibsrtpPeer } from '../interop/build-libsrtp-peer.js';
import { runLibsrtpPeer, type LibsrtpProfile, type LibsrtpResult } from '../interop/libsrtp-peer.js';
import { generateRtpStream, type RtpStream, type StreamPacket } from '../interop/rtp-stream.js';
import { binaryOnPath, pkgConfigModule, systemTestCanRun } from './support/requirements.js';

const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

interface MasterProtectVector {
  readonly id: string;
  readonly kind: 'master_protect';
  readonly source: string;
  readonly profile: LibsrtpProfile;
  readonly master_key: string;
  readonly master_salt: string;
  readonly plaintext: string;
  readonly expected: string;
}

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/srtp-vectors.json', import.meta.url), 'utf8')) as {
  vectors: ReadonlyArray<{ kind: string }>;
};
const masterProtectVectors = fixtures.vectors.filter(
  (vector): vector is MasterProtectVector => vector.kind === 'master_protect',
);

// Every suite below runs only if this is true; a file whose tests are all skipped runs none of
// its hooks, so the peer is not compiled either.
const libsrtpReady = systemTestCanRun('libsrtp interop (test/system/libsrtp-interop.test.ts)', [
  binaryOnPath('gcc', 'gcc'),
  binaryOnPath('pkg-config', 'pkg-config'),
  pkgConfigModule('libsrtp2', 'libsrtp2-dev'),
]);

let peer: BuiltLibsrtpPeer;
beforeAll(function compilePeer() {
  peer = buildLibsrtpPeer();
}, 60_000);
afterAll(function removePeer() {
  peer?.dispose();
});

describe.runIf(libsrtpReady)('libsrtp-peer on its own', () => {
  it('has the master_protect fixtures to replay', () => {
    expect(masterProtectVectors.length).toBeGreaterThanOrEqual(4);
  });

  it.each(masterProtectVectors.map((vector) => [vector.id, vector] as const))(
    'reproduces libsrtp known answer %s',
    async (_id, vector) => {
      const [result] = await runLibsrtpPeer(
        peer.path,
        {
          direction: 'protect',
          profile: vector.profile,
          masterKey: fromHex(vector.master_key),
          masterSalt: fromHex(vector.master_salt),
        },
        [fromHex(vector.plaintext)],
      );
      expect(result?.ok && toHex(result.packet)).toBe(vector.expected);
    },
  );

  it('round-trips a wrapping stream; rejects a replay and a flipped bit, which commits nothing', async () => {
    const session = { profile: 'aes128gcm', masterKey: randomBytes(16), masterSalt: randomBytes(12) } as const;
    const stream = generateRtpStream({ seed: randomBytes(4).readUInt32BE(), rtpPackets: 3000, firstSequence: 65000, rtcpEvery: 100 });
    const plain = stream.packets.map((packet) => packet.bytes);
    const protectedPackets = (await runLibsrtpPeer(peer.path, { direction: 'protect', ...session }, plain)).map(okPacket);
    const last = protectedPackets.length - 1;
    const tampered = Uint8Array.from(protectedPackets[last]!);
    tampered[20] = tampered[20]! ^ 0x01;
    const opened = await runLibsrtpPeer(peer.path, { direction: 'unprotect', ...session }, [
      ...protectedPackets.slice(0, last),
      protectedPackets[last - 3]!, // replay
      tampered,
      protectedPackets[last]!, // the genuine packet still opens after the forgery
    ]);
    expect(countMismatches(stream.packets.slice(0, last), opened.slice(0, last))).toEqual({ mismatches: 0, first: '' });
    expect(opened.slice(last).map((result) => (result.ok ? 'ok' : result.error))).toEqual(['replay_fail', 'auth_fail', 'ok']);
  });
});

interface InteropCase {
  readonly profile: SrtpProfileName;
  readonly backendName: 'node-crypto' | 'noble' | 'native-gcm';
  readonly backend: SrtpCryptoBackend;
  readonly rtpPackets: number;
}

// Both backends get the full stream on every profile. noble is 2-3x slower than node:crypto
// here; the whole file takes about 25 s on a 2-core machine. If it grows, shorten the noble
// streams (they only need to wrap: 8,000 packets from a start ≥ 60000 still do).
const PROFILES: readonly SrtpProfileName[] = ['aes128gcm', 'aes256gcm', 'aescm128sha80'];
// The relay's native backend too when it is built (its engines build RTP IVs from their salt and
// stage SRTCP natively; test/unit/relay/native-gcm-backend.test.ts fails when it is not built).
const native = loadNativeGcmBackend();
const BACKENDS: readonly { readonly backendName: InteropCase['backendName']; readonly backend: SrtpCryptoBackend }[] = [
  { backendName: 'node-crypto', backend: nodeCryptoBackend },
  { backendName: 'noble', backend: nobleBackend },
  ...(native === null ? [] : [{ backendName: 'native-gcm' as const, backend: native }]),
];
const INTEROP_CASES: readonly InteropCase[] = BACKENDS.flatMap(({ backendName, backend }) =>
  PROFILES.map((profile) => ({ profile, backendName, backend, rtpPackets: 70_000 })),
);

describe.runIf(libsrtpReady).each(INTEROP_CASES)('Parley ($backendName) ⇄ libsrtp, $profile, $rtpPackets RTP packets', (testCase) => {
  let stream: RtpStream;
  let parleyProtected: readonly Uint8Array[];
  let libsrtpProtected: readonly LibsrtpResult[];
  let libsrtpOpenedParley: readonly LibsrtpResult[];
  let parleyOpenedLibsrtp: readonly LibsrtpResult[];

  beforeAll(async function runBothWays() {
    const profile = srtpProfile(testCase.profile);
    const masterKey = randomBytes(profile.keyLength);
    const masterSalt = randomBytes(profile.saltLength);
    const contextOptions = { profile: testCase.profile, masterKey, masterSalt, backend: testCase.backend };
    const peerSession = { profile: testCase.profile, masterKey, masterSalt } as const;

    stream = generateRtpStream({ seed: randomBytes(4).readUInt32BE(), rtpPackets: testCase.rtpPackets });
    const plain = stream.packets.map((packet) => packet.bytes);

    const sender = new SrtpContext(contextOptions);
    parleyProtected = stream.packets.map(function protectWithParley(packet) {
      return packet.kind === 'rtcp' ? sender.protectRtcp(packet.bytes) : sender.protectRtp(packet.bytes);
    });
    sender.close();

    // Both libsrtp runs at once: the peer is a separate process, so they use the second core.
    [libsrtpProtected, libsrtpOpenedParley] = await Promise.all([
      runLibsrtpPeer(peer.path, { direction: 'protect', ...peerSession }, plain),
      runLibsrtpPeer(peer.path, { direction: 'unprotect', ...peerSession }, parleyProtected),
    ]);

    const receiver = new SrtpContext(contextOptions);
    parleyOpenedLibsrtp = libsrtpProtected.map(function unprotectWithParley(result, i): LibsrtpResult {
      if (!result.ok) return { ok: false, error: `libsrtp could not protect it: ${result.error}` };
      try {
        const packet = stream.packets[i]!.kind === 'rtcp' ? receiver.unprotectRtcp(result.packet) : receiver.unprotectRtp(result.packet);
        return { ok: true, packet };
      } catch (error) {
        if (isSrtpError(error)) return { ok: false, error: error.reason };
        throw error;
      }
    });
    receiver.close();
  }, 120_000);

  afterAll(function releaseStreams() {
    // Six 70k-packet cases would otherwise stay in memory until the file ends.
    parleyProtected = libsrtpProtected = libsrtpOpenedParley = parleyOpenedLibsrtp = [];
    stream = { ...stream, packets: [] };
  });

  it('streams wrap the 16-bit sequence and carry RTCP', () => {
    expect(stream.packets.some((packet) => packet.label.includes('roc=1'))).toBe(true);
    expect(stream.packets.filter((packet) => packet.kind === 'rtcp').length).toBeGreaterThan(0);
  });

  it('(a) Parley protects, libsrtp unprotects: every packet comes back', () => {
    expect(countMismatches(stream.packets, libsrtpOpenedParley), `seed ${stream.seed}`).toEqual({ mismatches: 0, first: '' });
  });

  it('(b) libsrtp protects, Parley unprotects: every packet comes back', () => {
    expect(countMismatches(stream.packets, parleyOpenedLibsrtp), `seed ${stream.seed}`).toEqual({ mismatches: 0, first: '' });
  });

  it('(c) Parley and libsrtp produce byte-identical SRTP and SRTCP', () => {
    const asExpected = stream.packets.map((packet, i): StreamPacket => ({ ...packet, bytes: parleyProtected[i]! }));
    expect(countMismatches(asExpected, libsrtpProtected), `seed ${stream.seed}`).toEqual({ mismatches: 0, first: '' });
  });
});

function okPacket(result: LibsrtpResult): Uint8Array {
  if (!result.ok) throw new Error(`libsrtp-peer failed: ${result.error}`);
  return result.packet;
}

/** Compares packet by packet; describes only the first mismatch so a failure stays readable. */
function countMismatches(
  expected: readonly StreamPacket[],
  actual: readonly LibsrtpResult[],
): { mismatches: number; first: string } {
  let mismatches = 0;
  let first = '';
  const count = Math.max(expected.length, actual.length);
  for (let i = 0; i < count; i++) {
    const want = expected[i];
    const got = actual[i];
    if (want !== undefined && got?.ok === true && equalBytes(want.bytes, got.packet)) continue;
    mismatches += 1;
    if (first === '') {
      const what = got === undefined ? 'missing' : got.ok ? `got ${toHex(got.packet).slice(0, 80)}…` : `error ${got.error}`;
      first = `#${i} (${want?.label ?? 'extra'}): want ${want === undefined ? '-' : `${toHex(want.bytes).slice(0, 80)}…`}, ${what}`;
    }
  }
  return { mismatches, first };
}
