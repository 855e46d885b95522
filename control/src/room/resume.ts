/**
 * Resume tokens (docs/protocol.md §5.10): what proves that a new socket carries on a voice
 * session whose socket dropped. 32 random bytes, sent to the client in `voice_ready` (and a new
 * one after each resume); the room stores only their SHA-256, like refresh tokens, so its
 * storage never holds something a client could present. A token is good for one resume: each
 * resume replaces it.
 *
 * A resume also needs the access token of the same subject and login (checked by the room), so
 * a leaked resume token alone takes over nothing.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { constantTimeEqual } from '../../../shared/bytes.js';
import { decodeBase64Url, encodeBase64Url } from '../../../shared/relay-api/base64url.js';

export interface ResumeToken {
  /** Goes to the client. */
  readonly token: string;
  /** Stays in the room. */
  readonly hash: string;
}

export function newResumeToken(): ResumeToken {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return { token: encodeBase64Url(bytes), hash: encodeBase64Url(sha256(bytes)) };
}

/** Whether `token` is the one whose hash the room kept; constant time in the hash. */
export function resumeTokenMatches(token: string, storedHash: string): boolean {
  const bytes = decodeBase64Url(token);
  const expected = decodeBase64Url(storedHash);
  if (bytes === null || bytes.length !== 32 || expected === null) return false;
  return constantTimeEqual(sha256(bytes), expected);
}
