/**
 * The relay directory's routes inside workerd against the local libSQL server:
 * POST /internal/relays/register and /heartbeat signed as a relay signs them (shared/relay-api
 * signRequest, and the relay's own ControlPlaneClient), and GET /v1/admin/relays.
 *
 * Every refused request is checked for having no effect: the directory entry is the same
 * before and after.
 */
import { env } from 'cloudflare:workers';
import { x25519 } from '@noble/curves/ed25519.js';
import { eq } from 'drizzle-orm';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { IssuedAppKey } from '../../control/src/auth/app-keys.js';
import { createControlApp } from '../../control/src/app.js';
import { INSECURE_DEV_RELAY_CONTROL_KEYS } from '../../control/src/config.js';
import { relays } from '../../control/src/db/schema.js';
import { ControlPlaneClient } from '../../relay/src/api/control-plane-client.js';
import { decodeBase64Url, encodeBase64Url } from '../../shared/relay-api/base64url.js';
import type { RelayRegistrationBody } from '../../shared/relay-api/messages.js';
import { CONTROL_PLANE_AUDIENCE, signRequest, type SigningKey } from '../../shared/relay-api/request-signing.js';
import { BASE_URL, createAppKey, describeWithDatabase, errorOf, uniqueSuffix, workerDatabase, workerFetch } from './support/control-fixtures.js';

const DEV_KEYS = JSON.parse(INSECURE_DEV_RELAY_CONTROL_KEYS) as Record<string, { relayId: string; secret: string }>;
const DEV_KEY_ID = Object.keys(DEV_KEYS)[0]!;
/** The relay's development control key, which the control plane accepts for any relay id. */
const DEV_KEY: SigningKey = { keyId: DEV_KEY_ID, secret: decodeBase64Url(DEV_KEYS[DEV_KEY_ID]!.secret)! };
const CHALLENGE = 'Parley-HMAC-SHA256 realm="parley-control"';

