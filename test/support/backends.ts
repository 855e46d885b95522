/** The SRTP backends every SRTP suite runs against: they must agree byte for byte. */
import { nodeCryptoBackend } from '../../shared/srtp/backends/node-crypto.js';
import { nobleBackend } from '../../shared/srtp/backends/noble.js';
import type { SrtpCryptoBackend } from '../../shared/srtp/crypto-backend.js';
import { loadNativeGcmBackend } from '../../relay/src/media/native-gcm-backend.js';

/**
 * The relay's native AES-GCM backend joins when it is built (`npm ci` builds it; its own test,
 * test/unit/relay/native-gcm-backend.test.ts, fails when it is not).
 */
const native = loadNativeGcmBackend();

export const BACKENDS: ReadonlyArray<readonly [string, SrtpCryptoBackend]> = [
  ['node:crypto', nodeCryptoBackend],
  ['noble', nobleBackend],
  ...(native ? [['native-gcm', native] as const] : []),
];
