/**
 * Where a key exchange's CPU goes, for `npm run bench:control`: the room's own code for its
 * crypto steps, run in this Node process (V8, the engine workerd runs; WebCrypto here is
 * OpenSSL, workerd's is BoringSSL), its CPU time read around each call (process.cpuUsage: the
 * machine's other work does not count) — what workerd cannot time inside itself (its timers
 * stand still during synchronous work):
 *
 * - the exchange proper, the steps of control/src/room/key-exchange.ts startExchange with the
 *   WebCrypto X25519 of control/src/room/x25519-agreement.ts (their own module is Workers code,
 *   outside this Node project): the key pair generated and its public key exported, the
 *   client's key imported, the agreement, the §3 key schedule (deriveSessionKeysFromSharedSecret,
 *   the room's call); and the check of the client's confirmation (verifyPeerConfirmation);
 * - sealing the keys to the relay (shared/relay-api/sealed-keys.ts, §8.4: an X25519 of its own in
 *   @noble/curves, HKDF, AES-256-GCM);
 * - signing the install request (shared/relay-api/request-signing.ts, §8.2: HMAC-SHA256).
 *
 * The rest of the room's CPU per exchange is its I/O glue: messages parsed and sent, the SSRC
 * allocated and the relay found in the database (the libSQL client), storage, the fetch to the
 * relay.
 */
import { webcrypto } from 'node:crypto';
import { deriveSessionKeys, deriveSessionKeysFromSharedSecret, generateEphemeralKeyPair, PROTOCOL_VERSION, type SessionKeys, type SessionTranscript } from '../../shared/keys/index.js';
import type { SessionKeyMaterial } from '../../shared/relay-api/sealed-keys.js';
import { assertUsablePublicKey } from '../../shared/keys/x25519.js';
import { sealSessionKeysWith, type SealEphemeralKey } from '../../shared/relay-api/sealed-keys.js';
import { signRequest } from '../../shared/relay-api/request-signing.js';

export interface ExchangeCryptoResult {
  readonly iterations: number;
  /** The room's key pair, agreement and key schedule, ms per exchange. */
  readonly exchangeMs: number;
  /** The client's confirmation checked, ms. */
  readonly confirmMs: number;
  /** Sealing the keys to the relay as the room does (sealSessionKeysWith, WebCrypto X25519), ms. */
  readonly sealMs: number;
  /** signRequest of an install body, ms. */
  readonly signMs: number;
}

/** CPU time of this process (every thread: WebCrypto runs in libuv's pool), ms. */
function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function average(iterations: number, op: () => void): number {
  const started = cpuNow();
  for (let i = 0; i < iterations; i++) op();
  return (cpuNow() - started) / iterations;
}

const X25519 = { name: 'X25519' } as const;

/** What startExchange does for `transcript` (its serverPublicKey filled in here). */
async function roomSide(clientPublicKey: Uint8Array, transcript: Omit<SessionTranscript, 'serverPublicKey'>): Promise<{ keys: SessionKeys; serverPublicKey: Uint8Array }> {
  const pair = (await webcrypto.subtle.generateKey(X25519, false, ['deriveBits'])) as webcrypto.CryptoKeyPair;
  const serverPublicKey = new Uint8Array(await webcrypto.subtle.exportKey('raw', pair.publicKey));
  const peer = await webcrypto.subtle.importKey('raw', clientPublicKey, X25519, false, []);
  const sharedSecret = new Uint8Array(await webcrypto.subtle.deriveBits({ name: 'X25519', public: peer } as webcrypto.EcdhKeyDeriveParams, pair.privateKey, 256));
  const keys = deriveSessionKeysFromSharedSecret({ role: 'server', sharedSecret, transcript: { ...transcript, serverPublicKey } });
  return { keys, serverPublicKey };
}

/** The seal's ephemeral key as control/src/room/x25519-agreement.ts makes it (WebCrypto, non-extractable). */
async function webCryptoEphemeralKey(): Promise<SealEphemeralKey> {
  const pair = (await webcrypto.subtle.generateKey(X25519, false, ['deriveBits'])) as webcrypto.CryptoKeyPair;
  const publicKey = new Uint8Array(await webcrypto.subtle.exportKey('raw', pair.publicKey));
  return {
    publicKey,
    async sharedSecret(peerPublicKey, peerField) {
      assertUsablePublicKey(peerPublicKey, peerField);
      const peer = await webcrypto.subtle.importKey('raw', peerPublicKey, X25519, false, []);
      return new Uint8Array(await webcrypto.subtle.deriveBits({ name: 'X25519', public: peer } as webcrypto.EcdhKeyDeriveParams, pair.privateKey, 256));
    },
    destroy() {},
  };
}

export async function measureExchangeCrypto(iterations: number): Promise<ExchangeCryptoResult> {
  const relay = generateEphemeralKeyPair();
  const relayId = 'bench-relay';
  const bootId = 'AAAAAAAAAAAAAAAAAAAAAA';
  // The clients' key pairs, made outside the timing.
  const clients = Array.from({ length: iterations }, () => generateEphemeralKeyPair());
  let exchangeTotal = 0;
  let confirmTotal = 0;
  const material: SessionKeyMaterial[] = [];
  for (let i = 0; i < iterations + 10; i++) {
    const client = clients[i % iterations]!;
    const transcript = {
      protocolVersion: PROTOCOL_VERSION,
      sessionId: `vs_bench${i}`,
      userId: 'ak_bench:bench-user',
      channelId: 'chn_bench',
      relayId,
      ssrc: 0x1000 + i,
      profile: 'aes128gcm' as const,
      clientPublicKey: client.publicKey,
    };
    const started = cpuNow();
    const room = await roomSide(client.publicKey, transcript);
    const exchanged = cpuNow();
    const clientKeys = deriveSessionKeys({ role: 'client', privateKey: client.privateKey, transcript: { ...transcript, serverPublicKey: room.serverPublicKey } });
    const confirmStarted = cpuNow();
    room.keys.verifyPeerConfirmation(clientKeys.clientConfirmation);
    const confirmEnded = cpuNow();
    clientKeys.wipe();
    if (i < 10) continue; // warm-up
    exchangeTotal += exchanged - started;
    confirmTotal += confirmEnded - confirmStarted;
    material.push({ clientToRelay: room.keys.clientToRelay, relayToClient: room.keys.relayToClient });
  }
  const sealStarted = cpuNow();
  for (let n = 0; n < iterations; n++) {
    const context = { relayId, bootId, sessionId: `vs_bench${n}`, ssrc: 0x1000 + n, profile: 'aes128gcm' as const };
    await sealSessionKeysWith(await webCryptoEphemeralKey(), relay.publicKey, context, material[n % material.length]!);
  }
  const sealMs = (cpuNow() - sealStarted) / iterations;
  const body = new TextEncoder().encode(JSON.stringify({ sessionId: 'vs_bench', pad: 'x'.repeat(500) }));
  const key = { keyId: 'bench', secret: new Uint8Array(32).fill(7) };
  const signMs = average(iterations, () => {
    signRequest({ method: 'POST', url: 'http://127.0.0.1:1/internal/sessions', body, audience: relayId, key, now: Date.now() });
  });
  return { iterations, exchangeMs: exchangeTotal / iterations, confirmMs: confirmTotal / iterations, sealMs, signMs };
}
