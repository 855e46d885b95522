/** The SRTP backends every SRTP suite runs against: they must agree byte for byte. */
import { nodeCryptoBackend } from '../../shared/srtp/backends/node-crypto.js';
import { nobleBackend } from '../../shared/srtp/backends/noble.js';
import type { SrtpCryptoBackend } from '../../shared/srtp/crypto-backend.js';

export const BACKENDS: ReadonlyArray<readonly [string, SrtpCryptoBackend]> = [
  ['node:crypto', nodeCryptoBackend],
  ['noble', nobleBackend],
];
