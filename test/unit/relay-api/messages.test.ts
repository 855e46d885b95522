import { describe, expect, it } from 'vitest';
import {
  MAX_RELAY_UDP_ENDPOINTS,
  MAX_RELAY_API_URL_LENGTH,
  MAX_REPORTED_SESSIONS,
  parseInstallSession,
  parseInstallSessionResponse,
  parseJsonBody,
  parseRelayRegistration,
  parseRevokeSession,
  parseRotateSession,
  parseUpdateSession,
} from '../../../shared/relay-api/messages.js';
import { installBody } from './helpers.js';

const NOW = 1_760_000_000_000;
const { body: INSTALL } = installBody('ses-1', 1234, NOW);
const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

function detailOf(result: { ok: boolean; detail?: string }): string {
  expect(result.ok).toBe(false);
  return result.detail!;
}

describe('parseInstallSession', () => {
  it('accepts a well-formed install and returns a clean copy', () => {
    const result = parseInstallSession(JSON.parse(JSON.stringify(INSTALL)));
    expect(result).toEqual({ ok: true, value: INSTALL });
  });

  it.each([
    ['an unknown top-level field', { extra: 1 }, "unknown field 'extra'"],
    ['an empty session id', { sessionId: '' }, 'sessionId must be'],
    ['a 129-character user id', { userId: 'u'.repeat(129) }, 'userId must be'],
    ['a channel id with a space', { channelId: 'a b' }, 'channelId must be'],
    ['a channel id with a newline', { channelId: 'a\nb' }, 'channelId must be'],
    ['a non-ASCII session id', { sessionId: 'sés' }, 'sessionId must be'],
    ['a numeric session id', { sessionId: 7 }, 'sessionId must be'],
    ['a negative SSRC', { ssrc: -1 }, 'ssrc must be'],
    ['an SSRC of 2^32', { ssrc: 2 ** 32 }, 'ssrc must be'],
    ['a fractional SSRC', { ssrc: 1.5 }, 'ssrc must be'],
    ['an SSRC string', { ssrc: '1234' }, 'ssrc must be'],
    ['an unknown profile', { profile: 'aes192gcm' }, 'profile must be'],
    ['a fractional expiry', { expiresAt: NOW + 0.5 }, 'expiresAt must be'],
    ['an expiry string', { expiresAt: String(NOW) }, 'expiresAt must be'],
    ['a missing permission', { permissions: { canSpeak: true, canListen: true, muted: false } }, 'permissions.deafened must be'],
    ['an extra permission', { permissions: { ...INSTALL.permissions, admin: true } }, "permissions has an unknown field 'admin'"],
    ['a permission as a string', { permissions: { ...INSTALL.permissions, muted: 'false' } }, 'permissions.muted must be'],
    ['sealed keys of version 1 (before the boot id)', { sealedKeys: { ...INSTALL.sealedKeys, v: 1 } }, 'sealedKeys.v must be 2'],
    ['sealed keys with an extra field', { sealedKeys: { ...INSTALL.sealedKeys, iv: 'x' } }, "sealedKeys has an unknown field 'iv'"],
    ['a short epk', { sealedKeys: { ...INSTALL.sealedKeys, epk: 'AAAA' } }, 'sealedKeys.epk must be'],
    ['a huge ct', { sealedKeys: { ...INSTALL.sealedKeys, ct: 'A'.repeat(1000) } }, 'sealedKeys.ct must be'],
  ])('refuses %s', (_name, change, detail) => {
    expect(detailOf(parseInstallSession({ ...INSTALL, ...change }))).toContain(detail);
  });

  it('does not echo an unknown field name that is not a plain identifier', () => {
    const secretish = 'pasted-token\nabcdef0123456789-and-more-text';
    const detail = detailOf(parseInstallSession({ ...INSTALL, [secretish]: 1 }));
    expect(detail).toBe('body has an unknown field');
  });

  it('never echoes values', () => {
    const marker = 'SECRET-MARKER-123';
    for (const change of [{ sessionId: `${marker} x` }, { profile: marker }, { sealedKeys: { ...INSTALL.sealedKeys, ct: `${marker}!` } }]) {
      expect(detailOf(parseInstallSession({ ...INSTALL, ...change }))).not.toContain(marker);
    }
  });

  it.each([null, [], 'install', 42])('refuses a non-object body %j', (value) => {
    expect(detailOf(parseInstallSession(value))).toBe('body must be a JSON object');
  });

  it('accepts every visible ASCII character in ids, up to 128', () => {
    let visible = '';
    for (let c = 0x21; c <= 0x7e; c++) visible += String.fromCharCode(c);
    expect(parseInstallSession({ ...INSTALL, userId: visible, channelId: 'c'.repeat(128) }).ok).toBe(true);
  });
});

