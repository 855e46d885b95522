/**
 * SRTP primitives on node:crypto (OpenSSL). OpenSSL's AES-GCM uses AES-NI and CLMUL, which
 * is why the relay runs on this backend.
 */
import { createCipheriv, createDecipheriv, createHmac, type CipherGCMTypes, type CipherKey } from 'node:crypto';
import type { AesCtrEngine, AesGcmEngine, HmacSha1Engine, SrtpCryptoBackend } from '../crypto-backend.js';

function aesVariant(key: Uint8Array, mode: 'gcm' | 'ctr'): string {
  switch (key.length) {
    case 16:
      return `aes-128-${mode}`;
    case 32:
      return `aes-256-${mode}`;
    default:
      throw new RangeError(`srtp backend: AES key must be 16 or 32 bytes, got ${key.length}`);
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

class NodeAesGcm implements AesGcmEngine {
  readonly #algorithm: CipherGCMTypes;
  readonly #key: Buffer;
  readonly #tagLength: number;

  constructor(key: Uint8Array, tagLength: number) {
    this.#algorithm = aesVariant(key, 'gcm') as CipherGCMTypes;
    this.#key = Buffer.from(key);
    this.#tagLength = tagLength;
  }

  seal(iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const cipher = createCipheriv(this.#algorithm, this.#key as CipherKey, iv, { authTagLength: this.#tagLength });
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    cipher.final();
    const tag = cipher.getAuthTag();
    const out = new Uint8Array(body.length + tag.length);
    out.set(body, 0);
    out.set(tag, body.length);
    return out;
  }

  open(iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null {
    const bodyLength = sealed.length - this.#tagLength;
    if (bodyLength < 0) return null;
    const decipher = createDecipheriv(this.#algorithm, this.#key as CipherKey, iv, { authTagLength: this.#tagLength });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(bodyLength));
    const body = decipher.update(sealed.subarray(0, bodyLength));
    try {
      decipher.final();
    } catch {
      // OpenSSL reports a tag mismatch by throwing; the caller counts it, so no detail is kept.
      body.fill(0);
      return null;
    }
    return body;
  }

  wipe(): void {
    this.#key.fill(0);
  }
}

class NodeAesCtr implements AesCtrEngine {
  readonly #algorithm: string;
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    this.#algorithm = aesVariant(key, 'ctr');
    this.#key = Buffer.from(key);
  }

  xor(iv: Uint8Array, input: Uint8Array): Uint8Array {
    const cipher = createCipheriv(this.#algorithm, this.#key as CipherKey, iv);
    return cipher.update(input);
  }

  wipe(): void {
    this.#key.fill(0);
  }
}

class NodeHmacSha1 implements HmacSha1Engine {
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    this.#key = Buffer.from(key);
  }

  mac(...parts: Uint8Array[]): Uint8Array {
    const hmac = createHmac('sha1', this.#key);
    for (const part of parts) hmac.update(asBuffer(part));
    return hmac.digest();
  }

  wipe(): void {
    this.#key.fill(0);
  }
}

export const nodeCryptoBackend: SrtpCryptoBackend = Object.freeze({
  name: 'node:crypto',
  createAesGcm: (key: Uint8Array, tagLength: number) => new NodeAesGcm(key, tagLength),
  createAesCtr: (key: Uint8Array) => new NodeAesCtr(key),
  createHmacSha1: (key: Uint8Array) => new NodeHmacSha1(key),
});
