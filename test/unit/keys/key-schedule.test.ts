import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  deriveSessionKeys,
  generateEphemeralKeyPair,
  KEY_CONFIRMATION_LENGTH,
  KeyScheduleError,
  transcriptHash,
  wipeBytes,
  type SessionKeys,
  type SessionTranscript,
} from '../../../shared/keys/index.js';
import { SRTP_PROFILES, type SrtpProfileName } from '../../../shared/srtp/profiles.js';
import { makeHandshake, toHex, type Handshake } from './helpers.js';

function bothSides(h: Handshake): { client: SessionKeys; server: SessionKeys } {
  return {
    client: deriveSessionKeys({ role: 'client', privateKey: h.client.privateKey, transcript: h.transcript }),
    server: deriveSessionKeys({ role: 'server', privateKey: h.server.privateKey, transcript: h.transcript }),
  };
}

/** Every secret output, hex, in a fixed order. */
function secrets(keys: SessionKeys): string[] {
  return [
    keys.clientToRelay.masterKey,
    keys.clientToRelay.masterSalt,
    keys.relayToClient.masterKey,
    keys.relayToClient.masterSalt,
    keys.clientConfirmation,
    keys.serverConfirmation,
  ].map(toHex);
}

describe('deriveSessionKeys', () => {
  it('gives the client and the server identical keys', () => {
    const { client, server } = bothSides(makeHandshake());
    expect(secrets(client)).toEqual(secrets(server));
    expect(toHex(client.transcriptHash)).toBe(toHex(server.transcriptHash));
    expect(client.role).toBe('client');
    expect(server.role).toBe('server');
  });

  it('agrees for any key pairs (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (a, b) => {
        const h = makeHandshake();
        const client = generateEphemeralKeyPair(() => a);
        const server = generateEphemeralKeyPair(() => b);
        const transcript = { ...h.transcript, clientPublicKey: client.publicKey, serverPublicKey: server.publicKey };
        const c = deriveSessionKeys({ role: 'client', privateKey: client.privateKey, transcript });
        const s = deriveSessionKeys({ role: 'server', privateKey: server.privateKey, transcript });
        expect(secrets(c)).toEqual(secrets(s));
      }),
      { numRuns: 25 },
    );
  });

  it.each(Object.keys(SRTP_PROFILES) as SrtpProfileName[])('sizes the outputs for %s', (profile) => {
    const { client } = bothSides(makeHandshake({ profile }));
    const { keyLength, saltLength } = SRTP_PROFILES[profile];
    expect(client.profile).toBe(profile);
    for (const direction of [client.clientToRelay, client.relayToClient]) {
      expect(direction.masterKey.length).toBe(keyLength);
      expect(direction.masterSalt.length).toBe(saltLength);
    }
    expect(client.clientConfirmation.length).toBe(KEY_CONFIRMATION_LENGTH);
    expect(client.serverConfirmation.length).toBe(KEY_CONFIRMATION_LENGTH);
    expect(client.transcriptHash.length).toBe(32);
  });

  it('makes all six outputs distinct from one another', () => {
    const { client } = bothSides(makeHandshake({ profile: 'aes256gcm' }));
    const prefixes = secrets(client).map((hex) => hex.slice(0, 24));
    expect(new Set(prefixes).size).toBe(prefixes.length);
  });

  it('exposes the transcript hash of transcriptHash()', () => {
    const h = makeHandshake();
    const { client } = bothSides(h);
    expect(toHex(client.transcriptHash)).toBe(toHex(transcriptHash(h.transcript)));
  });

  // Every transcript field, changed on its own, must change every derived secret.
  const base = makeHandshake();
  const other = generateEphemeralKeyPair();
  const changes: Array<[keyof SessionTranscript, Partial<SessionTranscript>, 'client' | 'server' | 'both']> = [
    ['protocolVersion', { protocolVersion: 2 }, 'both'],
    ['sessionId', { sessionId: 'ses_tesT' }, 'both'],
    ['userId', { userId: 'usr_test2' }, 'both'],
    ['channelId', { channelId: 'chn_tes' }, 'both'],
    ['relayId', { relayId: 'relay-tesu' }, 'both'],
    ['ssrc', { ssrc: 0xcafef00c }, 'both'],
    ['profile', { profile: 'aes256gcm' }, 'both'],
    // A new public key changes the shared secret too; derive from the side that still owns its key.
    ['clientPublicKey', { clientPublicKey: other.publicKey }, 'server'],
    ['serverPublicKey', { serverPublicKey: other.publicKey }, 'client'],
  ];

  it('has a case for every transcript field', () => {
    expect(changes.map(([field]) => field).sort()).toEqual(Object.keys(base.transcript).sort());
  });

  // Compared by 12-byte prefix (every output is at least that long), so a profile change that
  // only lengthens a key would not pass either.
  it.each(changes)('changes every output when %s changes', (_field, change, side) => {
    const reference = secrets(bothSides(base).client);
    const transcript = { ...base.transcript, ...change };
    const roles = side === 'both' ? (['client', 'server'] as const) : ([side] as const);
    for (const role of roles) {
      const privateKey = role === 'client' ? base.client.privateKey : base.server.privateKey;
      const changed = secrets(deriveSessionKeys({ role, privateKey, transcript }));
      changed.forEach((value, i) => expect(value.slice(0, 24)).not.toBe((reference[i] as string).slice(0, 24)));
    }
  });

  it('refuses a private key that does not own its transcript slot', () => {
    // The transcript pins both public keys, so the only way to get another shared secret is to
    // change a public key; a private key that does not match its slot is refused outright.
    const h = makeHandshake();
    expect(() => deriveSessionKeys({ role: 'client', privateKey: other.privateKey, transcript: h.transcript })).toThrow(RangeError);
    expect(() => deriveSessionKeys({ role: 'server', privateKey: h.client.privateKey, transcript: h.transcript })).toThrow(
      /privateKey does not match transcript\.serverPublicKey/,
    );
  });

  it('rejects malformed arguments with TypeError/RangeError naming the field', () => {
    const h = makeHandshake();
    const t = h.transcript;
    const pk = h.client.privateKey;
    expect(() => deriveSessionKeys({ role: 'relay' as 'client', privateKey: pk, transcript: t })).toThrow(TypeError);
    expect(() => deriveSessionKeys({ role: 'client', privateKey: pk.subarray(0, 31), transcript: t })).toThrow(/privateKey: expected 32 bytes/);
    expect(() => deriveSessionKeys({ role: 'client', privateKey: pk.subarray(0, 31), transcript: t })).toThrow(RangeError);
    expect(() => deriveSessionKeys({ role: 'client', privateKey: Array.from(pk) as unknown as Uint8Array, transcript: t })).toThrow(TypeError);
    expect(() =>
      deriveSessionKeys({ role: 'client', privateKey: pk, transcript: { ...t, serverPublicKey: new Uint8Array(33) } }),
    ).toThrow(/transcript\.serverPublicKey: expected 32 bytes/);
    expect(() => deriveSessionKeys(null as never)).toThrow(TypeError);
  });
});

