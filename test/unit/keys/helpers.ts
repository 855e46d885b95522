/** Shared test inputs for the key-schedule suites. */
import { generateEphemeralKeyPair, type EphemeralKeyPair, type SessionTranscript } from '../../../shared/keys/index.js';

/** Hex to bytes, ignoring white space (fixtures and RFC text wrap lines). */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) throw new Error(`bad hex: ${text.slice(0, 16)}`);
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export interface Handshake {
  client: EphemeralKeyPair;
  server: EphemeralKeyPair;
  transcript: SessionTranscript;
}

export function makeHandshake(overrides: Partial<SessionTranscript> = {}): Handshake {
  const client = generateEphemeralKeyPair();
  const server = generateEphemeralKeyPair();
  return {
    client,
    server,
    transcript: {
      protocolVersion: 1,
      sessionId: 'ses_test',
      userId: 'usr_test',
      channelId: 'chn_test',
      relayId: 'relay-test',
      ssrc: 0xcafef00d,
      profile: 'aes128gcm',
      clientPublicKey: client.publicKey,
      serverPublicKey: server.publicKey,
      ...overrides,
    },
  };
}
