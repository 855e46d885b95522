/** The relay internal API through Hono's app.request(): every route and refusal, no sockets. */
import { describe, expect, it } from 'vitest';
import { generateEphemeralKeyPair } from '../../../shared/keys/x25519.js';
import type { NonceStore } from '../../../shared/relay-api/request-signing.js';
import { nodeCryptoBackend } from '../../../shared/srtp/backends/node-crypto.js';
import { SrtpContext } from '../../../shared/srtp/context.js';
import { createInternalApi, type InternalApiDeps, type InternalApiLogger } from '../../../relay/src/api/internal-api.js';
import { NonceCache } from '../../../relay/src/api/nonce-cache.js';
import { LocalSessionDirectory, WorkerUnavailableError, type SessionPlacement } from '../../../relay/src/media/session-directory.js';
import type { SessionRegistry } from '../../../relay/src/media/session-registry.js';
import { rtpPacket } from '../../support/rtp-packets.js';
import { sealSessionKeys } from '../../../shared/relay-api/sealed-keys.js';
import { API_KEY, API_KEYS, installBody, localSessions, makeRegistry, RELAY_BOOT_ID, RELAY_ID, RELAY_KEY_PAIR, RELAY_SEAL_OPENER, signedInit, TEST_PLACEMENT } from './helpers.js';

const BASE = 'http://relay.internal:7000';
const T0 = 1_760_000_000_000;

interface Harness {
  app: ReturnType<typeof createInternalApi>;
  registry: SessionRegistry;
  logs: Array<{ level: string; fields: Record<string, unknown>; message: string }>;
  clock: { now: number };
  send(method: string, path: string, body?: unknown, options?: { audience?: string; now?: number }): Promise<Response>;
}

function harness({ registry: given, ...overrides }: Partial<Omit<InternalApiDeps, 'sessions'>> & { registry?: SessionRegistry } = {}): Harness {
  const registry = given ?? makeRegistry();
  const logs: Harness['logs'] = [];
  const logger: InternalApiLogger = {
    info: (fields, message) => logs.push({ level: 'info', fields, message }),
    warn: (fields, message) => logs.push({ level: 'warn', fields, message }),
  };
  const clock = { now: T0 };
  const app = createInternalApi({
    sessions: localSessions(registry),
    relayId: RELAY_ID,
    bootId: RELAY_BOOT_ID,
    apiKeys: API_KEYS,
    sealOpener: RELAY_SEAL_OPENER,
    now: () => clock.now,
    nonceCache: new NonceCache(),
    logger,
    ...overrides,
  });
  return {
    app,
    registry,
    logs,
    clock,
    send: async (method, path, body, options = {}) =>
      app.request(`${BASE}${path}`, signedInit(method, `${BASE}${path}`, body, { now: options.now ?? clock.now, audience: options.audience })),
  };
}

async function install(h: Harness, sessionId: string, ssrc: number, overrides: Parameters<typeof installBody>[3] = {}) {
  const { body, keys } = installBody(sessionId, ssrc, h.clock.now, overrides);
  return { response: await h.send('POST', '/v1/sessions', body), body, keys };
}