describe('parseUpdateSession', () => {
  it('accepts any non-empty subset', () => {
    expect(parseUpdateSession({ muted: true })).toEqual({ ok: true, value: { muted: true } });
    expect(parseUpdateSession({ canSpeak: false, canListen: true, deafened: true, expiresAt: NOW })).toEqual({
      ok: true,
      value: { canSpeak: false, canListen: true, deafened: true, expiresAt: NOW },
    });
  });

  it.each([
    ['an empty patch', {}, 'at least one field'],
    ['an unknown field', { userId: 'u' }, "unknown field 'userId'"],
    ['a null permission', { muted: null }, 'muted must be'],
    ['a fractional expiry', { expiresAt: 1.5 }, 'expiresAt must be'],
  ])('refuses %s', (_name, value, detail) => {
    expect(detailOf(parseUpdateSession(value))).toContain(detail);
  });
});

describe('parseRotateSession', () => {
  it('accepts an SSRC and sealed keys', () => {
    expect(parseRotateSession({ ssrc: 0xffffffff, sealedKeys: INSTALL.sealedKeys })).toEqual({
      ok: true,
      value: { ssrc: 0xffffffff, sealedKeys: INSTALL.sealedKeys },
    });
  });

  it.each([
    ['a missing SSRC', { sealedKeys: INSTALL.sealedKeys }, 'ssrc must be'],
    ['missing sealed keys', { ssrc: 1 }, 'sealedKeys must be a JSON object'],
    ['a profile change', { ssrc: 1, sealedKeys: INSTALL.sealedKeys, profile: 'aes256gcm' }, "unknown field 'profile'"],
  ])('refuses %s', (_name, value, detail) => {
    expect(detailOf(parseRotateSession(value))).toContain(detail);
  });
});

describe('parseRevokeSession', () => {
  it('accepts an empty body or {}', () => {
    expect(parseRevokeSession(new Uint8Array(0)).ok).toBe(true);
    expect(parseRevokeSession(encode({})).ok).toBe(true);
  });

  it('refuses anything else', () => {
    expect(detailOf(parseRevokeSession(encode({ reason: 'kick' })))).toContain('unknown field');
    expect(detailOf(parseRevokeSession(encode([])))).toBe('body must be a JSON object');
    expect(detailOf(parseRevokeSession(new TextEncoder().encode('nope')))).toBe('body is not valid JSON');
  });
});

describe('parseJsonBody', () => {
  it('refuses invalid UTF-8 and invalid JSON without quoting them', () => {
    expect(detailOf(parseJsonBody(Uint8Array.of(0x7b, 0xff, 0x7d)))).toBe('body is not valid UTF-8');
    expect(detailOf(parseJsonBody(new TextEncoder().encode('{"secret": "abc"')))).toBe('body is not valid JSON');
  });
});

