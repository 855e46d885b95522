/**
 * SRTP protection profiles Parley speaks.
 *
 * - AEAD_AES_128_GCM / AEAD_AES_256_GCM: RFC 7714 §12 (16-byte tag, 12-byte master salt).
 * - AES_CM_128_HMAC_SHA1_80: RFC 3711 §5 / RFC 4568 §6.2.1 (10-byte tag, 14-byte master salt),
 *   kept for legacy peers.
 *
 * The short names ('aes128gcm', …) are what Parley's protocol messages, config and CLI use.
 */
export type SrtpProfileName = 'aes128gcm' | 'aes256gcm' | 'aescm128sha80';

export interface SrtpProfile {
  readonly name: SrtpProfileName;
  /** Name as registered for DTLS-SRTP (RFC 5764 §4.1.2, RFC 7714 §14.2). */
  readonly ianaName: string;
  readonly aead: boolean;
  /** Master key and session encryption key length, bytes. */
  readonly keyLength: number;
  /** Master salt length, bytes (RFC 7714 §12: 12 for GCM; RFC 3711: 14 for AES-CM). */
  readonly saltLength: number;
  /** Session authentication key length, bytes (HMAC-SHA1 key; 0 for AEAD). */
  readonly authKeyLength: number;
  /** Authentication tag length appended to SRTP packets, bytes. */
  readonly srtpTagLength: number;
  /** Authentication tag length appended to SRTCP packets, bytes. */
  readonly srtcpTagLength: number;
}

export const SRTP_PROFILES: Readonly<Record<SrtpProfileName, SrtpProfile>> = Object.freeze({
  aes128gcm: Object.freeze({
    name: 'aes128gcm',
    ianaName: 'SRTP_AEAD_AES_128_GCM',
    aead: true,
    keyLength: 16,
    saltLength: 12,
    authKeyLength: 0,
    srtpTagLength: 16,
    srtcpTagLength: 16,
  }),
  aes256gcm: Object.freeze({
    name: 'aes256gcm',
    ianaName: 'SRTP_AEAD_AES_256_GCM',
    aead: true,
    keyLength: 32,
    saltLength: 12,
    authKeyLength: 0,
    srtpTagLength: 16,
    srtcpTagLength: 16,
  }),
  aescm128sha80: Object.freeze({
    name: 'aescm128sha80',
    ianaName: 'SRTP_AES128_CM_HMAC_SHA1_80',
    aead: false,
    keyLength: 16,
    saltLength: 14,
    authKeyLength: 20,
    srtpTagLength: 10,
    srtcpTagLength: 10,
  }),
});

export const DEFAULT_SRTP_PROFILE: SrtpProfileName = 'aes128gcm';

export function isSrtpProfileName(value: unknown): value is SrtpProfileName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(SRTP_PROFILES, value);
}

/** Looks a profile up by its short name; a name Parley does not speak is a RangeError. */
export function srtpProfile(name: string): SrtpProfile {
  if (!isSrtpProfileName(name)) {
    throw new RangeError(`srtp: unknown profile '${String(name).slice(0, 32)}' (expected one of ${Object.keys(SRTP_PROFILES).join(', ')})`);
  }
  return SRTP_PROFILES[name];
}