describe('unauthenticated routes', () => {
  it('GET /healthz reports id, draining and session count', async () => {
    const h = harness();
    await install(h, 'ses-1', 1);
    const response = await h.app.request(`${BASE}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, relayId: RELAY_ID, bootId: RELAY_BOOT_ID, draining: false, sessions: 1 });
  });

  it('GET /healthz answers 503 once a worker has died, and installs on its shard answer 503', async () => {
    class WorkerDown extends LocalSessionDirectory {
      override get healthy(): boolean {
        return false;
      }
      override async install(): Promise<SessionPlacement> {
        throw new WorkerUnavailableError(1);
      }
    }
    const registry = makeRegistry();
    const app = createInternalApi({
      sessions: new WorkerDown(registry, TEST_PLACEMENT),
      relayId: RELAY_ID,
      bootId: RELAY_BOOT_ID,
      apiKeys: API_KEYS,
      sealOpener: RELAY_SEAL_OPENER,
      now: () => T0,
      nonceCache: new NonceCache(),
    });
    const health = await app.request(`${BASE}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ ok: false });
    const { body } = installBody('ses-down', 7, T0);
    const installed = await app.request(`${BASE}/v1/sessions`, signedInit('POST', `${BASE}/v1/sessions`, body, { now: T0 }));
    expect(installed.status).toBe(503);
    expect(await installed.json()).toEqual({ error: 'unavailable', reason: 'worker-unavailable' });
  });

  it('GET /metrics is not on the API port (metrics have their own, private listener)', async () => {
    expect((await harness().app.request(`${BASE}/metrics`)).status).toBe(404);
  });

  it('an error below the API is a generic 500 that names only the error class in the log', async () => {
    class Broken extends LocalSessionDirectory {
      override async list(): Promise<never> {
        throw new Error('db password hunter2');
      }
    }
    const logs: unknown[] = [];
    const app = createInternalApi({
      sessions: new Broken(makeRegistry(), TEST_PLACEMENT),
      relayId: RELAY_ID,
      bootId: RELAY_BOOT_ID,
      apiKeys: API_KEYS,
      sealOpener: RELAY_SEAL_OPENER,
      now: () => T0,
      nonceCache: new NonceCache(),
      logger: { info: (fields) => logs.push(fields), warn: (fields) => logs.push(fields) },
    });
    const response = await app.request(`${BASE}/v1/sessions`, signedInit('GET', `${BASE}/v1/sessions`, undefined, { now: T0 }));
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: 'internal' });
    expect(JSON.stringify(logs)).toContain('"error":"Error"');
    expect(JSON.stringify(logs)).not.toContain('hunter2');
  });
});

describe('keys are used once', () => {
  it('refuses a reinstall of a key set it already accepted (a control-plane retry, signed again): 409 keys-reused, nothing changes', async () => {
    const h = harness();
    const { response, body } = await install(h, 'ses-1', 1);
    expect(response.status).toBe(201);
    const epoch = h.registry.get('ses-1')!.epochs[0]!;
    const retry = await h.send('POST', '/v1/sessions', body); // a fresh signature and nonce, the same sealed keys
    expect(retry.status).toBe(409);
    expect(await retry.json()).toEqual({ error: 'conflict', reason: 'keys-reused' });
    expect(h.registry.get('ses-1')!.epochs[0]).toBe(epoch);
    // Revoked, the session is gone, but its keys stay spent: installing them again would reset
    // replay protection and repeat GCM nonces the relay already used.
    expect((await h.send('DELETE', '/v1/sessions/ses-1')).status).toBe(204);
    const reinstall = await h.send('POST', '/v1/sessions', body);
    expect(reinstall.status).toBe(409);
    expect(h.registry.size).toBe(0);
    expect(h.logs).toContainEqual(expect.objectContaining({ fields: expect.objectContaining({ event: 'internal_api.keys_refused', reason: 'keys-reused' }) }));
  });

  it('refuses the same keys re-sealed for another session or SSRC, or brought back by a rotation', async () => {
    const h = harness();
    const { body, keys } = installBody('ses-1', 1, T0);
    expect((await h.send('POST', '/v1/sessions', body)).status).toBe(201);
    const context = { relayId: RELAY_ID, bootId: RELAY_BOOT_ID, profile: 'aes128gcm' as const };
    const resealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, { ...context, sessionId: 'ses-2', ssrc: 2 }, keys);
    expect((await h.send('POST', '/v1/sessions', { ...body, sessionId: 'ses-2', ssrc: 2, sealedKeys: resealed })).status).toBe(409);
    const rotation = sealSessionKeys(RELAY_KEY_PAIR.publicKey, { ...context, sessionId: 'ses-1', ssrc: 3 }, keys);
    const rotated = await h.send('POST', '/v1/sessions/ses-1/rotate', { ssrc: 3, sealedKeys: rotation });
    expect(rotated.status).toBe(409);
    expect(await rotated.json()).toEqual({ error: 'conflict', reason: 'keys-reused' });
    expect(h.registry.get('ses-1')!.epochs.map((e) => e.ssrc)).toEqual([1]);
  });

  it('leaves the keys of a refused install unspent: a retry after the refusal can succeed', async () => {
    const h = harness();
    await install(h, 'ses-1', 1);
    const { body } = installBody('ses-2', 1, T0); // SSRC 1 is taken
    expect((await h.send('POST', '/v1/sessions', body)).status).toBe(409);
    expect((await h.send('DELETE', '/v1/sessions/ses-1')).status).toBe(204);
    h.clock.now += 60_000; // SSRC 1 becomes reusable once no context that used it lives
    h.registry.sweep(h.clock.now);
    expect((await h.send('POST', '/v1/sessions', body)).status).toBe(201);
  });
});

