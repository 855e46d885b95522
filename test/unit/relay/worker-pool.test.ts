/** The pure parts of the relay's worker layout: channel sharding, keys across threads, worker flags. */
import { describe, expect, it } from 'vitest';
import { fnv1a32, workerForChannel } from '../../../relay/src/workers/channel-shard.js';
import { workerEnv, workerExecArgv } from '../../../relay/src/workers/worker-pool.js';
import { packSessionKeys, unpackSessionKeys } from '../../../relay/src/workers/worker-protocol.js';
import { SRTP_PROFILES, type SrtpProfileName } from '../../../shared/srtp/profiles.js';

const SRTP_PROFILE_NAMES = Object.keys(SRTP_PROFILES) as SrtpProfileName[];
import { randomKeyMaterial } from '../../support/relay-fixtures.js';

describe('workerForChannel', () => {
  it('is FNV-1a 32 (published test values) modulo the worker count', () => {
    // From the FNV reference test suite (http://www.isthe.com/chongo/src/fnv/test_fnv.c).
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    expect(workerForChannel('foobar', 7)).toBe(0xbf9cf968 % 7);
  });

  it('puts every channel on worker 0 of 1, and is stable', () => {
    for (const id of ['room-a', 'room-b', 'ü-room', '']) {
      expect(workerForChannel(id, 1)).toBe(0);
      expect(workerForChannel(id, 4)).toBe(workerForChannel(id, 4));
    }
  });

  it('spreads ordinary ids over the workers', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[workerForChannel(`channel-${i}`, 4)]!++;
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });

  it('refuses a worker count below 1', () => {
    expect(() => workerForChannel('room', 0)).toThrow(RangeError);
  });
});

describe('packSessionKeys / unpackSessionKeys', () => {
  it.each(SRTP_PROFILE_NAMES)('round-trips %s keys through one fresh, exactly sized buffer', (profile) => {
    const keys = randomKeyMaterial(0x1234, profile);
    const packed = packSessionKeys(keys, profile);
    const unpacked = unpackSessionKeys(packed, 0x1234, profile);
    expect(unpacked).toEqual(keys);
    // Views, not copies: wiping the buffer wipes what the worker installed from.
    new Uint8Array(packed).fill(0);
    expect(unpacked.clientToRelay.masterKey.every((b) => b === 0)).toBe(true);
    expect(unpacked.relayToClient.masterSalt.every((b) => b === 0)).toBe(true);
  });

  it('refuses keys or buffers of the wrong size for the profile', () => {
    const keys = randomKeyMaterial(1, 'aes128gcm');
    expect(() => packSessionKeys(keys, 'aes256gcm')).toThrow(RangeError);
    expect(() => unpackSessionKeys(packSessionKeys(keys, 'aes128gcm'), 1, 'aescm128sha80')).toThrow(RangeError);
  });
});

describe('workerExecArgv', () => {
  it('keeps profiling and source maps; drops preloads and V8 flags (process-wide, refused in workers)', () => {
    expect(
      workerExecArgv([
        '--expose-gc',
        '--import',
        'tsx',
        '--import=./probe.ts',
        '--cpu-prof',
        '--cpu-prof-dir',
        '/tmp/p',
        '--max-old-space-size=100',
        '--enable-source-maps',
        '--heap-prof-interval=1024',
      ]),
    ).toEqual(['--cpu-prof', '--cpu-prof-dir', '/tmp/p', '--enable-source-maps', '--heap-prof-interval=1024']);
  });
});

describe('workerEnv', () => {
  it('gives a worker NODE_ENV, TZ and PARLEY_RELAY_ADDON only: no secret variable reaches it', () => {
    expect(
      workerEnv({
        NODE_ENV: 'production',
        TZ: 'UTC',
        PARLEY_RELAY_ADDON: '/tmp/asan/parley_gcm.node',
        RELAY_PRIVATE_KEY: 'secret',
        RELAY_API_KEYS: 'k1:secret',
        RELAY_CONTROL_KEY: 'c:secret',
        RELAY_METRICS_TOKEN: 'token',
        PATH: '/usr/bin',
        HOME: '/root',
      }),
    ).toEqual({ NODE_ENV: 'production', TZ: 'UTC', PARLEY_RELAY_ADDON: '/tmp/asan/parley_gcm.node' });
    expect(workerEnv({})).toEqual({});
  });
});
