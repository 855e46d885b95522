/**
 * The client's side of the voice key exchange (docs/protocol.md §5.5) on the §3.7 known-answer
 * vectors: the confirmation it sends and the keys it hands out are the vectors', and every way
 * the room's answer can be wrong abandons the exchange with its reason and wipes it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ClientKeyExchange, KeyExchangeError, type KeyExchangeFailure } from '../../../shared/client/voice-key-exchange.js';
import type { RoomMessageOf } from '../../../shared/client/voice-messages.js';
import { encodeBase64Url } from '../../../shared/relay-api/base64url.js';
import { bytesToHex, hexToBytes } from '../../../shared/bytes.js';
import type { SrtpProfileName } from '../../../shared/srtp/profiles.js';

interface Vector {
  readonly id: string;
  readonly clientPrivateKey: string;
  readonly transcript: { protocolVersion: number; sessionId: string; userId: string; channelId: string; relayId: string; ssrc: number; profile: SrtpProfileName; clientPublicKey: string; serverPublicKey: string };
  readonly expected: { clientToRelay: { masterKey: string; masterSalt: string }; relayToClient: { masterKey: string; masterSalt: string }; clientConfirmation: string; serverConfirmation: string };
}
const fixture = JSON.parse(readFileSync(new URL('../../fixtures/key-schedule-vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[]; rejectedPeerPublicKeys: Array<{ publicKey: string }> };

function exchangeFor(v: Vector, overrides: { channelId?: string; subject?: string; profile?: SrtpProfileName } = {}) {
  return new ClientKeyExchange({
    channelId: overrides.channelId ?? v.transcript.channelId,
    subject: overrides.subject ?? v.transcript.userId,
    profile: overrides.profile ?? v.transcript.profile,
    randomBytes: () => hexToBytes(v.clientPrivateKey),
  });
}

function responseFor(v: Vector, overrides: Partial<RoomMessageOf<'key_exchange_response'>> = {}): RoomMessageOf<'key_exchange_response'> {
  const t = v.transcript;
  return {
    type: 'key_exchange_response',
    purpose: 'join',
    protocolVersion: t.protocolVersion,
    sessionId: t.sessionId,
    userId: t.userId,
    channelId: t.channelId,
    relayId: t.relayId,
    ssrc: t.ssrc,
    profile: t.profile,
    serverPublicKey: encodeBase64Url(hexToBytes(t.serverPublicKey)),
    confirmBy: 1_796_154_530_000,
    ...overrides,
  };
}

function readyFor(v: Vector, overrides: Partial<RoomMessageOf<'voice_ready'>> = {}): RoomMessageOf<'voice_ready'> {
  const t = v.transcript;
  return {
    type: 'voice_ready',
    purpose: 'join',
    sessionId: t.sessionId,
    relayId: t.relayId,
    udpEndpoint: { host: '127.0.0.1', port: 40001 },
    ssrc: t.ssrc,
    profile: t.profile,
    keysExpireAt: 1_796_158_120_000,
    serverConfirmation: encodeBase64Url(hexToBytes(v.expected.serverConfirmation)),
    resumeToken: encodeBase64Url(new Uint8Array(32).fill(7)),
    resumeWindowMs: 30_000,
    ...overrides,
  };
}

function expectFailure(run: () => unknown, reason: KeyExchangeFailure): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(KeyExchangeError);
    expect((error as KeyExchangeError).reason).toBe(reason);
    return;
  }
  throw new Error(`expected ${reason}`);
}

describe('ClientKeyExchange on the §3.7 vectors', () => {
  for (const v of fixture.vectors) {
    it(`${v.id}: sends the vector's public key and client confirmation, hands out the vector's keys`, () => {
      const exchange = exchangeFor(v);
      const init = exchange.init();
      expect(init).toEqual({ type: 'key_exchange_init', clientPublicKey: encodeBase64Url(hexToBytes(v.transcript.clientPublicKey)), profile: v.transcript.profile });
      const confirmation = exchange.respond(responseFor(v));
      expect(confirmation).toEqual({ type: 'key_confirmation', clientConfirmation: encodeBase64Url(hexToBytes(v.expected.clientConfirmation)) });
      const media = exchange.complete(readyFor(v));
      expect(bytesToHex(media.sendKeys.masterKey)).toBe(v.expected.clientToRelay.masterKey);
      expect(bytesToHex(media.sendKeys.masterSalt)).toBe(v.expected.clientToRelay.masterSalt);
      expect(bytesToHex(media.receiveKeys.masterKey)).toBe(v.expected.relayToClient.masterKey);
      expect(bytesToHex(media.receiveKeys.masterSalt)).toBe(v.expected.relayToClient.masterSalt);
      expect(media).toMatchObject({ purpose: 'join', sessionId: v.transcript.sessionId, relayId: v.transcript.relayId, ssrc: v.transcript.ssrc, profile: v.transcript.profile });
      expect(exchange.wiped).toBe(true); // what it handed out are copies
    });
  }
});

describe('ClientKeyExchange refuses', () => {
  const v = fixture.vectors[0]!;
  const cases: Array<[string, KeyExchangeFailure, (e: ClientKeyExchange) => unknown]> = [
    ['another channel', 'channel_mismatch', (e) => e.respond(responseFor(v, { channelId: 'chn_other' }))],
    ['another user', 'user_mismatch', (e) => e.respond(responseFor(v, { userId: 'usr_mallory' }))],
    ['another protocol version', 'protocol_version_mismatch', (e) => e.respond(responseFor(v, { protocolVersion: 2 }))],
    ['another profile than asked', 'profile_mismatch', (e) => e.respond(responseFor(v, { profile: 'aes256gcm' }))],
    ['a server key that is not 32 bytes', 'bad_server_key', (e) => e.respond(responseFor(v, { serverPublicKey: 'AAAA' }))],
    ['voice_ready for another session', 'session_mismatch', (e) => (e.respond(responseFor(v)), e.complete(readyFor(v, { sessionId: 'vs_other' })))],
    ['voice_ready for another SSRC', 'session_mismatch', (e) => (e.respond(responseFor(v)), e.complete(readyFor(v, { ssrc: 1 })))],
    ['voice_ready for another purpose', 'session_mismatch', (e) => (e.respond(responseFor(v)), e.complete(readyFor(v, { purpose: 'rotate' })))],
    ['a server confirmation that does not match', 'server_confirmation_failed', (e) => (e.respond(responseFor(v)), e.complete(readyFor(v, { serverConfirmation: encodeBase64Url(new Uint8Array(32)) })))],
    ['a server confirmation that is not base64url', 'server_confirmation_failed', (e) => (e.respond(responseFor(v)), e.complete(readyFor(v, { serverConfirmation: '!' })))],
    ['voice_ready before the response', 'out_of_order', (e) => e.complete(readyFor(v))],
    ['a second response', 'out_of_order', (e) => (e.respond(responseFor(v)), e.respond(responseFor(v)))],
  ];
  for (const [what, reason, run] of cases) {
    it(`${what} (${reason}), and wipes the exchange`, () => {
      const exchange = exchangeFor(v);
      exchange.init();
      expectFailure(() => run(exchange), reason);
      expect(exchange.wiped).toBe(true);
      expectFailure(() => exchange.respond(responseFor(v)), 'out_of_order'); // never usable again
    });
  }

  for (const { publicKey } of fixture.rejectedPeerPublicKeys) {
    it(`the §3.3 rejected server key ${publicKey.slice(0, 8)}… (bad_server_key)`, () => {
      const exchange = exchangeFor(v);
      exchange.init();
      expectFailure(() => exchange.respond(responseFor(v, { serverPublicKey: encodeBase64Url(hexToBytes(publicKey)) })), 'bad_server_key');
      expect(exchange.wiped).toBe(true);
    });
  }

  it('a response before init', () => {
    expectFailure(() => exchangeFor(v).respond(responseFor(v)), 'out_of_order');
  });

  it('a fresh key pair per exchange', () => {
    const a = new ClientKeyExchange({ channelId: 'c', subject: 's' }).init().clientPublicKey;
    const b = new ClientKeyExchange({ channelId: 'c', subject: 's' }).init().clientPublicKey;
    expect(a).not.toBe(b);
  });
});