describe('POST /v1/sessions', () => {
  it('a request signed before a restart cannot install keys after it: the restarted relay has a new boot id', async () => {
    const { body } = installBody('ses-boot', 11, T0);
    const init = signedInit('POST', `${BASE}/v1/sessions`, body, { now: T0 });
    const before = harness();
    expect((await before.app.request(`${BASE}/v1/sessions`, init)).status).toBe(201);
    // The same relay after a restart: the same keys and id, an empty nonce cache, a new boot id.
    // The replay is within the skew window, so its signature verifies; its seal does not open.
    const after = harness({ bootId: 'EBESExQVFhcYGRobHB0eHw' });
    after.clock.now = T0 + 30_000;
    const replayed = await after.app.request(`${BASE}/v1/sessions`, init);
    expect(replayed.status).toBe(400);
    expect(await replayed.json()).toEqual({ error: 'bad_request', detail: 'sealedKeys could not be opened (authentication-failed)' });
    expect(after.registry.size).toBe(0);
    // Sealed for the new boot id, it installs.
    expect((await after.send('POST', '/v1/sessions', installBody('ses-boot', 11, after.clock.now, { sealBootId: 'EBESExQVFhcYGRobHB0eHw' }).body)).status).toBe(201);
  });

  it('installs a session whose keys really are the sealed ones', async () => {
    const h = harness();
    const { response, keys } = await install(h, 'ses-1', 0xabc);
    expect(response.status).toBe(201);
    // The answer says where the client sends voice.
    expect(await response.json()).toEqual({ sessionId: 'ses-1', ssrc: 0xabc, udpPort: 40000, udpEndpoint: { host: '203.0.113.7', port: 40000 } });
    const session = h.registry.get('ses-1')!;
    expect(session).toMatchObject({ userId: 'user-ses-1', channelId: 'channel-1', canSpeak: true, muted: false, profile: 'aes128gcm' });
    // A client holding the plaintext keys can talk to the installed session.
    const client = new SrtpContext({ profile: 'aes128gcm', backend: nodeCryptoBackend, ...keys.clientToRelay });
    const packet = rtpPacket({ ssrc: 0xabc, sequenceNumber: 1, payload: Uint8Array.of(1, 2, 3) });
    expect(session.epochs[0]!.inbound.unprotectRtp(client.protectRtp(packet))).toEqual(packet);
  });

  it('installs for every profile', async () => {
    const h = harness();
    for (const [i, profile] of (['aes128gcm', 'aes256gcm', 'aescm128sha80'] as const).entries()) {
      expect((await install(h, `ses-${profile}`, 100 + i, { profile })).response.status).toBe(201);
    }
    expect(h.registry.size).toBe(3);
  });

  it('answers 409 with the reason for a duplicate session or SSRC', async () => {
    const h = harness();
    await install(h, 'ses-1', 1);
    const again = await install(h, 'ses-1', 2);
    expect(again.response.status).toBe(409);
    expect(await again.response.json()).toEqual({ error: 'conflict', reason: 'duplicate-session' });
    const sameSsrc = await install(h, 'ses-2', 1);
    expect(sameSsrc.response.status).toBe(409);
    expect(await sameSsrc.response.json()).toEqual({ error: 'conflict', reason: 'duplicate-ssrc' });
    expect(h.registry.size).toBe(1);
  });

  it('answers 503 at the session and channel limits and while draining', async () => {
    const h = harness({ registry: makeRegistry({ maxSessions: 2, maxChannels: 1 }) });
    await install(h, 'ses-1', 1);
    const otherChannel = await install(h, 'ses-2', 2, { channelId: 'channel-2' });
    expect(otherChannel.response.status).toBe(503);
    expect(await otherChannel.response.json()).toEqual({ error: 'unavailable', reason: 'channel-limit' });
    await install(h, 'ses-3', 3);
    const full = await install(h, 'ses-4', 4);
    expect(await full.response.json()).toEqual({ error: 'unavailable', reason: 'session-limit' });
    h.registry.startDraining();
    const draining = await install(h, 'ses-5', 5);
    expect(draining.response.status).toBe(503);
    expect(await draining.response.json()).toEqual({ error: 'unavailable', reason: 'draining' });
  });

  it('answers 400 for an expiry in the past', async () => {
    const h = harness();
    const { response } = await install(h, 'ses-1', 1, { expiresAt: T0 - 1 });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'bad_request', reason: 'expired' });
  });

  it.each([
    ['sealed for another relay id', { sealRelayId: 'relay-ams-1' }, 'authentication-failed'],
    ['sealed to another relay key', { sealPublicKey: generateEphemeralKeyPair().publicKey }, 'authentication-failed'],
    ['sealed for another profile', { profile: 'aes256gcm' as const }, null],
  ])('answers 400 for keys %s', async (_name, overrides, reason) => {
    const h = harness();
    const { body } = installBody('ses-1', 1, T0, overrides);
    const tampered = reason === null ? { ...body, profile: 'aes128gcm' } : body;
    const response = await h.send('POST', '/v1/sessions', tampered);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { detail: string }).detail).toMatch(/^sealedKeys could not be opened/);
    expect(h.registry.size).toBe(0);
  });

  it('answers 400 for a malformed body without echoing it', async () => {
    const h = harness();
    const { body } = installBody('ses-1', 1, T0);
    const response = await h.send('POST', '/v1/sessions', { ...body, ssrc: 'SECRET-1234' });
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ error: 'bad_request', detail: 'ssrc must be an integer in 0..4294967295' });
    expect(text).not.toContain('SECRET');
  });

  it('answers 413 beyond 16 KiB, before authenticating', async () => {
    const h = harness();
    const { body } = installBody('ses-1', 1, T0);
    const big = { ...body, userId: 'x'.repeat(17_000) };
    const response = await h.send('POST', '/v1/sessions', big);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: 'payload_too_large' });
  });

  it('answers 413 for a streamed body without Content-Length', async () => {
    const h = harness();
    const chunk = new Uint8Array(4096);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 10) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const init = signedInit('POST', `${BASE}/v1/sessions`, undefined, { now: T0 });
    const response = await h.app.request(`${BASE}/v1/sessions`, { ...init, body: stream, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(413);
    expect(sent).toBeLessThan(10); // stopped reading
  });
});

