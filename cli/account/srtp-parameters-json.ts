/**
 * The JSON `parley join --export-keys` prints: what one key exchange negotiated (docs/protocol.md
 * §3.4, §5.5), in the spellings standard SRTP tools take, for debugging a capture.
 *
 *   - `profile.iana`: the profile's registered name (RFC 5764 §4.1.2, RFC 7714 §14.2), as
 *     libsrtp's `srtp_crypto_policy_set_from_profile_for_rtp` and Wireshark's SRTP settings name it;
 *   - each direction's master key and salt in hex, and `keyAndSalt`: key ‖ salt in base64, the
 *     SDES `inline:` form (RFC 4568 §6.1) and GStreamer srtpdec's `srtp-key` caps field;
 *   - the SSRC this client sends with, and the relay's UDP endpoint both directions use.
 *
 * The relay re-protects what it forwards with `relayToClient` under each speaker's own SSRC, so
 * one key opens every stream arriving at this client (§6.4).
 */
import type { ExportedSrtpParameters } from '../../packages/client/src/index.js';
import type { SrtpMasterKeys } from '../../shared/srtp/master-keys.js';
import { SRTP_PROFILES } from '../../shared/srtp/profiles.js';

export interface SrtpDirectionJson {
  readonly masterKey: string;
  readonly masterSalt: string;
  readonly keyAndSalt: string;
}

export interface SrtpParametersJson {
  readonly purpose: 'join' | 'rotate' | 'move';
  readonly profile: { readonly name: string; readonly iana: string; readonly keyBytes: number; readonly saltBytes: number; readonly tagBytes: number };
  readonly ssrc: number;
  readonly ssrcHex: string;
  readonly relay: { readonly id: string; readonly host: string; readonly port: number };
  readonly sessionId: string;
  readonly clientToRelay: SrtpDirectionJson;
  readonly relayToClient: SrtpDirectionJson;
  readonly keysExpireAt: string;
}

function direction(keys: SrtpMasterKeys): SrtpDirectionJson {
  return {
    masterKey: Buffer.from(keys.masterKey).toString('hex'),
    masterSalt: Buffer.from(keys.masterSalt).toString('hex'),
    keyAndSalt: Buffer.concat([keys.masterKey, keys.masterSalt]).toString('base64'),
  };
}

export function srtpParametersJson(parameters: ExportedSrtpParameters, purpose: SrtpParametersJson['purpose']): SrtpParametersJson {
  const profile = SRTP_PROFILES[parameters.profile];
  return {
    purpose,
    profile: { name: profile.name, iana: profile.ianaName, keyBytes: profile.keyLength, saltBytes: profile.saltLength, tagBytes: profile.srtpTagLength },
    ssrc: parameters.ssrc,
    ssrcHex: `0x${parameters.ssrc.toString(16).padStart(8, '0')}`,
    relay: { id: parameters.relayId, host: parameters.udpEndpoint.host, port: parameters.udpEndpoint.port },
    sessionId: parameters.sessionId,
    clientToRelay: direction(parameters.clientToRelay),
    relayToClient: direction(parameters.relayToClient),
    keysExpireAt: new Date(parameters.keysExpireAt).toISOString(),
  };
}
