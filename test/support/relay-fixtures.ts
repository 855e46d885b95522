/** Sessions and clients for relay tests: real keys, real SRTP contexts, no sockets. */
import { randomBytes } from 'node:crypto';
import { ClientMediaSession } from '../../shared/client/media-session.js';
import { nodeCryptoBackend } from '../../shared/srtp/backends/node-crypto.js';
import type { SrtpMasterKeys } from '../../shared/srtp/master-keys.js';
import { SRTP_PROFILES, type SrtpProfileName } from '../../shared/srtp/profiles.js';
import type { RegistryLimits } from '../../relay/src/media/session-registry.js';
import type { SessionKeyMaterial, SessionSpec } from '../../relay/src/media/session-spec.js';

export const TEST_LIMITS: RegistryLimits = {
  maxSessions: 1000,
  maxChannels: 100,
  idleTimeoutMs: 30_000,
  rotationOverlapMs: 5_000,
  session: {
    packetsPerSecond: 200,
    packetBurst: 100,
    bytesPerSecond: 100_000,
    byteBurst: 50_000,
    unlatchedPacketsPerSecond: 10,
    replayWindowSize: 128,
  },
};

export function randomMasterKeys(profile: SrtpProfileName): SrtpMasterKeys {
  const p = SRTP_PROFILES[profile];
  return { masterKey: new Uint8Array(randomBytes(p.keyLength)), masterSalt: new Uint8Array(randomBytes(p.saltLength)) };
}

export function randomKeyMaterial(ssrc: number, profile: SrtpProfileName = 'aes128gcm'): SessionKeyMaterial {
  return { ssrc, clientToRelay: randomMasterKeys(profile), relayToClient: randomMasterKeys(profile) };
}

let nextSsrc = 0x10000;

export interface TestMember {
  readonly spec: SessionSpec;
  readonly client: ClientMediaSession;
}

/** A session spec with fresh keys, and the client that holds the other half. */
export function makeMember(
  sessionId: string,
  channelId: string,
  overrides: Partial<Omit<SessionSpec, 'sessionId' | 'channelId'>> = {},
  now = Date.now(),
): TestMember {
  const profile = overrides.profile ?? 'aes128gcm';
  const keys = randomKeyMaterial(overrides.ssrc ?? nextSsrc++, profile);
  const spec: SessionSpec = {
    sessionId,
    userId: `user-${sessionId}`,
    channelId,
    profile,
    canSpeak: true,
    canListen: true,
    muted: false,
    deafened: false,
    expiresAt: now + 3_600_000,
    ...keys,
    ...overrides,
  };
  return { spec, client: clientFor(spec) };
}

export function clientFor(material: SessionKeyMaterial & { profile: SrtpProfileName }, options: { initialSequence?: number } = {}): ClientMediaSession {
  return new ClientMediaSession({
    profile: material.profile,
    ssrc: material.ssrc,
    sendKeys: material.clientToRelay,
    receiveKeys: material.relayToClient,
    backend: nodeCryptoBackend,
    ...options,
  });
}