describeWithDatabase('relay directory (database)', () => {
  let operator: IssuedAppKey;

  beforeAll(async () => {
    operator = await createAppKey(['operator']);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  function relayPublicKey(): string {
    return encodeBase64Url(x25519.getPublicKey(crypto.getRandomValues(new Uint8Array(32))));
  }

  function registration(overrides: Partial<RelayRegistrationBody> = {}): RelayRegistrationBody {
    const endpoints = overrides.udpEndpoints ?? [
      { host: '203.0.113.7', port: 40000 },
      { host: '203.0.113.7', port: 40001 },
    ];
    return {
      relayId: `relay-test-${uniqueSuffix()}`,
      bootId: encodeBase64Url(crypto.getRandomValues(new Uint8Array(16))),
      region: 'fra',
      apiUrl: 'https://relay.example.com/',
      udpEndpoint: endpoints[0]!,
      udpEndpoints: endpoints,
      publicKey: relayPublicKey(),
      load: { sessions: 0, channels: 0 },
      draining: false,
      rekeyRequested: [],
      lostSessions: [],
      ...overrides,
    };
  }

  type Step = 'register' | 'heartbeat';

  interface SignedOptions {
    readonly key?: SigningKey;
    readonly now?: number;
    readonly audience?: string;
    /** Sign for this path, send to the step's path. */
    readonly signedPath?: string;
    /** Sign these bytes, send the body's. */
    readonly signedBody?: Uint8Array;
    readonly contentType?: string;
  }

  /** A request exactly as the relay builds it (control-plane-client.ts #signedRequest). */
  function signedRequest(step: Step, body: RelayRegistrationBody | string, options: SignedOptions = {}): Request {
    const bytes = new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body));
    const url = `${BASE_URL}/internal/relays/${step}`;
    const authorization = signRequest({
      method: 'POST',
      url: options.signedPath === undefined ? url : `${BASE_URL}${options.signedPath}`,
      body: options.signedBody ?? bytes,
      audience: options.audience ?? CONTROL_PLANE_AUDIENCE,
      key: options.key ?? DEV_KEY,
      now: options.now ?? Date.now(),
    });
    return new Request(url, { method: 'POST', headers: { 'content-type': options.contentType ?? 'application/json', authorization }, body: bytes });
  }

  type Sender = (request: Request) => Promise<Response>;
  const toWorker: Sender = (request) => workerFetch(request);

  interface ListedRelay {
    relayId: string;
    region: string;
    apiUrl: string | null;
    status: string;
    draining: boolean;
    load: { sessions: number; channels: number };
    udpEndpoints: { host: string; port: number }[];
    publicKey: string;
    bootId: string;
    controlKeyId: string;
    registeredAt: number;
    lastSeenAt: number;
  }

  async function listedRelay(relayId: string, send: Sender = toWorker): Promise<ListedRelay | undefined> {
    const response = await send(new Request(`${BASE_URL}/v1/admin/relays`, { headers: { authorization: `Bearer ${operator.key}` } }));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { relays: ListedRelay[]; deadAfterSeconds: number };
    return body.relays.find((r) => r.relayId === relayId);
  }

  async function expectSignatureRefusal(response: Response): Promise<void> {
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(CHALLENGE);
    expect(await errorOf(response)).toMatchObject({ error: 'unauthorized' });
  }

  /** A registered relay and what the directory says about it. */
  async function registered(overrides: Partial<RelayRegistrationBody> = {}, send: Sender = toWorker, key?: SigningKey) {
    const body = registration(overrides);
    const response = await send(signedRequest('register', body, key === undefined ? {} : { key }));
    expect(response.status).toBe(200);
    const entry = await listedRelay(body.relayId, send);
    expect(entry).toBeDefined();
    return { body, entry: entry! };
  }

  describe('POST /internal/relays/register', () => {
    it('records the relay: id, region, every endpoint, public key, boot id, load, draining, key id, times', async () => {
      const body = registration({ load: { sessions: 12, channels: 3 } });
      const response = await toWorker(signedRequest('register', body));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ relayId: body.relayId, status: 'alive', lastSeenAt: expect.any(Number) });
      const entry = await listedRelay(body.relayId);
      expect(entry).toEqual({
        relayId: body.relayId,
        region: 'fra',
        apiUrl: body.apiUrl,
        status: 'alive',
        draining: false,
        load: { sessions: 12, channels: 3 },
        udpEndpoints: body.udpEndpoints,
        publicKey: body.publicKey,
        bootId: body.bootId,
        controlKeyId: DEV_KEY_ID,
        registeredAt: expect.any(Number),
        lastSeenAt: expect.any(Number),
      });
    });

    it('a replayed registration is 401 and changes nothing', async () => {
      const body = registration();
      const original = signedRequest('register', body);
      const replay = original.clone();
      expect((await toWorker(original)).status).toBe(200);
      const before = await listedRelay(body.relayId);
      await expectSignatureRefusal(await toWorker(replay));
      expect(await listedRelay(body.relayId)).toEqual(before);
    });

    it('two copies of one request sent at once: exactly one is accepted (the database decides)', async () => {
      for (let round = 0; round < 5; round++) {
        const body = registration();
        const request = signedRequest('register', body);
        const statuses = (await Promise.all([toWorker(request.clone()), toWorker(request.clone()), toWorker(request)])).map((r) => r.status);
        expect(statuses.sort(), `round ${round}`).toEqual([200, 401, 401]);
      }
    });

    it('an altered body is 401 and changes nothing', async () => {
      const { body, entry } = await registered();
      const altered = { ...body, draining: true, udpEndpoints: [{ host: '198.51.100.66', port: 40000 }], udpEndpoint: { host: '198.51.100.66', port: 40000 } };
      const request = signedRequest('register', altered, { signedBody: new TextEncoder().encode(JSON.stringify(body)) });
      await expectSignatureRefusal(await toWorker(request));
      expect(await listedRelay(body.relayId)).toEqual(entry);
    });

    it('another key, an unknown key id, another audience or another path: 401 and no change', async () => {
      const { body, entry } = await registered();
      const changed = { ...body, region: 'ams' };
      const refusals: SignedOptions[] = [
        { key: { keyId: DEV_KEY_ID, secret: crypto.getRandomValues(new Uint8Array(32)) } },
        { key: { keyId: 'not-configured', secret: DEV_KEY.secret } },
        { audience: 'relay-fra-1' },
        { signedPath: '/internal/relays/heartbeat' },
      ];
      for (const options of refusals) await expectSignatureRefusal(await toWorker(signedRequest('register', changed, options)));
      // Unsigned and malformed headers.
      for (const authorization of [null, 'Bearer x', 'Parley-HMAC-SHA256 keyId=a, ts=1, nonce=short, sig=x']) {
        const request = new Request(`${BASE_URL}/internal/relays/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(authorization === null ? {} : { authorization }) },
          body: JSON.stringify(changed),
        });
        await expectSignatureRefusal(await toWorker(request));
      }
      expect(await listedRelay(body.relayId)).toEqual(entry);
    });

    it('a timestamp more than 60 s away, either way, is 401 and changes nothing', async () => {
      const { body, entry } = await registered();
      // Beyond the 60 s allowed with a margin: workerd's clock advances between signing and checking.
      for (const skew of [-61_000, 65_000, -3_600_000]) {
        await expectSignatureRefusal(await toWorker(signedRequest('register', { ...body, draining: true }, { now: Date.now() + skew })));
      }
      expect(await listedRelay(body.relayId)).toEqual(entry);
    });

    it('a public key that fails §3.3 is 400 naming publicKey, and nothing is recorded', async () => {
      // All-zero (small order, all-zero shared secret) and a low-order point (RFC 7748 §6.1 list).
      const lowOrder = '4Ot6fDtBuK4WVuP68Z_EatoJjeucMrH9hmIFFl9JuAA';
      for (const publicKey of [encodeBase64Url(new Uint8Array(32)), lowOrder]) {
        const body = registration({ publicKey });
        const response = await toWorker(signedRequest('register', body));
        expect(response.status).toBe(400);
        expect(await errorOf(response)).toMatchObject({ error: 'validation_failed', field: 'publicKey' });
        expect(await listedRelay(body.relayId)).toBeUndefined();
      }
    });

    it('a bad body is 400 naming the field (after the signature), and nothing is recorded', async () => {
      const base = registration();
      const cases: [unknown, string][] = [
        [{ ...base, relayId: '' }, 'relayId'],
        [{ ...base, region: 'has space' }, 'region'],
        [{ ...base, udpEndpoints: [] }, 'udpEndpoints'],
        [{ ...base, udpEndpoint: { host: '203.0.113.8', port: 40000 } }, 'udpEndpoint'],
        [{ ...base, udpEndpoints: [base.udpEndpoint, { host: '203.0.113.7', port: 0 }] }, 'udpEndpoints[1].port'],
        [{ ...base, load: { sessions: -1, channels: 0 } }, 'load.sessions'],
        [{ ...base, draining: 'no' }, 'draining'],
        [{ ...base, publicKey: 'short' }, 'publicKey'],
        [{ ...base, apiUrl: undefined }, 'apiUrl'],
        [{ ...base, apiUrl: 'https://user:secret@relay.example/' }, 'apiUrl'],
        [{ ...base, apiUrl: 'https://relay.example/?x=1' }, 'apiUrl'],
        [{ ...base, extra: true }, 'body'],
        [[], 'body'],
      ];
      for (const [body, field] of cases) {
        const response = await toWorker(signedRequest('register', JSON.stringify(body)));
        expect(response.status, JSON.stringify(body).slice(0, 120)).toBe(400);
        const error = await errorOf(response);
        expect(error).toMatchObject({ error: 'validation_failed', field });
      }
      const notJson = await toWorker(signedRequest('register', '{"relayId":'));
      expect(notJson.status).toBe(400);
      expect((await errorOf(notJson)).error).toBe('invalid_json');
      const text = await toWorker(signedRequest('register', base, { contentType: 'text/plain' }));
      expect(text.status).toBe(415);
      expect(await listedRelay(base.relayId)).toBeUndefined();
      // An unsigned bad body learns nothing about the body: 401 first.
      const unsigned = new Request(`${BASE_URL}/internal/relays/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
      await expectSignatureRefusal(await toWorker(unsigned));
    });
  });

  describe('POST /internal/relays/heartbeat', () => {
    it('updates load and draining and last seen; draining shows as draining', async () => {
      const { body, entry } = await registered();
      const apiUrl = 'https://relay-moved.example.com/api/';
      const response = await toWorker(signedRequest('heartbeat', { ...body, apiUrl, load: { sessions: 7, channels: 2 }, draining: true }));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ relayId: body.relayId, status: 'draining' });
      const after = await listedRelay(body.relayId);
      expect(after).toMatchObject({ status: 'draining', draining: true, apiUrl, load: { sessions: 7, channels: 2 }, registeredAt: entry.registeredAt });
      expect(after!.lastSeenAt).toBeGreaterThanOrEqual(entry.lastSeenAt);
    });

    it('a heartbeat for an unknown relay is 404 (the relay registers again) and records nothing', async () => {
      const body = registration();
      const response = await toWorker(signedRequest('heartbeat', body));
      expect(response.status).toBe(404);
      expect((await errorOf(response)).error).toBe('not_found');
      expect(await listedRelay(body.relayId)).toBeUndefined();
    });

    it('a replayed heartbeat is 401 and changes nothing', async () => {
      const { body } = await registered();
      const heartbeat = signedRequest('heartbeat', { ...body, load: { sessions: 1, channels: 1 } });
      const replay = heartbeat.clone();
      expect((await toWorker(heartbeat)).status).toBe(200);
      const before = await listedRelay(body.relayId);
      await expectSignatureRefusal(await toWorker(replay));
      expect(await listedRelay(body.relayId)).toEqual(before);
    });

    it("the relay's own ControlPlaneClient registers, heartbeats, and registers again after a 404", async () => {
      const body = registration();
      const timers: { callback: () => void; ms: number }[] = [];
      const seen: { path: string; status: number }[] = [];
      const client = new ControlPlaneClient({
        controlUrl: `${BASE_URL}/`,
        relayId: body.relayId,
        bootId: body.bootId,
        region: body.region,
        apiUrl: body.apiUrl,
        udpEndpoints: body.udpEndpoints,
        publicKey: decodeBase64Url(body.publicKey)!,
        key: DEV_KEY,
        report: () => ({ load: { sessions: 5, channels: 1 }, draining: false, rekeyRequested: [], lostSessions: [] }),
        fetch: async (request) => {
          const response = await toWorker(request);
          seen.push({ path: new URL(request.url).pathname, status: response.status });
          return response;
        },
        timers: { setTimeout: (callback, ms) => timers.push({ callback, ms }), clearTimeout: () => {} },
        now: () => Date.now(),
        random: () => 0.5,
      });
      const runNext = async () => {
        const next = timers.filter((t) => t.ms !== 5_000).shift()!;
        timers.length = 0;
        next.callback();
        for (let i = 0; i < 50 && timers.filter((t) => t.ms !== 5_000).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      };
      try {
        client.start();
        await runNext();
        expect(client.state).toBe('registered');
        await runNext();
        expect(seen.map((s) => `${s.path} ${s.status}`)).toEqual(['/internal/relays/register 200', '/internal/relays/heartbeat 200']);
        expect(await listedRelay(body.relayId)).toMatchObject({ status: 'alive', load: { sessions: 5, channels: 1 } });
        // The control plane loses the relay (a restored database, say): the next heartbeat is 404
        // and the relay registers again.
        await workerDatabase().delete(relays).where(eq(relays.id, body.relayId));
        await runNext();
        expect(client.state).toBe('registering');
        await runNext();
        expect(client.state).toBe('registered');
        expect(seen.slice(2).map((s) => `${s.path} ${s.status}`)).toEqual(['/internal/relays/heartbeat 404', '/internal/relays/register 200']);
        expect(await listedRelay(body.relayId)).toMatchObject({ status: 'alive' });
      } finally {
        client.close();
      }
    });
  });

  describe('per-relay control keys (RELAY_CONTROL_KEYS)', () => {
    function appWithKeys() {
      const relayA = `relay-a-${uniqueSuffix()}`;
      const relayB = `relay-b-${uniqueSuffix()}`;
      const keyA: SigningKey = { keyId: `key-${relayA}`, secret: crypto.getRandomValues(new Uint8Array(32)) };
      const keyB: SigningKey = { keyId: `key-${relayB}`, secret: crypto.getRandomValues(new Uint8Array(32)) };
      const app = createControlApp();
      const appEnv = {
        ...env,
        RELAY_CONTROL_KEYS: JSON.stringify({
          [keyA.keyId]: { relayId: relayA, secret: encodeBase64Url(keyA.secret) },
          [keyB.keyId]: { relayId: relayB, secret: encodeBase64Url(keyB.secret) },
        }),
      };
      const send: Sender = (request) => app.request(request, undefined, appEnv) as Promise<Response>;
      return { relayA, relayB, keyA, keyB, send };
    }

    it('a relay id is accepted only with its own key id: another relay\'s key is 401 and changes nothing', async () => {
      const { relayA, relayB, keyA, keyB, send } = appWithKeys();
      const { body: bodyA, entry } = await registered({ relayId: relayA }, send, keyA);
      expect(entry.controlKeyId).toBe(keyA.keyId);
      // B's key (valid, and B's own relay may use it) cannot speak for A, nor register a new id.
      await expectSignatureRefusal(await send(signedRequest('heartbeat', { ...bodyA, draining: true }, { key: keyB })));
      await expectSignatureRefusal(await send(signedRequest('register', { ...bodyA, region: 'ams' }, { key: keyB })));
      await expectSignatureRefusal(await send(signedRequest('register', registration({ relayId: `relay-c-${uniqueSuffix()}` }), { key: keyB })));
      expect(await listedRelay(relayA, send)).toEqual(entry);
      // The development key is not configured here.
      await expectSignatureRefusal(await send(signedRequest('heartbeat', bodyA)));
      await registered({ relayId: relayB }, send, keyB);
    });
  });

  describe('GET /v1/admin/relays', () => {
    it('shows a relay alive, then dead once its last heartbeat is older than RELAY_DEAD_AFTER_SECONDS, then alive again', async () => {
      const app = createControlApp();
      const appEnv = { ...env, RELAY_DEAD_AFTER_SECONDS: '30' };
      const send: Sender = (request) => app.request(request, undefined, appEnv) as Promise<Response>;
      const start = Date.now();
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(start);
      const { body } = await registered({ region: 'ams' }, send);
      expect((await listedRelay(body.relayId, send))!.status).toBe('alive');
      vi.setSystemTime(start + 30_000);
      expect((await listedRelay(body.relayId, send))!.status).toBe('alive');
      vi.setSystemTime(start + 30_001);
      const dead = await listedRelay(body.relayId, send);
      expect(dead).toMatchObject({ status: 'dead', region: 'ams', lastSeenAt: start, draining: false, udpEndpoints: body.udpEndpoints, bootId: body.bootId });
      // A heartbeat brings it back (signed at the control plane's current time).
      expect((await send(signedRequest('heartbeat', body, { now: start + 30_001 }))).status).toBe(200);
      expect(await listedRelay(body.relayId, send)).toMatchObject({ status: 'alive', lastSeenAt: start + 30_001 });
      const list = (await (await send(new Request(`${BASE_URL}/v1/admin/relays`, { headers: { authorization: `Bearer ${operator.key}` } }))).json()) as { deadAfterSeconds: number };
      expect(list.deadAfterSeconds).toBe(30);
    });

    it('needs an operator key', async () => {
      const minter = await createAppKey(['tokens:mint']);
      expect((await workerFetch('/v1/admin/relays', { headers: { authorization: `Bearer ${minter.key}` } })).status).toBe(403);
      const none = await workerFetch('/v1/admin/relays');
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="parley"');
    });
  });
});
