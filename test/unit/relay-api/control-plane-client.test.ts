import { describe, expect, it } from 'vitest';
import { parseRelayRegistration } from '../../../shared/relay-api/messages.js';
import { CONTROL_PLANE_AUDIENCE, verifyRequest } from '../../../shared/relay-api/request-signing.js';
import { ControlPlaneClient, ControlPlaneClientClosedError, type ControlPlaneClientOptions } from '../../../relay/src/api/control-plane-client.js';
import { NonceCache } from '../../../relay/src/api/nonce-cache.js';
import { API_KEY, API_KEYS, RELAY_BOOT_ID, RELAY_KEY_PAIR } from './helpers.js';

const T0 = 1_760_000_000_000;

/** Timers that run only when the test says so. */
class ManualTimers {
  now = T0;
  #next = 1;
  readonly pending = new Map<number, { at: number; callback: () => void }>();
  setTimeout = (callback: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.pending.set(id, { at: this.now + ms, callback });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.pending.delete(handle as number);
  };
  /** The delay until the earliest pending timer, ignoring request timeouts past it. */
  get nextDelay(): number | undefined {
    const times = [...this.pending.values()].map((t) => t.at - this.now);
    return times.length === 0 ? undefined : Math.min(...times);
  }
  /** Runs the earliest timer and lets the promise chain it starts settle. */
  async fire(): Promise<void> {
    const [id, timer] = [...this.pending.entries()].sort((a, b) => a[1].at - b[1].at)[0]!;
    this.pending.delete(id);
    this.now = Math.max(this.now, timer.at);
    timer.callback();
    await settle();
  }
}

/** Lets every promise chain started so far run to completion (no real I/O is involved). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A fetch that never answers; it rejects when its signal aborts, as fetch does. */
function hanging(request: Request): Promise<Response> {
  return new Promise((_resolve, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason)));
}

interface Sent {
  readonly url: string;
  readonly request: Request;
  readonly body: Uint8Array;
}

function setup(statuses: Array<number | 'network'>, overrides: Partial<ControlPlaneClientOptions> = {}) {
  const timers = new ManualTimers();
  const sent: Sent[] = [];
  const logs: Array<{ fields: Record<string, unknown>; message: string }> = [];
  let draining = false;
  const client = new ControlPlaneClient({
    controlUrl: 'https://control.example/api',
    relayId: 'relay-fra-1',
    bootId: RELAY_BOOT_ID,
    region: 'fra',
    apiUrl: 'https://relay-fra-1.example/',
    udpEndpoints: [
      { host: '203.0.113.7', port: 3478 },
      { host: '203.0.113.7', port: 3479 },
    ],
    publicKey: RELAY_KEY_PAIR.publicKey,
    key: API_KEY,
    report: () => ({ load: { sessions: sent.length, channels: 1 }, draining, rekeyRequested: [], lostSessions: [] }),
    fetch: async (request) => {
      sent.push({ url: request.url, request, body: new Uint8Array(await request.arrayBuffer()) });
      const status = statuses.shift() ?? 200;
      if (status === 'network') throw new TypeError('fetch failed');
      return new Response(null, { status });
    },
    timers,
    now: () => timers.now,
    random: () => 1,
    logger: { info: (fields, message) => logs.push({ fields, message }), warn: (fields, message) => logs.push({ fields, message }) },
    heartbeatIntervalMs: 10_000,
    initialBackoffMs: 1_000,
    maxBackoffMs: 8_000,
    ...overrides,
  });
  return { client, timers, sent, logs, setDraining: (value: boolean) => (draining = value) };
}