describe('key confirmation', () => {
  it('each side accepts the value the other sends', () => {
    const { client, server } = bothSides(makeHandshake());
    expect(toHex(client.ownConfirmation)).toBe(toHex(client.clientConfirmation));
    expect(toHex(server.ownConfirmation)).toBe(toHex(server.serverConfirmation));
    expect(() => client.verifyPeerConfirmation(server.ownConfirmation)).not.toThrow();
    expect(() => server.verifyPeerConfirmation(client.ownConfirmation)).not.toThrow();
  });

  it('refuses a reflected value: client and server confirmations differ', () => {
    const { client, server } = bothSides(makeHandshake());
    expect(toHex(client.clientConfirmation)).not.toBe(toHex(client.serverConfirmation));
    expect(() => server.verifyPeerConfirmation(server.ownConfirmation)).toThrow(KeyScheduleError);
  });

  it('refuses a value derived from another transcript, a flipped bit and a wrong length', () => {
    const h = makeHandshake();
    const { client } = bothSides(h);
    const elsewhere = deriveSessionKeys({ role: 'server', privateKey: h.server.privateKey, transcript: { ...h.transcript, relayId: 'relay-other' } });
    const flipped = Uint8Array.from(bothSides(h).server.serverConfirmation);
    flipped[31] = (flipped[31] as number) ^ 1;
    for (const received of [elsewhere.serverConfirmation, flipped, new Uint8Array(0), client.serverConfirmation.subarray(0, 16)]) {
      try {
        client.verifyPeerConfirmation(received);
        expect.unreachable('confirmation accepted');
      } catch (error) {
        expect(error).toBeInstanceOf(KeyScheduleError);
        expect((error as KeyScheduleError).reason).toBe('key-confirmation-failed');
        expect((error as KeyScheduleError).field).toBe('keyConfirmation');
        expect((error as Error).message).not.toMatch(/[0-9a-f]{16}/);
      }
    }
    expect(() => client.verifyPeerConfirmation('00' as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('wipe', () => {
  it('zeroes every derived secret, is idempotent and keeps the public transcript hash', () => {
    const { client } = bothSides(makeHandshake({ profile: 'aescm128sha80' }));
    const hash = toHex(client.transcriptHash);
    const buffers = [
      client.clientToRelay.masterKey,
      client.clientToRelay.masterSalt,
      client.relayToClient.masterKey,
      client.relayToClient.masterSalt,
      client.clientConfirmation,
      client.serverConfirmation,
    ];
    expect(client.wiped).toBe(false);
    client.wipe();
    client.wipe();
    expect(client.wiped).toBe(true);
    for (const buffer of buffers) expect(buffer.every((byte) => byte === 0)).toBe(true);
    expect(toHex(client.transcriptHash)).toBe(hash);
  });

  it('refuses to confirm with wiped keys', () => {
    const { client, server } = bothSides(makeHandshake());
    client.wipe();
    expect(() => client.verifyPeerConfirmation(server.serverConfirmation)).toThrow(/after wipe/);
    expect(() => client.ownConfirmation).toThrow(TypeError);
  });

  it('wipeBytes zeroes an ephemeral private key', () => {
    const pair = generateEphemeralKeyPair();
    wipeBytes(pair.privateKey);
    expect(pair.privateKey.every((byte) => byte === 0)).toBe(true);
  });

  it('is not undone by keys derived later', () => {
    const h = makeHandshake();
    const first = bothSides(h).client;
    const key = first.clientToRelay.masterKey;
    first.wipe();
    const second = bothSides(h).client;
    expect(key.every((byte) => byte === 0)).toBe(true);
    expect(second.clientToRelay.masterKey.some((byte) => byte !== 0)).toBe(true);
  });
});

describe('generateEphemeralKeyPair', () => {
  it('makes distinct 32-byte key pairs', () => {
    const a = generateEphemeralKeyPair();
    const b = generateEphemeralKeyPair();
    expect(a.privateKey.length).toBe(32);
    expect(a.publicKey.length).toBe(32);
    expect(toHex(a.privateKey)).not.toBe(toHex(b.privateKey));
  });

  it('checks what a custom randomBytes returns', () => {
    expect(() => generateEphemeralKeyPair(() => new Uint8Array(16))).toThrow(RangeError);
    expect(() => generateEphemeralKeyPair(() => [] as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => generateEphemeralKeyPair('x' as never)).toThrow(TypeError);
  });
});
