/**
 * The relay's fastest SRTP backend: AES-GCM in a native addon (relay/native, plain N-API over
 * the OpenSSL inside the node binary), AES-CTR (the key derivation's PRF) in the addon too, so that
 * a master key's OpenSSL context is freed and cleansed as soon as the derivation is done rather
 * than when a GC collects a node:crypto cipher (relay/native/src/parley_keys.c), and HMAC-SHA1
 * from node:crypto.
 *
 * Why: node:crypto builds a fresh OpenSSL cipher for each packet, about 8 µs a seal. The addon
 * keys one EVP_CIPHER_CTX per engine and seals or opens in one native call that only re-IVs it
 * (see relay/native/src/parley_gcm.c and bench/native-gcm.bench.ts).
 *
 * The addon is optional at run time: `loadNativeGcmBackend()` returns null (and never throws)
 * when it is not built or does not load, and `nativeGcmBackendError` says why, so the relay can
 * log it and fall back to `nodeCryptoBackend`. Build it with `npm run build:native`.
 *
 * Engines are single-threaded, like the relay's UDP loop: one engine must not be used from two
 * threads (it cannot be: N-API functions belong to the JS thread that created them).
 */
import { nodeCryptoBackend } from '../../../shared/srtp/backends/node-crypto.js';
import type { AesGcmEngine, SrtpCryptoBackend } from '../../../shared/srtp/crypto-backend.js';
import { BUILD_HINT, requireNativeAddon } from '../io/native-addon.js';
import { loadNativeKeys } from '../io/native-keys.js';

/** An AES-GCM engine of the native backend: the interface's methods, the optional ones included. */
export interface NativeAesGcmEngine extends AesGcmEngine {
  /**
   * Like `seal`, but writes ciphertext ‖ tag into `out` at `outOffset` instead of allocating,
   * and returns the number of bytes written (plaintext.length + 16). The output may start
   * exactly at the plaintext (in place); any other overlap is a RangeError, as is an `out`
   * too short. About three times the rate of `seal` for a voice packet: the allocation of the
   * result is most of a seal's cost.
   */
  sealInto(iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, outOffset: number): number;
  /** See AesGcmEngine: the relay seals each listener's copy of a packet with this. Overlap is a RangeError. */
  sealPacketInto(iv: Uint8Array, packet: Uint8Array, aadLength: number, out: Uint8Array, outOffset: number): number;
  /** See AesGcmEngine: the relay opens each incoming packet into one reused buffer with this. */
  openPacketInto(iv: Uint8Array, packet: Uint8Array, aadLength: number, out: Uint8Array, outOffset: number): number;
  /** This engine's number for sealRtpFanout's Uint32Array form (relay/native/src/parley_gcm.c, "Engine handles"). */
  readonly handle: number;
}

/** The SRTP backend with native AES-GCM engines. */
export interface NativeGcmBackend extends SrtpCryptoBackend {
  createAesGcm(key: Uint8Array, tagLength: number, rtpSalt?: Uint8Array): NativeAesGcmEngine;
  sealRtpFanout(engines: readonly AesGcmEngine[] | Uint32Array, ivs: Uint8Array, seqs: Uint16Array, count: number, packet: Uint8Array, aadLength: number, out: Uint8Array, outOffset: number): number;
  sealRtpFanoutIndexed(handles: Uint32Array, ssrc: number, indices: Float64Array, count: number, packet: Uint8Array, aadLength: number, out: Uint8Array, outOffset: number): number;
  openRtpIndexed(handle: number, ssrc: number, index: number, packet: Uint8Array, aadLength: number, out: Uint8Array, outOffset: number): number;
  /** The OpenSSL the addon runs on: the node binary's own. */
  readonly opensslVersion: string;
}

/** What relay/native/src/parley_gcm.c exports. */
interface NativeGcmAddon {
  readonly abiVersion: number;
  readonly opensslVersion: string;
  createAesGcm(key: Uint8Array, tagLength: number, rtpSalt?: Uint8Array): NativeAesGcmEngine;
  /** relay/native/src/parley_gcm.c's sealFanout; see SrtpCryptoBackend.sealRtpFanout. */
  sealFanout(engines: readonly AesGcmEngine[] | Uint32Array, ivs: Uint8Array, seqs: Uint16Array, count: number, packet: Uint8Array, aadLength: number, out: Uint8Array, outOffset: number): number;
  /** parley_gcm.c's sealFanoutIndexed; see SrtpCryptoBackend.sealRtpFanoutIndexed. */
  sealFanoutIndexed(handles: Uint32Array, ssrc: number, indices: Float64Array, count: number, packet: Uint8Array, aadLength: number, out: Uint8Array, outOffset: number): number;
  /** parley_gcm.c's openRtpIndexed; see SrtpCryptoBackend.openRtpIndexed. */
  openRtpIndexed(handle: number, ssrc: number, index: number, packet: Uint8Array, aadLength: number, out: Uint8Array, outOffset: number): number;
}

/** Why the last `loadNativeGcmBackend()` returned null; null when it loaded (or was never asked). */
export let nativeGcmBackendError: string | null = null;

let loaded: NativeGcmBackend | null | undefined;

/**
 * The native backend, or null when the addon cannot be loaded (see `nativeGcmBackendError`).
 * Loads once; later calls return the same answer.
 */
export function loadNativeGcmBackend(): NativeGcmBackend | null {
  if (loaded !== undefined) return loaded;
  try {
    loaded = backendOf(requireAddon());
    nativeGcmBackendError = null;
  } catch (error) {
    loaded = null;
    nativeGcmBackendError = error instanceof Error ? error.message : String(error);
  }
  return loaded;
}

function requireAddon(): NativeGcmAddon {
  const addon = requireNativeAddon('native-gcm');
  if (!isAddon(addon)) throw new Error(`native-gcm: the addon lacks the AES-GCM engines; ${BUILD_HINT}`);
  return addon;
}

function isAddon(value: unknown): value is NativeGcmAddon {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Record<keyof NativeGcmAddon, unknown>>;
  return (
    typeof candidate.abiVersion === 'number' &&
    typeof candidate.opensslVersion === 'string' &&
    typeof candidate.createAesGcm === 'function' &&
    typeof candidate.sealFanout === 'function' &&
    typeof candidate.sealFanoutIndexed === 'function' &&
    typeof candidate.openRtpIndexed === 'function'
  );
}

function backendOf(addon: NativeGcmAddon): NativeGcmBackend {
  return Object.freeze({
    name: 'native-gcm',
    opensslVersion: addon.opensslVersion,
    // The addon's own function: no JS frame between the SRTP transform and the native call.
    createAesGcm: addon.createAesGcm,
    // One native call seals a forwarded packet for every listener (datagram-router.ts).
    sealRtpFanout: addon.sealFanout,
    // The same, with each listener's IV built natively from its engine's salt (no JS IV per listener).
    sealRtpFanoutIndexed: addon.sealFanoutIndexed,
    // Each incoming packet opened by its engine's handle, the IV built natively from its salt.
    openRtpIndexed: addon.openRtpIndexed,
    createAesCtr: loadNativeKeys()?.createAesCtr ?? nodeCryptoBackend.createAesCtr,
    createHmacSha1: nodeCryptoBackend.createHmacSha1,
  });
}
