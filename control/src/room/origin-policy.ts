/**
 * Which browser pages may open a voice socket (docs/protocol.md §5.2). Browsers send `Origin`
 * on every WebSocket handshake (RFC 6455 §4.1, §10.2) and let any page connect anywhere, so a
 * page on a foreign site could otherwise ride a user's token it got hold of; the allowlist
 * limits voice to the deployment's own apps. A request without Origin is a native client,
 * which no web page can impersonate, and the token authenticates it.
 *
 * Development and tests also allow any http(s)://localhost or 127.0.0.1 origin, on any port.
 * Pure.
 */
import type { VoiceConfig } from '../config.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export function isOriginAllowed(origin: string | undefined, policy: Pick<VoiceConfig, 'allowedOrigins' | 'allowLoopbackOrigins'>): boolean {
  if (origin === undefined) return true;
  if (policy.allowedOrigins.has(origin)) return true;
  if (!policy.allowLoopbackOrigins) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOSTS.has(url.hostname) && url.origin === origin;
}