describe('parseRelayRegistration', () => {
  const registration = {
    relayId: 'relay-fra-1',
    bootId: 'AAECAwQFBgcICQoLDA0ODw',
    region: 'fra',
    apiUrl: 'https://relay-fra-1.example.com/',
    udpEndpoint: { host: '203.0.113.7', port: 3478 },
    udpEndpoints: [
      { host: '203.0.113.7', port: 3478 },
      { host: '203.0.113.7', port: 3479 },
    ],
    publicKey: 'c7SvoXfeDSXu1YwK53YGPBpunGXhliNAkbUapVtyBRA',
    load: { sessions: 3, channels: 1 },
    draining: false,
    rekeyRequested: ['ses-7'],
    lostSessions: ['ses-8', 'ses-9'],
  };

  it('accepts a registration', () => {
    expect(parseRelayRegistration(registration)).toEqual({ ok: true, value: registration });
  });

  it('accepts an http:// API URL with a path (the control plane decides whether https:// is required)', () => {
    const value = { ...registration, apiUrl: 'http://127.0.0.1:7400/relay/' };
    expect(parseRelayRegistration(value)).toEqual({ ok: true, value });
  });

  it('never quotes the API URL it refuses', () => {
    const detail = detailOf(parseRelayRegistration({ ...registration, apiUrl: 'https://user:hunter2@relay.example/' }));
    expect(detail).not.toContain('hunter2');
  });

  it.each([
    ['port 0', { udpEndpoint: { host: 'relay.example', port: 0 } }, 'udpEndpoint.port'],
    ['a host with a slash', { udpEndpoint: { host: 'a/b', port: 1 } }, 'udpEndpoint.host'],
    ['no worker endpoints', { udpEndpoints: [] }, 'udpEndpoints must be an array'],
    ['too many worker endpoints', { udpEndpoints: Array.from({ length: MAX_RELAY_UDP_ENDPOINTS + 1 }, () => ({ host: 'h', port: 1 })) }, 'udpEndpoints must be'],
    ['a bad worker endpoint', { udpEndpoints: [{ host: '203.0.113.7', port: 3478 }, { host: 'h', port: 70000 }] }, 'udpEndpoints[1].port'],
    ['udpEndpoint other than the first worker', { udpEndpoint: { host: '203.0.113.7', port: 3479 } }, 'udpEndpoint must equal udpEndpoints[0]'],
    ['a short public key', { publicKey: 'AAAA' }, 'publicKey must be'],
    ['negative load', { load: { sessions: -1, channels: 0 } }, 'load.sessions'],
    ['no boot id', { bootId: undefined }, 'bootId must be 22 base64url characters'],
    ['no rekeyRequested', { rekeyRequested: undefined }, 'rekeyRequested must be an array'],
    ['a lost session that is not an id', { lostSessions: ['ok', 'has space'] }, 'lostSessions[1] must be a string'],
    ['too many lost sessions', { lostSessions: Array.from({ length: MAX_REPORTED_SESSIONS + 1 }, (_, i) => `s${i}`) }, 'lostSessions must be an array of at most'],
    ['a boot id of the wrong length', { bootId: 'AAECAwQFBgcICQoLDA0O' }, 'bootId must be'],
    ['a boot id with unused bits set', { bootId: 'AAECAwQFBgcICQoLDA0ODx' }, 'bootId must be'],
    ['no API URL', { apiUrl: undefined }, 'apiUrl must be an absolute http(s) URL'],
    ['a relative API URL', { apiUrl: '/v1' }, 'apiUrl must be an absolute http(s) URL'],
    ['an API URL of another scheme', { apiUrl: 'ftp://relay.example/' }, 'apiUrl must be an http:// or https:// URL'],
    ['an API URL with credentials', { apiUrl: 'https://user:pass@relay.example/' }, 'apiUrl must not carry credentials'],
    ['an API URL with a query', { apiUrl: 'https://relay.example/?a=1' }, 'apiUrl must not have a query or a fragment'],
    ['an API URL with an empty query', { apiUrl: 'https://relay.example/?' }, 'apiUrl must not have a query or a fragment'],
    ['an API URL with a fragment', { apiUrl: 'https://relay.example/#x' }, 'apiUrl must not have a query or a fragment'],
    ['an API URL with a space', { apiUrl: 'https://relay.example/a b' }, 'apiUrl must be an absolute http(s) URL'],
    ['an API URL too long', { apiUrl: `https://relay.example/${'a'.repeat(MAX_RELAY_API_URL_LENGTH)}` }, 'apiUrl must be'],
    ['an unknown field', { secret: 'x' }, "unknown field 'secret'"],
  ])('refuses %s', (_name, change, detail) => {
    expect(detailOf(parseRelayRegistration({ ...registration, ...change }))).toContain(detail);
  });
});

describe('parseInstallSessionResponse', () => {
  const answer = { sessionId: 'ses-1', ssrc: 1234, udpPort: 40001, udpEndpoint: { host: '203.0.113.7', port: 40001 } };

  it('accepts an install answer', () => {
    expect(parseInstallSessionResponse(answer)).toEqual({ ok: true, value: answer });
  });

  it.each([
    ['no port', { udpPort: undefined }, 'udpPort'],
    ['port 0', { udpPort: 0 }, 'udpPort'],
    ['no endpoint', { udpEndpoint: undefined }, 'udpEndpoint must be a JSON object'],
    ['an endpoint with a bad host', { udpEndpoint: { host: 'a b', port: 1 } }, 'udpEndpoint.host'],
    ['an unknown field', { extra: 1 }, "unknown field 'extra'"],
  ])('refuses %s', (_name, change, detail) => {
    expect(detailOf(parseInstallSessionResponse({ ...answer, ...change }))).toContain(detail);
  });
});
