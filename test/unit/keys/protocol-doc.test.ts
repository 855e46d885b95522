/** docs/protocol.md §3 is a spec others implement from: keep its labels and vectors equal to the code and fixture. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HKDF_INFO, KEY_SCHEDULE_LABEL, MAX_ID_BYTES } from '../../../shared/keys/index.js';
import fixture from '../../fixtures/key-schedule-vectors.json' with { type: 'json' };

const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
const docWithoutSpace = doc.replace(/\s+/g, '');

describe('docs/protocol.md', () => {
  it('quotes every HKDF info label and the transcript label', () => {
    for (const info of Object.values(HKDF_INFO)) expect(doc).toContain(`\`${info}\``);
    expect(doc).toContain(`\`${KEY_SCHEDULE_LABEL}\``);
    expect(doc).toContain(`at most **${MAX_ID_BYTES} bytes**`);
  });

  it.each(fixture.vectors)('quotes vector $id exactly', (vector) => {
    const e = vector.expected;
    for (const value of [
      vector.clientPrivateKey,
      vector.serverPrivateKey,
      e.encodedTranscript,
      e.transcriptHash,
      e.sharedSecret,
      e.prk,
      e.clientToRelay.masterKey,
      e.clientToRelay.masterSalt,
      e.relayToClient.masterKey,
      e.relayToClient.masterSalt,
      e.clientConfirmation,
      e.serverConfirmation,
    ]) {
      expect(docWithoutSpace).toContain(value);
    }
  });

  it('lists every public key that must be refused', () => {
    for (const { publicKey, reason } of fixture.rejectedPeerPublicKeys) {
      expect(doc).toContain(`| \`${publicKey}\` |`);
      expect(doc).toContain(reason);
    }
  });
});
