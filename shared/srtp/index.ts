/**
 * Parley's SRTP layer: RFC 3711 SRTP/SRTCP with the RFC 7714 AES-GCM profiles and
 * AES_CM_128_HMAC_SHA1_80. Pure: bytes in, bytes out. Pick a backend from ./backends/.
 */
export { SrtpContext, type SrtpContextOptions, type SrtpSessionKeyOptions } from './context.js';
export type { SrtpMasterKeys } from './master-keys.js';
export { SrtpError, isSrtpError, type SrtpErrorReason, type SrtpErrorDetails } from './errors.js';
export { SRTP_PROFILES, DEFAULT_SRTP_PROFILE, srtpProfile, isSrtpProfileName, type SrtpProfile, type SrtpProfileName } from './profiles.js';
export type { SrtpCryptoBackend, AesGcmEngine, AesCtrEngine, HmacSha1Engine } from './crypto-backend.js';
export { deriveSrtpSessionKeys, deriveSessionKey, KDF_LABEL, type SessionKeys, type SrtpSessionKeys } from './kdf.js';
export { ReplayWindow, DEFAULT_REPLAY_WINDOW, MIN_REPLAY_WINDOW, MAX_REPLAY_WINDOW, type ReplayVerdict } from './replay-window.js';
export { estimateSrtpIndex, MAX_SRTP_INDEX } from './roc.js';
export { KeyUsage, SRTP_SOFT_LIMIT, SRTP_HARD_LIMIT, SRTCP_SOFT_LIMIT, SRTCP_HARD_LIMIT, type KeyUsageCounts } from './key-usage.js';
export { parseRtpPacket, serializeRtpPacket, rtpHeaderLength, type RtpHeader, type ParsedRtpPacket, type RtpHeaderExtension } from './rtp-header.js';
export { isRtcpPacket } from './demux.js';