describe('ControlPlaneClient', () => {
  it('registers, then heartbeats with the same signed body', async () => {
    const { client, timers, sent, setDraining } = setup([200, 200, 200]);
    client.start();
    client.start(); // idempotent
    expect(timers.pending.size).toBe(1);
    await timers.fire();
    expect(client.state).toBe('registered');
    expect(sent[0]!.url).toBe('https://control.example/api/internal/relays/register');
    expect(timers.nextDelay).toBe(10_000);
    setDraining(true);
    await timers.fire();
    expect(sent[1]!.url).toBe('https://control.example/api/internal/relays/heartbeat');

    const nonces = new NonceCache();
    for (const { request, body } of sent) {
      const verdict = verifyRequest(
        { method: request.method, url: request.url, authorization: request.headers.get('authorization'), body },
        { audience: CONTROL_PLANE_AUDIENCE, keys: API_KEYS, now: timers.now, nonces },
      );
      expect(verdict.ok).toBe(true);
      expect(request.headers.get('content-type')).toBe('application/json');
    }
    const second = parseRelayRegistration(JSON.parse(new TextDecoder().decode(sent[1]!.body)));
    expect(second).toEqual({
      ok: true,
      value: {
        relayId: 'relay-fra-1',
        bootId: RELAY_BOOT_ID,
        region: 'fra',
        apiUrl: 'https://relay-fra-1.example/',
        udpEndpoint: { host: '203.0.113.7', port: 3478 },
        udpEndpoints: [
          { host: '203.0.113.7', port: 3478 },
          { host: '203.0.113.7', port: 3479 },
        ],
        publicKey: Buffer.from(RELAY_KEY_PAIR.publicKey).toString('base64url'),
        load: { sessions: 1, channels: 1 },
        draining: true,
        rekeyRequested: [],
        lostSessions: [],
      },
    });
    client.close();
  });

  it('backs off exponentially up to the cap, then resets after a success', async () => {
    const { client, timers, logs } = setup(['network', 500, 503, 'network', 500, 200, 200]);
    client.start();
    const delays: Array<number | undefined> = [];
    for (let i = 0; i < 6; i++) {
      await timers.fire();
      delays.push(timers.nextDelay);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 10_000]);
    expect(client.state).toBe('registered');
    expect(logs.filter((l) => l.fields.event === 'control_plane.register_failed')).toHaveLength(5);
    expect(logs[0]!.fields).toMatchObject({ status: null, error: 'TypeError', attempt: 1 });
    expect(logs[1]!.fields).toMatchObject({ status: 500, error: null, attempt: 2 });
    client.close();
  });

  it('applies jitter between half and all of the backoff', async () => {
    const { client, timers } = setup(['network'], { random: () => 0 });
    client.start();
    await timers.fire();
    expect(timers.nextDelay).toBe(500);
    client.close();
  });

  it('goes back to registering when a heartbeat gets 404', async () => {
    const { client, timers, sent } = setup([200, 404, 200]);
    client.start();
    await timers.fire();
    await timers.fire();
    expect(client.state).toBe('registering');
    await timers.fire();
    expect(sent.map((s) => s.url.split('/').at(-1))).toEqual(['register', 'heartbeat', 'register']);
    expect(client.state).toBe('registered');
    client.close();
  });

  it('keeps heartbeating (not re-registering) after a 5xx heartbeat', async () => {
    const { client, timers, sent } = setup([200, 502, 200]);
    client.start();
    await timers.fire();
    await timers.fire();
    await timers.fire();
    expect(sent.map((s) => s.url.split('/').at(-1))).toEqual(['register', 'heartbeat', 'heartbeat']);
    client.close();
  });

  it('times out a hanging request and retries', async () => {
    let calls = 0;
    const { client, timers } = setup([], {
      fetch: (request) => {
        calls++;
        return hanging(request);
      },
      requestTimeoutMs: 3_000,
    });
    client.start();
    await timers.fire(); // sends; the timeout is now pending
    expect(timers.nextDelay).toBe(3_000);
    await timers.fire(); // the timeout aborts the request
    expect(timers.nextDelay).toBe(1_000);
    await timers.fire();
    expect(calls).toBe(2);
    client.close();
  });

  it('sends a heartbeat now when asked (e.g. on drain)', async () => {
    const { client, timers, sent } = setup([200, 200]);
    client.sendHeartbeatNow(); // not registered: ignored
    client.start();
    await timers.fire();
    client.sendHeartbeatNow();
    expect(timers.nextDelay).toBe(0);
    await timers.fire();
    expect(sent).toHaveLength(2);
    client.close();
  });

  it('close() is idempotent, cancels timers and aborts the request in flight; start() after close throws', async () => {
    let signal: AbortSignal | undefined;
    const { client, timers } = setup([], {
      fetch: (request) => {
        signal = request.signal;
        return hanging(request);
      },
    });
    client.start();
    await timers.fire();
    client.close();
    client.close();
    expect(signal?.aborted).toBe(true);
    await settle();
    expect(timers.pending.size).toBe(0);
    expect(client.state).toBe('closed');
    expect(() => client.start()).toThrow(ControlPlaneClientClosedError);
  });

  it('never logs the URL (it may carry credentials), bodies or signatures', async () => {
    const { client, timers, logs, sent } = setup(['network', 500, 401]);
    client.start();
    for (let i = 0; i < 3; i++) await timers.fire();
    const logged = JSON.stringify(logs);
    expect(logged).not.toContain('control.example');
    expect(logged).not.toContain(sent[0]!.request.headers.get('authorization')!.slice(-43));
    client.close();
  });

  it('refuses a short secret, a wrong-sized public key or a URL fetch() cannot use', () => {
    const options = {
      controlUrl: 'https://c.example/',
      relayId: 'r',
      bootId: RELAY_BOOT_ID,
      region: 'fra',
      apiUrl: 'https://r.example/',
      udpEndpoints: [{ host: 'h', port: 1 }],
      report: () => ({ load: { sessions: 0, channels: 0 }, draining: false, rekeyRequested: [], lostSessions: [] }),
      fetch: async () => new Response(null),
      timers: new ManualTimers(),
      now: () => T0,
    };
    expect(() => new ControlPlaneClient({ ...options, publicKey: RELAY_KEY_PAIR.publicKey, key: { keyId: 'k', secret: new Uint8Array(8) } })).toThrow(RangeError);
    expect(() => new ControlPlaneClient({ ...options, publicKey: new Uint8Array(31), key: API_KEY })).toThrow(RangeError);
    const good = { ...options, publicKey: RELAY_KEY_PAIR.publicKey, key: API_KEY };
    expect(() => new ControlPlaneClient({ ...good, controlUrl: 'https://user:pass@c.example/' })).toThrow(/credentials/);
    expect(() => new ControlPlaneClient({ ...good, controlUrl: 'ftp://c.example/' })).toThrow(RangeError);
    // The API URL must be one the control plane accepts (shared/relay-api/messages.ts).
    expect(() => new ControlPlaneClient({ ...good, apiUrl: 'https://user:pass@r.example/' })).toThrow(/apiUrl/);
    expect(() => new ControlPlaneClient({ ...good, apiUrl: 'https://r.example/?q' })).toThrow(/apiUrl/);
    expect(() => new ControlPlaneClient({ ...good, apiUrl: 'relative/' })).toThrow(RangeError);
  });

  it('reports rekey requests and lost sessions in every body, and says which report a 2xx acknowledged', async () => {
    const delivered: string[][] = [];
    let lost = ['ses-lost-1', 'ses-lost-2'];
    const { client, timers, sent } = setup([200, 500, 200], {
      report: async () => ({ load: { sessions: 1, channels: 1 }, draining: false, rekeyRequested: ['ses-worn'], lostSessions: lost }),
      delivered: (report) => {
        delivered.push([...report.lostSessions]);
        lost = lost.filter((id) => !report.lostSessions.includes(id));
      },
    });
    client.start();
    await timers.fire(); // register: 200
    await timers.fire(); // heartbeat: 500, lists nothing new: the register already carried them
    const bodies = sent.map((s) => parseRelayRegistration(JSON.parse(new TextDecoder().decode(s.body))));
    expect(bodies[0]).toMatchObject({ ok: true, value: { rekeyRequested: ['ses-worn'], lostSessions: ['ses-lost-1', 'ses-lost-2'] } });
    expect(bodies[1]).toMatchObject({ ok: true, value: { rekeyRequested: ['ses-worn'], lostSessions: [] } });
    expect(delivered).toEqual([['ses-lost-1', 'ses-lost-2']]); // the 500 acknowledged nothing
    client.close();
  });
});
