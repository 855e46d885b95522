/**
 * What an idle session holds and what ending it leaves: key epochs keep their master keys until
 * a direction is first used, erase each as its context is derived, and wipe everything on close;
 * rate limits made on first use admit what ones made at install would have.
 */
import { describe, expect, it } from 'vitest';
import { KeyEpoch, RelaySession } from '../../../relay/src/media/relay-session.js';
import { loadNativeGcmBackend } from '../../../relay/src/media/native-gcm-backend.js';
import { nodeCryptoBackend } from '../../../shared/srtp/backends/node-crypto.js';
import { SrtpContext } from '../../../shared/srtp/context.js';
import type { SrtpProfileName } from '../../../shared/srtp/profiles.js';
import { makeMember, randomKeyMaterial, TEST_LIMITS } from '../../support/relay-fixtures.js';
import { rtpPacket } from '../../support/rtp-packets.js';

const NOW = 1_000_000;
const backends = [nodeCryptoBackend, loadNativeGcmBackend() ?? nodeCryptoBackend];

describe.each(['aes128gcm', 'aes256gcm', 'aescm128sha80'] as SrtpProfileName[])('KeyEpoch, %s', (profile) => {
  it.each(backends.map((b) => [b.name, b] as const))('derives each direction on first use, as an eager context would (%s)', (_name, backend) => {
    const keys = randomKeyMaterial(7, profile);
    const epoch = new KeyEpoch(7, NOW, profile, keys, backend, 128);
    const client = new SrtpContext({ profile, backend, ...keys.clientToRelay });
    const fromRelay = new SrtpContext({ profile, backend, ...keys.relayToClient });
    const packet = rtpPacket({ ssrc: 7 });
    expect(epoch.inbound.unprotectRtp(client.protectRtp(packet))).toEqual(packet);
    expect(fromRelay.unprotectRtp(epoch.outbound.protectRtp(packet))).toEqual(packet);
    expect(epoch.inbound).toBe(epoch.inbound); // built once
  });

  it('erases each master key once its context is derived, and keeps nothing once both are', () => {
    const epoch = new KeyEpoch(7, NOW, profile, randomKeyMaterial(7, profile), nodeCryptoBackend, 128);
    expect(epoch.holdsMasterKeys).toBe(true);
    void epoch.inbound;
    expect(epoch.holdsMasterKeys).toBe(true); // relay→client's, not yet used
    void epoch.outbound;
    expect(epoch.holdsMasterKeys).toBe(false);
  });

  it('close() wipes unused master keys and closes the contexts already built; it is idempotent', () => {
    const idle = new KeyEpoch(7, NOW, profile, randomKeyMaterial(7, profile), nodeCryptoBackend, 128);
    idle.close();
    idle.close();
    expect(idle.closed).toBe(true);
    expect(idle.holdsMasterKeys).toBe(false);
    // No context can be derived any more (from erased keys it would be a context under zero keys).
    expect(() => idle.inbound).toThrow(TypeError);
    expect(() => idle.outbound).toThrow(TypeError);

    const half = new KeyEpoch(8, NOW, profile, randomKeyMaterial(8, profile), nodeCryptoBackend, 128);
    const inbound = half.inbound;
    half.close();
    expect(inbound.closed).toBe(true);
    expect(half.holdsMasterKeys).toBe(false);
    expect(half.inbound).toBe(inbound); // closed, and refusing packets
    expect(() => half.outbound).toThrow(TypeError);
  });

  it('copies the keys it is given: the caller may wipe them at once (the internal API does)', () => {
    const keys = randomKeyMaterial(7, profile);
    const client = new SrtpContext({ profile, backend: nodeCryptoBackend, ...keys.clientToRelay });
    const epoch = new KeyEpoch(7, NOW, profile, keys, nodeCryptoBackend, 128);
    for (const k of [keys.clientToRelay.masterKey, keys.clientToRelay.masterSalt, keys.relayToClient.masterKey, keys.relayToClient.masterSalt]) k.fill(0);
    const packet = rtpPacket({ ssrc: 7 });
    expect(epoch.inbound.unprotectRtp(client.protectRtp(packet))).toEqual(packet);
  });

  it('refuses keys of the wrong length at once, not at the first packet', () => {
    const keys = randomKeyMaterial(7, profile);
    const short = { ...keys, relayToClient: { ...keys.relayToClient, masterSalt: keys.relayToClient.masterSalt.subarray(1) } };
    expect(() => new KeyEpoch(7, NOW, profile, short, nodeCryptoBackend, 128)).toThrow(RangeError);
    expect(() => new KeyEpoch(7, NOW, profile, keys, nodeCryptoBackend, 16)).toThrow(RangeError);
  });
});

describe('RelaySession', () => {
  it('ending a session wipes the keys of every epoch, used or not', () => {
    const member = makeMember('s1', 'room', {}, NOW);
    const session = new RelaySession(member.spec, nodeCryptoBackend, TEST_LIMITS.session, NOW);
    session.rotate(randomKeyMaterial(member.spec.ssrc + 1), NOW + 10, 5_000);
    const [newest, previous] = session.epochs;
    const used = previous!.inbound;
    session.close();
    expect(newest!.closed && previous!.closed).toBe(true);
    expect(newest!.holdsMasterKeys || previous!.holdsMasterKeys).toBe(false);
    expect(used.closed).toBe(true);
  });

  it('rate limits made at first use admit the full burst, then refill at the configured rate', () => {
    const member = makeMember('s1', 'room', {}, NOW);
    const session = new RelaySession(member.spec, nodeCryptoBackend, TEST_LIMITS.session, NOW);
    const later = NOW + 60_000;
    const { packetBurst, packetsPerSecond, unlatchedPacketsPerSecond, byteBurst } = TEST_LIMITS.session;
    for (let i = 0; i < packetBurst; i++) expect(session.packetBucket.take(later)).toBe(true);
    expect(session.packetBucket.take(later)).toBe(false);
    expect(session.packetBucket.take(later + 1000 / packetsPerSecond)).toBe(true);
    const source = { address: '192.0.2.1', port: 4000 };
    for (let i = 0; i < unlatchedPacketsPerSecond; i++) expect(session.sourceBudgets.take(source, later)).toBe(true);
    expect(session.sourceBudgets.take(source, later)).toBe(false);
    expect(session.sourceBudgets.take({ ...source, port: 4001 }, later)).toBe(true); // another source has its own
    expect(session.byteBucket.take(later, byteBurst)).toBe(true);
    expect(session.byteBucket.take(later, 1)).toBe(false);
    expect(session.packetBucket).toBe(session.packetBucket);
  });
});
