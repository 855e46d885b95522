/** Shared inputs for the relay internal API suites (unit and e2e). */
import { randomBytes } from 'node:crypto';
import { generateEphemeralKeyPair } from '../../../shared/keys/x25519.js';
import type { InstallSessionBody } from '../../../shared/relay-api/messages.js';
import { signRequest, type SigningKey } from '../../../shared/relay-api/request-signing.js';
import { createSealOpener, sealSessionKeys, type SealOpener, type SessionKeyMaterial } from '../../../shared/relay-api/sealed-keys.js';
import { nodeCryptoBackend } from '../../../shared/srtp/backends/node-crypto.js';
import { SRTP_PROFILES, type SrtpProfileName } from '../../../shared/srtp/profiles.js';
import { LocalSessionDirectory, type SessionPlacement } from '../../../relay/src/media/session-directory.js';
import { SessionRegistry, type RegistryLimits } from '../../../relay/src/media/session-registry.js';

export const RELAY_ID = 'relay-fra-1';
/** The test relay's boot id (16 bytes 00..0f, base64url). */
export const RELAY_BOOT_ID = 'AAECAwQFBgcICQoLDA0ODw';
export const API_KEY: SigningKey = { keyId: 'cp-2026-01', secret: new Uint8Array(randomBytes(32)) };
export const API_KEYS: ReadonlyMap<string, Uint8Array> = new Map([[API_KEY.keyId, API_KEY.secret]]);
export const RELAY_KEY_PAIR = generateEphemeralKeyPair();
/** The test relay's seal opener (the pure one; the native one is tested against it). */
export const RELAY_SEAL_OPENER: SealOpener = createSealOpener(RELAY_KEY_PAIR.privateKey);

export const REGISTRY_LIMITS: RegistryLimits = {
  maxSessions: 100,
  maxChannels: 10,
  idleTimeoutMs: 60_000,
  rotationOverlapMs: 5_000,
  session: {
    packetsPerSecond: 200,
    packetBurst: 100,
    bytesPerSecond: 200_000,
    byteBurst: 100_000,
    unlatchedPacketsPerSecond: 20,
    replayWindowSize: 128,
  },
};

export function makeRegistry(limits: Partial<RegistryLimits> = {}): SessionRegistry {
  return new SessionRegistry({ ...REGISTRY_LIMITS, ...limits }, nodeCryptoBackend);
}

/** Where the test relay says clients send voice. */
export const TEST_PLACEMENT: SessionPlacement = { worker: 0, udpPort: 40000, udpEndpoint: { host: '203.0.113.7', port: 40000 } };

/** The internal API's view of one in-process registry. */
export function localSessions(registry: SessionRegistry, placement: SessionPlacement = TEST_PLACEMENT): LocalSessionDirectory {
  return new LocalSessionDirectory(registry, placement);
}

export function randomKeyMaterial(profile: SrtpProfileName = 'aes128gcm'): SessionKeyMaterial {
  const p = SRTP_PROFILES[profile];
  const direction = () => ({ masterKey: new Uint8Array(randomBytes(p.keyLength)), masterSalt: new Uint8Array(randomBytes(p.saltLength)) });
  return { clientToRelay: direction(), relayToClient: direction() };
}

export interface InstallOverrides extends Partial<Omit<InstallSessionBody, 'sealedKeys'>> {
  /** Seal for this relay id / boot id / public key instead of the test relay's. */
  readonly sealRelayId?: string;
  readonly sealBootId?: string;
  readonly sealPublicKey?: Uint8Array;
}

/** A valid install body sealed to the test relay, and the plaintext keys it carries. */
export function installBody(sessionId: string, ssrc: number, now: number, overrides: InstallOverrides = {}): { body: InstallSessionBody; keys: SessionKeyMaterial } {
  const { sealRelayId, sealBootId, sealPublicKey, ...fields } = overrides;
  const profile = fields.profile ?? 'aes128gcm';
  const keys = randomKeyMaterial(profile);
  const sealedKeys = sealSessionKeys(sealPublicKey ?? RELAY_KEY_PAIR.publicKey, { relayId: sealRelayId ?? RELAY_ID, bootId: sealBootId ?? RELAY_BOOT_ID, sessionId, ssrc, profile }, keys);
  return {
    body: {
      sessionId,
      userId: `user-${sessionId}`,
      channelId: 'channel-1',
      ssrc,
      profile,
      permissions: { canSpeak: true, canListen: true, muted: false, deafened: false },
      expiresAt: now + 3_600_000,
      sealedKeys,
      ...fields,
    },
    keys,
  };
}

export interface SignedInitOptions {
  readonly now: number;
  readonly audience?: string;
  readonly key?: SigningKey;
}

/** A fetch init for `method url` with a JSON body (or none), signed for the test relay. */
export function signedInit(method: string, url: string, body: unknown, options: SignedInitOptions): RequestInit & { body?: Uint8Array; headers: Record<string, string> } {
  const bytes = body === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(body));
  const authorization = signRequest({
    method,
    url,
    body: bytes,
    audience: options.audience ?? RELAY_ID,
    key: options.key ?? API_KEY,
    now: options.now,
  });
  const headers: Record<string, string> = { authorization };
  if (body === undefined) return { method, headers };
  headers['content-type'] = 'application/json';
  return { method, headers, body: bytes };
}
