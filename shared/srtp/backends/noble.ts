/**
 * SRTP primitives on @noble/ciphers and @noble/hashes: pure TypeScript, audited, and usable
 * where node:crypto is not (browsers, workerd without nodejs_compat). About five times slower
 * than OpenSSL, so the relay does not use it.
 */
import { ctr, gcm } from '@noble/ciphers/aes.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha1 } from '@noble/hashes/legacy.js';
import type { AesCtrEngine, AesGcmEngine, HmacSha1Engine, SrtpCryptoBackend } from '../crypto-backend.js';

function checkAesKey(key: Uint8Array): void {
  if (key.length !== 16 && key.length !== 32) {
    throw new RangeError(`srtp backend: AES key must be 16 or 32 bytes, got ${key.length}`);
  }
}

class NobleAesGcm implements AesGcmEngine {
  readonly #key: Uint8Array;

  constructor(key: Uint8Array, tagLength: number) {
    checkAesKey(key);
    // noble's gcm has a fixed 16-byte tag, which is the only length SRTP's GCM profiles use.
    if (tagLength !== 16) throw new RangeError('srtp backend: noble AES-GCM supports only 16-byte tags');
    this.#key = Uint8Array.from(key);
  }

  seal(iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    return gcm(this.#key, iv, aad).encrypt(plaintext);
  }

  open(iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null {
    if (sealed.length < 16) return null;
    try {
      return gcm(this.#key, iv, aad).decrypt(sealed);
    } catch {
      return null; // tag mismatch
    }
  }

  wipe(): void {
    this.#key.fill(0);
  }
}

class NobleAesCtr implements AesCtrEngine {
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    checkAesKey(key);
    this.#key = Uint8Array.from(key);
  }

  xor(iv: Uint8Array, input: Uint8Array): Uint8Array {
    return ctr(this.#key, iv).encrypt(input);
  }

  wipe(): void {
    this.#key.fill(0);
  }
}

class NobleHmacSha1 implements HmacSha1Engine {
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    this.#key = Uint8Array.from(key);
  }

  mac(...parts: Uint8Array[]): Uint8Array {
    const state = hmac.create(sha1, this.#key);
    for (const part of parts) state.update(part);
    return state.digest();
  }

  wipe(): void {
    this.#key.fill(0);
  }
}

export const nobleBackend: SrtpCryptoBackend = Object.freeze({
  name: '@noble/ciphers',
  createAesGcm: (key: Uint8Array, tagLength: number) => new NobleAesGcm(key, tagLength),
  createAesCtr: (key: Uint8Array) => new NobleAesCtr(key),
  createHmacSha1: (key: Uint8Array) => new NobleHmacSha1(key),
});
