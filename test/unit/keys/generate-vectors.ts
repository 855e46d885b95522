/**
 * Regenerates test/fixtures/key-schedule-vectors.json from the node:crypto reference
 * (node-reference.ts), never from shared/keys, so the fixture is an independent check:
 *
 *   npx tsx test/unit/keys/generate-vectors.ts
 *
 * The inputs below are fixed; re-running must reproduce the committed file byte for byte.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { referenceDerive, referencePublicKey, referenceSharedSecret, type ReferenceTranscript } from './node-reference.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const unhex = (text: string): Buffer => Buffer.from(text, 'hex');

// RFC 7748 §6.1: Alice plays the client, Bob the control plane.
const RFC7748 = {
  alicePrivate: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  alicePublic: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  bobPrivate: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
  bobPublic: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
};

function check(label: string, actual: string, expected: string): void {
  if (actual !== expected) throw new Error(`generate-vectors: ${label} does not match RFC 7748 §6.1`);
}
check('Alice public key', hex(referencePublicKey(unhex(RFC7748.alicePrivate))), RFC7748.alicePublic);
check('Bob public key', hex(referencePublicKey(unhex(RFC7748.bobPrivate))), RFC7748.bobPublic);
check('shared secret', hex(referenceSharedSecret(unhex(RFC7748.alicePrivate), unhex(RFC7748.bobPublic))), RFC7748.shared);

interface VectorInput {
  id: string;
  description: string;
  clientPrivateKey: string;
  serverPrivateKey: string;
  transcript: Omit<ReferenceTranscript, 'clientPublicKey' | 'serverPublicKey'>;
}

const inputs: VectorInput[] = [
  {
    id: 'rfc7748-keys-aes128gcm',
    description: 'RFC 7748 §6.1 key pairs (client = Alice, server = Bob), ASCII ids, default profile',
    clientPrivateKey: RFC7748.alicePrivate,
    serverPrivateKey: RFC7748.bobPrivate,
    transcript: {
      protocolVersion: 1,
      sessionId: 'ses_01HZX3K8Q9',
      userId: 'usr_alice',
      channelId: 'chn_lobby',
      relayId: 'relay-fra-1',
      ssrc: 0x12345678,
      profile: 'aes128gcm',
    },
  },
  {
    id: 'rfc7748-keys-aes256gcm',
    description: 'Same as rfc7748-keys-aes128gcm but profile aes256gcm: 32-byte master keys, every output differs',
    clientPrivateKey: RFC7748.alicePrivate,
    serverPrivateKey: RFC7748.bobPrivate,
    transcript: {
      protocolVersion: 1,
      sessionId: 'ses_01HZX3K8Q9',
      userId: 'usr_alice',
      channelId: 'chn_lobby',
      relayId: 'relay-fra-1',
      ssrc: 0x12345678,
      profile: 'aes256gcm',
    },
  },
  {
    id: 'rfc7748-keys-aescm128sha80',
    description: 'Same as rfc7748-keys-aes128gcm but profile aescm128sha80: 14-byte master salts',
    clientPrivateKey: RFC7748.alicePrivate,
    serverPrivateKey: RFC7748.bobPrivate,
    transcript: {
      protocolVersion: 1,
      sessionId: 'ses_01HZX3K8Q9',
      userId: 'usr_alice',
      channelId: 'chn_lobby',
      relayId: 'relay-fra-1',
      ssrc: 0x12345678,
      profile: 'aescm128sha80',
    },
  },
  {
    id: 'utf8-ids-max-ssrc',
    description: 'Non-ASCII ids (2-, 3- and 4-byte UTF-8), SSRC 0xffffffff, private keys 0x00..0x1f and 0x20..0x3f',
    clientPrivateKey: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
    serverPrivateKey: '202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f',
    transcript: {
      protocolVersion: 1,
      sessionId: 's-0',
      userId: 'ユーザー',
      channelId: 'général-🎙',
      relayId: 'r',
      ssrc: 0xffffffff,
      profile: 'aes128gcm',
    },
  },
];

const vectors = inputs.map((input) => {
  const clientPrivateKey = unhex(input.clientPrivateKey);
  const serverPrivateKey = unhex(input.serverPrivateKey);
  const transcript: ReferenceTranscript = {
    ...input.transcript,
    clientPublicKey: referencePublicKey(clientPrivateKey),
    serverPublicKey: referencePublicKey(serverPrivateKey),
  };
  const fromClient = referenceDerive('client', clientPrivateKey, transcript);
  const fromServer = referenceDerive('server', serverPrivateKey, transcript);
  if (JSON.stringify(fromClient) !== JSON.stringify(fromServer)) {
    throw new Error(`generate-vectors: ${input.id}: client and server disagree`);
  }
  const out = fromClient;
  return {
    id: input.id,
    description: input.description,
    clientPrivateKey: input.clientPrivateKey,
    serverPrivateKey: input.serverPrivateKey,
    transcript: { ...input.transcript, clientPublicKey: hex(transcript.clientPublicKey), serverPublicKey: hex(transcript.serverPublicKey) },
    expected: {
      encodedTranscript: hex(out.transcript),
      transcriptHash: hex(out.transcriptHash),
      sharedSecret: hex(out.sharedSecret),
      prk: hex(out.prk),
      clientToRelay: { masterKey: hex(out.clientToRelay.masterKey), masterSalt: hex(out.clientToRelay.masterSalt) },
      relayToClient: { masterKey: hex(out.relayToClient.masterKey), masterSalt: hex(out.relayToClient.masterSalt) },
      clientConfirmation: hex(out.clientConfirmation),
      serverConfirmation: hex(out.serverConfirmation),
    },
  };
});

const P_MINUS_1 = 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f';
const ORDER_8_A = 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800';
const ORDER_8_B = '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157';
const withTopBit = (text: string): string => text.slice(0, 62) + (parseInt(text.slice(62), 16) | 0x80).toString(16).padStart(2, '0');

const lowOrder = [
  { publicKey: '00'.repeat(32), note: 'u = 0: the point (0, 0) of order 2; also what the identity encodes to' },
  { publicKey: '01' + '00'.repeat(31), note: 'u = 1: order 4' },
  { publicKey: P_MINUS_1, note: 'u = p - 1: order 4' },
  { publicKey: ORDER_8_A, note: 'order 8' },
  { publicKey: ORDER_8_B, note: 'order 8' },
  { publicKey: 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', note: 'u = p, reduces to 0' },
  { publicKey: 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', note: 'u = p + 1, reduces to 1' },
];
const rejectedPeerPublicKeys = [
  ...lowOrder.map((entry) => ({ ...entry, reason: 'low-order-public-key' })),
  ...lowOrder.map((entry) => ({ publicKey: withTopBit(entry.publicKey), note: `${entry.note}, top bit set`, reason: 'low-order-public-key' })),
  { publicKey: 'efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', note: 'u = p + 2: not canonical (reduces to 2)', reason: 'non-canonical-public-key' },
  { publicKey: 'ff'.repeat(31) + '7f', note: 'u = 2^255 - 1: not canonical (reduces to 18)', reason: 'non-canonical-public-key' },
  { publicKey: withTopBit(RFC7748.bobPublic), note: "RFC 7748 §6.1 Bob's public key with the top bit set: same point, not canonical", reason: 'non-canonical-public-key' },
];

const fixture = {
  description:
    'Known-answer vectors for the Parley key schedule (docs/protocol.md §3). Generated by test/unit/keys/generate-vectors.ts with node:crypto only ' +
    '(OpenSSL X25519 via PKCS#8/SPKI DER KeyObjects, crypto.hkdfSync, HMAC-SHA256), independent of shared/keys; the key pairs of the first three vectors ' +
    'are those of RFC 7748 §6.1 and their shared secret matches the RFC. All byte strings are lowercase hex. Transcript public keys are derived from ' +
    'the private keys. rejectedPeerPublicKeys lists peer public keys every implementation MUST refuse, with the KeyScheduleError reason shared/keys gives.',
  hkdf: {
    hash: 'SHA-256',
    salt: 'SHA-256(encodedTranscript)',
    ikm: 'X25519 shared secret',
    info: {
      clientToRelayMasterKey: 'parley-v1 client-to-relay srtp master key',
      clientToRelayMasterSalt: 'parley-v1 client-to-relay srtp master salt',
      relayToClientMasterKey: 'parley-v1 relay-to-client srtp master key',
      relayToClientMasterSalt: 'parley-v1 relay-to-client srtp master salt',
      clientConfirmation: 'parley-v1 client key confirmation',
      serverConfirmation: 'parley-v1 server key confirmation',
    },
  },
  vectors,
  rejectedPeerPublicKeys,
};

const target = fileURLToPath(new URL('../../fixtures/key-schedule-vectors.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(fixture, null, 1)}\n`);
console.log(`wrote ${vectors.length} vectors and ${rejectedPeerPublicKeys.length} rejected keys to ${target}`);