describe('GET /v1/sessions', () => {
  it('lists sessions for reconciliation without any key material', async () => {
    const h = harness();
    const { body, keys } = await install(h, 'ses-1', 7);
    const response = await h.send('GET', '/v1/sessions');
    expect(response.status).toBe(200);
    const text = await response.text();
    const list = JSON.parse(text);
    expect(list).toEqual({
      relayId: RELAY_ID,
      draining: false,
      sessions: [
        {
          sessionId: 'ses-1',
          userId: 'user-ses-1',
          channelId: 'channel-1',
          ssrcs: [7],
          profile: 'aes128gcm',
          canSpeak: true,
          canListen: true,
          muted: false,
          deafened: false,
          expiresAt: body.expiresAt,
          lastActiveAt: T0,
          addressLatched: false,
        },
      ],
    });
    for (const secret of [keys.clientToRelay.masterKey, keys.relayToClient.masterKey, keys.clientToRelay.masterSalt]) {
      expect(text).not.toContain(Buffer.from(secret).toString('base64url'));
      expect(text).not.toContain(Buffer.from(secret).toString('hex'));
    }
    expect(text).not.toContain(body.sealedKeys.ct);
  });
});

describe('PATCH /v1/sessions/:id', () => {
  it('changes permissions and expiry', async () => {
    const h = harness();
    await install(h, 'ses-1', 1);
    const response = await h.send('PATCH', '/v1/sessions/ses-1', { muted: true, canListen: false, expiresAt: T0 + 60_000 });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sessionId: 'ses-1', canSpeak: true, canListen: false, muted: true, deafened: false, expiresAt: T0 + 60_000 });
    expect(h.registry.get('ses-1')).toMatchObject({ muted: true, canListen: false, expiresAt: T0 + 60_000 });
  });

  it('answers 404 for an unknown session, 400 for a bad patch', async () => {
    const h = harness();
    expect((await h.send('PATCH', '/v1/sessions/nope', { muted: true })).status).toBe(404);
    await install(h, 'ses-1', 1);
    expect((await h.send('PATCH', '/v1/sessions/ses-1', {})).status).toBe(400);
    expect((await h.send('PATCH', '/v1/sessions/ses-1', { expiresAt: T0 })).status).toBe(400);
    expect((await h.send('PATCH', '/v1/sessions/ses-1', { ssrc: 5 })).status).toBe(400);
  });

  it('routes ids that need escaping in a path', async () => {
    const h = harness();
    const id = 'ses/1?%#a';
    await install(h, id, 1);
    expect(h.registry.get(id)).toBeDefined();
    const response = await h.send('PATCH', `/v1/sessions/${encodeURIComponent(id)}`, { muted: true });
    expect(response.status).toBe(200);
    expect(h.registry.get(id)!.muted).toBe(true);
  });
});

