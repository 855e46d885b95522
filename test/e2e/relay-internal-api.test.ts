/**
 * The relay internal API over a real loopback socket: @hono/node-server on 127.0.0.1, a real
 * SessionRegistry, signed requests through the global fetch. Includes abuse case 15.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createInternalApi } from '../../relay/src/api/internal-api.js';
import { NonceCache } from '../../relay/src/api/nonce-cache.js';
import type { SigningKey } from '../../shared/relay-api/request-signing.js';
import type { SessionRegistry } from '../../relay/src/media/session-registry.js';
import { API_KEYS, RELAY_BOOT_ID, RELAY_ID, RELAY_KEY_PAIR, RELAY_SEAL_OPENER, installBody, localSessions, makeRegistry, signedInit } from '../unit/relay-api/helpers.js';

let server: ServerType;
let base: string;
let registry: SessionRegistry;
let nextSsrc = 1000;

beforeAll(async () => {
  registry = makeRegistry();
  const app = createInternalApi({
    sessions: localSessions(registry),
    relayId: RELAY_ID,
    bootId: RELAY_BOOT_ID,
    apiKeys: API_KEYS,
    sealOpener: RELAY_SEAL_OPENER,
    now: () => Date.now(),
    nonceCache: new NonceCache(),
  });
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => resolve(info.port));
  });
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  registry.close(Date.now());
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

type Init = ReturnType<typeof signedInit>;

function signed(method: string, path: string, body?: unknown, options: { now?: number; audience?: string; key?: SigningKey } = {}): Init {
  return signedInit(method, `${base}${path}`, body, { now: options.now ?? Date.now(), audience: options.audience, key: options.key });
}

function send(path: string, init: RequestInit): Promise<Response> {
  return fetch(`${base}${path}`, init);
}

async function installSession(sessionId: string): Promise<number> {
  const ssrc = nextSsrc++;
  const response = await send('/v1/sessions', signed('POST', '/v1/sessions', installBody(sessionId, ssrc, Date.now()).body));
  expect(response.status).toBe(201);
  return ssrc;
}

describe('relay internal API over loopback', () => {
  it('GET /healthz answers without authentication', async () => {
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: true, relayId: RELAY_ID, draining: false });
  });

  it('install → list → update → rotate → revoke', async () => {
    const ssrc = nextSsrc++;
    const { body } = installBody('happy-1', ssrc, Date.now(), { channelId: 'room-7' });
    const installed = await send('/v1/sessions', signed('POST', '/v1/sessions', body));
    expect(installed.status).toBe(201);
    expect(await installed.json()).toMatchObject({ sessionId: 'happy-1', ssrc, udpPort: 40000 });

    const listed = await send('/v1/sessions', signed('GET', '/v1/sessions'));
    expect(listed.status).toBe(200);
    const list = (await listed.json()) as { sessions: Array<Record<string, unknown>> };
    expect(list.sessions.find((s) => s.sessionId === 'happy-1')).toMatchObject({ channelId: 'room-7', ssrcs: [ssrc], muted: false });
    expect(JSON.stringify(list)).not.toContain(body.sealedKeys.ct);

    const updated = await send('/v1/sessions/happy-1', signed('PATCH', '/v1/sessions/happy-1', { muted: true, deafened: true }));
    expect(updated.status).toBe(200);
    expect(registry.get('happy-1')).toMatchObject({ muted: true, deafened: true });

    const newSsrc = nextSsrc++;
    const rotateBody = { ssrc: newSsrc, sealedKeys: installBody('happy-1', newSsrc, Date.now()).body.sealedKeys };
    const rotated = await send('/v1/sessions/happy-1/rotate', signed('POST', '/v1/sessions/happy-1/rotate', rotateBody));
    expect(rotated.status).toBe(200);
    expect(await rotated.json()).toEqual({ sessionId: 'happy-1', ssrcs: [newSsrc, ssrc] });
    expect(registry.bySsrc(newSsrc)?.session.sessionId).toBe('happy-1');

    const revoked = await send('/v1/sessions/happy-1', signed('DELETE', '/v1/sessions/happy-1'));
    expect(revoked.status).toBe(204);
    expect(registry.get('happy-1')).toBeUndefined();
    expect((await send('/v1/sessions/happy-1', signed('DELETE', '/v1/sessions/happy-1'))).status).toBe(404);
  });

  it('answers 409 for a duplicate SSRC and 413 for an oversized body', async () => {
    const ssrc = await installSession('dup-1');
    const duplicate = await send('/v1/sessions', signed('POST', '/v1/sessions', installBody('dup-2', ssrc, Date.now()).body));
    expect(duplicate.status).toBe(409);
    expect(await duplicate.json()).toEqual({ error: 'conflict', reason: 'duplicate-ssrc' });
    const big = { ...installBody('big-1', nextSsrc++, Date.now()).body, userId: 'u'.repeat(20_000) };
    expect((await send('/v1/sessions', signed('POST', '/v1/sessions', big))).status).toBe(413);
  });
});

describe('case 15: replayed, stale, altered, misdirected or unknown-key requests → 401 and no effect', () => {
  let target: string;

  beforeEach(async () => {
    target = `case15-${nextSsrc}`;
    await installSession(target);
  });

  /** Sends, expects the generic 401, and checks the registry did not change at all. */
  async function expectRefused(path: string, init: RequestInit): Promise<void> {
    const sizeBefore = registry.size;
    const before = registry.list();
    const response = await send(path, init);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Parley-HMAC-SHA256 realm="parley-relay"');
    expect(await response.json()).toEqual({ error: 'unauthorized' });
    expect(registry.size).toBe(sizeBefore);
    expect(registry.list()).toEqual(before);
  }

  it('a replayed request', async () => {
    const mute = signed('PATCH', `/v1/sessions/${target}`, { muted: true });
    expect((await send(`/v1/sessions/${target}`, mute)).status).toBe(200);
    expect((await send(`/v1/sessions/${target}`, signed('PATCH', `/v1/sessions/${target}`, { muted: false }))).status).toBe(200);
    await expectRefused(`/v1/sessions/${target}`, mute);
    expect(registry.get(target)!.muted).toBe(false);
  });

  it('a replayed install after the session was revoked', async () => {
    const install = signed('POST', '/v1/sessions', installBody('case15-replay', nextSsrc++, Date.now()).body);
    expect((await send('/v1/sessions', install)).status).toBe(201);
    expect((await send('/v1/sessions/case15-replay', signed('DELETE', '/v1/sessions/case15-replay'))).status).toBe(204);
    await expectRefused('/v1/sessions', install);
    expect(registry.get('case15-replay')).toBeUndefined();
  });

  it('a replayed revoke', async () => {
    const revoke = signed('DELETE', `/v1/sessions/${target}`);
    expect((await send(`/v1/sessions/${target}`, revoke)).status).toBe(204);
    await installSession(target); // installed again, with a new SSRC
    await expectRefused(`/v1/sessions/${target}`, revoke);
    expect(registry.get(target)).toBeDefined();
  });

  it.each([
    ['61 s behind', -61_000],
    ['61 s ahead', 61_000],
    ['a day behind', -86_400_000],
  ])('clock skew over 60 s: %s', async (_name, offset) => {
    const now = Date.now() + offset;
    await expectRefused('/v1/sessions', signed('POST', '/v1/sessions', installBody('case15-skew', nextSsrc++, now).body, { now }));
    await expectRefused(`/v1/sessions/${target}`, signed('DELETE', `/v1/sessions/${target}`, undefined, { now }));
  });

  it('an altered body', async () => {
    const patch = signed('PATCH', `/v1/sessions/${target}`, { muted: false });
    await expectRefused(`/v1/sessions/${target}`, { ...patch, body: new TextEncoder().encode('{"muted":true}') });
    const { body } = installBody('case15-body', nextSsrc++, Date.now());
    const install = signed('POST', '/v1/sessions', body);
    await expectRefused('/v1/sessions', { ...install, body: new TextEncoder().encode(JSON.stringify({ ...body, channelId: 'elsewhere' })) });
  });

  it('an altered path or method', async () => {
    const other = `case15-other-${nextSsrc}`;
    await installSession(other);
    await expectRefused(`/v1/sessions/${target}`, signed('DELETE', `/v1/sessions/${other}`));
    const get = signed('GET', '/v1/sessions');
    await expectRefused(`/v1/sessions/${target}`, { ...get, method: 'DELETE' });
  });

  it('a request meant for another relay', async () => {
    await expectRefused(`/v1/sessions/${target}`, signed('DELETE', `/v1/sessions/${target}`, undefined, { audience: 'relay-ams-1' }));
    await expectRefused('/v1/sessions', signed('POST', '/v1/sessions', installBody('case15-relay', nextSsrc++, Date.now()).body, { audience: 'relay-ams-1' }));
  });

  it('an unknown key id', async () => {
    const key = { keyId: 'cp-unknown', secret: crypto.getRandomValues(new Uint8Array(32)) };
    await expectRefused(`/v1/sessions/${target}`, signed('DELETE', `/v1/sessions/${target}`, undefined, { key }));
    await expectRefused('/v1/sessions', signed('POST', '/v1/sessions', installBody('case15-key', nextSsrc++, Date.now()).body, { key }));
  });
});
