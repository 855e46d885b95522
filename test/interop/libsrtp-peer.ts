/**
 * Typed client for the compiled libsrtp-peer (see libsrtp-peer.c): packets in, per-packet
 * results out, in order.
 */
import type { SrtpMasterKeys } from '../../shared/srtp/master-keys.js';
import { runLineProcess } from './line-process.js';

export type LibsrtpDirection = 'protect' | 'unprotect';

/** Parley's profiles, plus AES_256_CM_HMAC_SHA1_80 for libsrtp's own known-answer packet. */
export type LibsrtpProfile = 'aes128gcm' | 'aes256gcm' | 'aescm128sha80' | 'aescm256sha80';

export type LibsrtpResult =
  | { readonly ok: true; readonly packet: Uint8Array }
  | { readonly ok: false; readonly error: string };

/** srtp_err_status_t values (srtp2/srtp.h) that these tests meet, for readable failures. */
export const SRTP_ERR_STATUS: Readonly<Record<string, string>> = {
  '1': 'fail',
  '2': 'bad_param',
  '7': 'auth_fail',
  '8': 'cipher_fail',
  '9': 'replay_fail',
  '10': 'replay_old',
  '13': 'no_ctx',
  '15': 'key_expired',
  '21': 'parse_err',
};

export interface LibsrtpSession extends SrtpMasterKeys {
  readonly direction: LibsrtpDirection;
  readonly profile: LibsrtpProfile;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

function* hexLines(packets: Iterable<Uint8Array>): Generator<string> {
  for (const packet of packets) yield hex(packet);
}

/**
 * Runs every packet through one libsrtp session (so ROC, SRTCP index and replay state carry
 * over from packet to packet) and returns one result per packet.
 */
export async function runLibsrtpPeer(
  peerPath: string,
  session: LibsrtpSession,
  packets: readonly Uint8Array[],
): Promise<LibsrtpResult[]> {
  const args = [session.direction, session.profile, hex(session.masterKey), hex(session.masterSalt)];
  const result = await runLineProcess(peerPath, args, hexLines(packets));
  if (result.code !== 0) {
    throw new Error(`libsrtp-peer exited with ${result.code ?? result.signal}: ${result.stderr.trim()}`);
  }
  if (result.lines.length !== packets.length) {
    throw new Error(`libsrtp-peer answered ${result.lines.length} lines for ${packets.length} packets`);
  }
  return result.lines.map(function parsePeerLine(line): LibsrtpResult {
    if (line.startsWith('OK ')) return { ok: true, packet: new Uint8Array(Buffer.from(line.slice(3), 'hex')) };
    const code = line.startsWith('ERR ') ? line.slice(4) : line;
    return { ok: false, error: SRTP_ERR_STATUS[code] ?? code };
  });
}