describe('POST /v1/sessions/:id/rotate', () => {
  it('adds a key epoch under the new SSRC and keeps the old one in overlap', async () => {
    const h = harness();
    await install(h, 'ses-1', 1);
    const { body, keys } = installBody('ses-1', 2, T0);
    const response = await h.send('POST', '/v1/sessions/ses-1/rotate', { ssrc: 2, sealedKeys: body.sealedKeys });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sessionId: 'ses-1', ssrcs: [2, 1] });
    expect(h.registry.bySsrc(2)?.session.sessionId).toBe('ses-1');
    const client = new SrtpContext({ profile: 'aes128gcm', backend: nodeCryptoBackend, ...keys.clientToRelay });
    const packet = rtpPacket({ ssrc: 2, sequenceNumber: 9 });
    expect(h.registry.bySsrc(2)!.epoch.inbound.unprotectRtp(client.protectRtp(packet))).toEqual(packet);
  });

  it('answers 409 for an SSRC in use, 404 for an unknown session, 400 for keys sealed for another SSRC', async () => {
    const h = harness();
    await install(h, 'ses-1', 1);
    await install(h, 'ses-2', 2);
    const forTwo = installBody('ses-1', 2, T0).body.sealedKeys;
    const conflict = await h.send('POST', '/v1/sessions/ses-1/rotate', { ssrc: 2, sealedKeys: forTwo });
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toEqual({ error: 'conflict', reason: 'duplicate-ssrc' });
    expect((await h.send('POST', '/v1/sessions/nope/rotate', { ssrc: 3, sealedKeys: forTwo })).status).toBe(404);
    const wrongSsrc = await h.send('POST', '/v1/sessions/ses-1/rotate', { ssrc: 3, sealedKeys: forTwo });
    expect(wrongSsrc.status).toBe(400);
    expect(h.registry.get('ses-1')!.epochs.map((e) => e.ssrc)).toEqual([1]);
  });

  it('sets the session\'s new expiry with the new keys when the body carries expiresAt (one request, not a rotate and a PATCH)', async () => {
    const h = harness();
    await install(h, 'ses-1', 1);
    const before = h.registry.get('ses-1')!.expiresAt;
    const { body } = installBody('ses-1', 2, T0);
    const response = await h.send('POST', '/v1/sessions/ses-1/rotate', { ssrc: 2, sealedKeys: body.sealedKeys, expiresAt: before + 90_000 });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sessionId: 'ses-1', ssrcs: [2, 1] });
    expect(h.registry.get('ses-1')!.expiresAt).toBe(before + 90_000);
  });

  it('refuses an expiresAt in the past before opening or spending the keys: 400, the same keys rotate in afterwards', async () => {
    const h = harness();
    await install(h, 'ses-1', 1);
    const { body } = installBody('ses-1', 2, T0);
    const past = await h.send('POST', '/v1/sessions/ses-1/rotate', { ssrc: 2, sealedKeys: body.sealedKeys, expiresAt: T0 });
    expect(past.status).toBe(400);
    expect(h.registry.get('ses-1')!.epochs.map((e) => e.ssrc)).toEqual([1]);
    expect((await h.send('POST', '/v1/sessions/ses-1/rotate', { ssrc: 2, sealedKeys: body.sealedKeys })).status).toBe(200);
  });
});

