/**
 * Key handling in the relay's native addon (relay/native/src/parley_keys.c): the relay's side of
 * opening sealed session keys (docs/protocol.md §8.4), AES-CTR for the SRTP key derivation, and
 * secret buffers that are cleansed when freed. Everything there lives in memory the addon owns and
 * cleanses on every path, where V8 would move small typed arrays about its heap and node:crypto
 * would free some buffers without zeroing them (relay/native/src/parley_keys.c says which).
 *
 * Optional at run time like the rest of the addon: `loadNativeKeys()` returns null (and never
 * throws) when it is not built or is stale, and `nativeKeysError` says why. The relay then opens
 * seals with the pure opener of shared/relay-api/sealed-keys.ts and derives keys with node:crypto,
 * with the same answers, more slowly, and without those guarantees about stray copies.
 */
import type { SealOpener, SealOpenOutcome } from '../../../shared/relay-api/sealed-keys.js';
import type { AesCtrEngine } from '../../../shared/srtp/crypto-backend.js';
import { requireNativeAddon } from './native-addon.js';

/** What parley_keys.c adds to the module. */
export interface NativeKeys {
  createSealOpener(privateKey: Uint8Array): NativeSealOpener;
  createAesCtr(key: Uint8Array): AesCtrEngine;
  /** A zero-filled ArrayBuffer of `length` bytes (1 .. 16 MiB), cleansed when it is freed (GC or thread exit). */
  createSecretBuffer(length: number): ArrayBuffer;
}

interface NativeSealOpener {
  readonly publicKey: Uint8Array;
  /** 0 opened, 1 does not authenticate (out cleansed), 2 all-zero shared secret. */
  openInto(encodedContext: Uint8Array, epk: Uint8Array, ct: Uint8Array, out: Uint8Array): number;
  close(): void;
}

/** Why the last `loadNativeKeys()` returned null; null when it loaded (or was never asked). */
export let nativeKeysError: string | null = null;

let loaded: NativeKeys | null | undefined;

export function loadNativeKeys(): NativeKeys | null {
  if (loaded !== undefined) return loaded;
  try {
    const addon = requireNativeAddon('native-keys') as Partial<Record<keyof NativeKeys, unknown>>;
    const { createSealOpener, createAesCtr, createSecretBuffer } = addon;
    if (typeof createSealOpener !== 'function' || typeof createAesCtr !== 'function' || typeof createSecretBuffer !== 'function') {
      throw new Error('native-keys: the addon lacks the key functions; run `npm run build:native`');
    }
    loaded = Object.freeze({ createSealOpener, createAesCtr, createSecretBuffer }) as NativeKeys;
    nativeKeysError = null;
  } catch (error) {
    loaded = null;
    nativeKeysError = error instanceof Error ? error.message : String(error);
  }
  return loaded;
}

const OUTCOMES: readonly SealOpenOutcome[] = ['opened', 'authentication-failed', 'zero-shared-secret'];

/**
 * A SealOpener over OpenSSL (X25519, HKDF by HMAC-SHA256, AES-256-GCM) holding its own copy of
 * the private key inside OpenSSL, or null without the addon. The caller may wipe its own copy.
 */
export function createNativeSealOpener(relayPrivateKey: Uint8Array): SealOpener | null {
  const native = loadNativeKeys();
  if (native === null) return null;
  const opener = native.createSealOpener(relayPrivateKey);
  return {
    name: 'native',
    publicKey: opener.publicKey,
    openInto(encodedContext, epk, ct, out) {
      const outcome = OUTCOMES[opener.openInto(encodedContext, epk, ct, out)];
      if (outcome === undefined) throw new Error('native-keys: unexpected answer from openInto');
      return outcome;
    },
    close: () => opener.close(),
  };
}