describe('DELETE /v1/sessions/:id', () => {
  it('revokes: 204, then 404', async () => {
    const h = harness();
    await install(h, 'ses-1', 1);
    const response = await h.send('DELETE', '/v1/sessions/ses-1');
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
    expect(h.registry.size).toBe(0);
    expect((await h.send('DELETE', '/v1/sessions/ses-1')).status).toBe(404);
  });

  it('refuses a body other than {}', async () => {
    const h = harness();
    await install(h, 'ses-1', 1);
    expect((await h.send('DELETE', '/v1/sessions/ses-1', { reason: 'x' })).status).toBe(400);
    expect((await h.send('DELETE', '/v1/sessions/ses-1', {})).status).toBe(204);
  });
});

describe('authentication', () => {
  it('refuses with a generic 401 and WWW-Authenticate, logging the reason', async () => {
    const h = harness();
    const response = await h.app.request(`${BASE}/v1/sessions`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Parley-HMAC-SHA256 realm="parley-relay"');
    expect(await response.json()).toEqual({ error: 'unauthorized' });
    expect(h.logs.at(-1)).toMatchObject({ level: 'warn', fields: { event: 'internal_api.unauthorized', reason: 'missing-header' } });
  });

  it('refuses unknown /v1 routes before saying they do not exist', async () => {
    const h = harness();
    expect((await h.app.request(`${BASE}/v1/nothing`)).status).toBe(401);
    expect((await h.send('GET', '/v1/nothing')).status).toBe(404);
  });

  it('answers 503 when the nonce cache is full, and installs nothing', async () => {
    const full: NonceStore = { checkAndRecord: () => 'full' };
    const h = harness({ nonceCache: full });
    const { response } = await install(h, 'ses-1', 1);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(h.registry.size).toBe(0);
  });

  it('never logs keys, signatures or bodies', async () => {
    const h = harness();
    const { body, keys } = await install(h, 'ses-1', 1);
    const init = signedInit('POST', `${BASE}/v1/sessions`, body, { now: T0 });
    await h.app.request(`${BASE}/v1/sessions`, init); // replay
    await h.send('PATCH', '/v1/sessions/ses-1', { muted: true });
    await h.send('POST', '/v1/sessions', { ...body, sessionId: 'ses-2', sealedKeys: { ...body.sealedKeys, ct: body.sealedKeys.ct.replace(/^./, 'A') } });
    const logged = JSON.stringify(h.logs);
    expect(h.logs.length).toBeGreaterThanOrEqual(4);
    const signature = init.headers.authorization!.slice(-43);
    for (const secret of [body.sealedKeys.ct, body.sealedKeys.epk, signature, Buffer.from(API_KEY.secret).toString('base64url'), Buffer.from(keys.clientToRelay.masterKey).toString('hex')]) {
      expect(logged).not.toContain(secret);
    }
  });

  it('refuses construction with a short secret, a bad key id or no keys', () => {
    const base = { sessions: localSessions(makeRegistry()), relayId: RELAY_ID, bootId: RELAY_BOOT_ID, sealOpener: RELAY_SEAL_OPENER, now: () => T0, nonceCache: new NonceCache() };
    expect(() => createInternalApi({ ...base, apiKeys: new Map([['k', new Uint8Array(31)]]) })).toThrow(RangeError);
    expect(() => createInternalApi({ ...base, apiKeys: new Map([['k y', new Uint8Array(32)]]) })).toThrow(RangeError);
    expect(() => createInternalApi({ ...base, apiKeys: new Map() })).toThrow(RangeError);
  });
});
