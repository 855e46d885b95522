import { exports } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { CONTROL_VERSION, createControlApp } from '../../control/src/app.js';
import { ERROR_CODES } from '../../control/src/http/errors.js';
import { version as packageVersion } from '../../package.json';
// Vite inlines the file at transform time, so workerd needs no file system.
import protocolDoc from '../../docs/protocol.md?raw';

// Runs inside workerd: `exports.default` is the Worker from wrangler.toml `main`,
// reached through the runtime's own fetch dispatch.
const worker = exports.default;

const TEST_ENV = { PARLEY_ENV: 'test', LIBSQL_URL: 'http://127.0.0.1:9/' };

describe('control plane on workerd', () => {
  it('GET /healthz reports the service and the package version', async () => {
    const response = await worker.fetch('https://control.test/healthz');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-request-id')).toMatch(/^req_[a-z2-7]{26}$/);
    expect(await response.json()).toEqual({ ok: true, service: 'parley-control', version: packageVersion });
    expect(CONTROL_VERSION).toBe(packageVersion);
  });

  it('unknown routes get the JSON error shape with a stable code', async () => {
    for (const path of ['/', '/nope', '/healthz/extra', '/v1/nothing-here']) {
      const response = await worker.fetch(`https://control.test${path}`);
      expect(response.status, path).toBe(404);
      expect(response.headers.get('content-type'), path).toMatch(/^application\/json/);
      expect(await response.json(), path).toEqual({ error: 'not_found', message: 'Not found.' });
    }
  });

  it('a non-GET method on /healthz is not found, not served', async () => {
    const response = await worker.fetch('https://control.test/healthz', { method: 'POST' });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: string }).error).toBe('not_found');
  });

  it('an unexpected error becomes a JSON 500 without message or stack', async () => {
    const app = createControlApp();
    app.get('/explode', () => {
      throw new Error('secret detail that must not reach the client');
    });
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const info = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const response = await app.request('/explode', {}, TEST_ENV);
      expect(response.status).toBe(500);
      const text = await response.text();
      expect(JSON.parse(text)).toEqual({ error: 'internal_error', message: 'Something went wrong on our side.' });
      expect(text).not.toContain('secret detail');
      expect(text).not.toContain('at ');
      const lines = logged.mock.calls.map((call) => String(call[0]));
      expect(lines.some((line) => JSON.parse(line).event === 'unhandled_error')).toBe(true);
      for (const line of lines) expect(line).not.toContain('    at ');
    } finally {
      logged.mockRestore();
      info.mockRestore();
    }
  });

  it('production mode with development secrets or without Turso refuses to serve (503 misconfigured)', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const info = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const app = createControlApp();
      for (const path of ['/healthz', '/v1/openapi.json', '/.well-known/jwks.json']) {
        const response = await app.request(path, {}, { PARLEY_ENV: 'production' });
        expect(response.status, path).toBe(503);
        expect(((await response.json()) as { error: string }).error).toBe('misconfigured');
      }
      const problems = logged.mock.calls.map((call) => JSON.parse(String(call[0]))).find((r) => r.event === 'misconfigured');
      const variables = (problems.problems as { variable: string }[]).map((p) => p.variable);
      expect(variables).toEqual(expect.arrayContaining(['LIBSQL_URL', 'LIBSQL_AUTH_TOKEN', 'JWT_SIGNING_KEY', 'REFRESH_TOKEN_SECRET', 'RELAY_CONTROL_KEYS', 'RELAY_API_KEY']));
    } finally {
      logged.mockRestore();
      info.mockRestore();
    }
  });

  it('a database it cannot reach is a 503 unavailable with Retry-After, not a 500', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const info = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const app = createControlApp();
      // A well-formed app key, so the request gets as far as looking it up.
      const appKey = `ak_${'a'.repeat(26)}.${'A'.repeat(43)}`;
      const response = await app.request(
        '/v1/admin/relays',
        { headers: { authorization: `Bearer ${appKey}` } },
        { ...TEST_ENV, LIBSQL_URL: 'http://127.0.0.1:9/' },
      );
      const body = (await response.json()) as { error: string; message: string };
      expect(response.status).toBe(503);
      expect(body.error).toBe('unavailable');
      expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|fetch|libsql|hrana/i);
      const record = logged.mock.calls.map((call) => JSON.parse(String(call[0]))).find((r) => r.event === 'database_unavailable');
      expect(record).toBeDefined();
    } finally {
      logged.mockRestore();
      info.mockRestore();
    }
  });

  it('every error code has a status that matches its meaning', () => {
    for (const [code, status] of Object.entries(ERROR_CODES)) {
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
    }
  });

  it('publishes the access-token verification key as a JWK set', async () => {
    const response = await worker.fetch('https://control.test/.well-known/jwks.json');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { keys: { kid: string; kty: string; crv: string; x: string; d?: string }[] };
    expect(body.keys).toHaveLength(1);
    expect(body.keys[0]).toMatchObject({ kid: 'insecure-dev-jwt', kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(body.keys[0]!.d).toBeUndefined();
  });
});

describe('the OpenAPI document', () => {
  it('lists exactly the operations the app routes (method and path), each with responses', async () => {
    const app = createControlApp();
    const routed = new Set(
      app.routes
        .filter((route) => route.method !== 'ALL')
        .map((route) => `${route.method} ${route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`),
    );
    const response = await worker.fetch('https://control.test/v1/openapi.json');
    expect(response.status).toBe(200);
    const doc = (await response.json()) as { openapi: string; paths: Record<string, Record<string, { responses?: object }>> };
    expect(doc.openapi).toBe('3.1.0');
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        documented.add(`${method.toUpperCase()} ${path}`);
        expect(Object.keys(operation.responses ?? {}).length, `${method} ${path}`).toBeGreaterThan(0);
      }
    }
    expect([...documented].sort()).toEqual([...routed].sort());
    // Sanity: the routes of every area are there.
    for (const expected of ['POST /v1/auth/login', 'GET /v1/channels/{channelId}', 'POST /v1/tokens', 'POST /internal/relays/heartbeat', 'GET /v1/admin/relays']) {
      expect([...documented].some((op) => op.replace(/\{[^}]+\}/g, '{x}') === expected.replace(/\{[^}]+\}/g, '{x}')), expected).toBe(true);
    }
  });
  it('every operation has its own entry in docs/protocol.md §4', async () => {
    const response = await worker.fetch('https://control.test/v1/openapi.json');
    const doc = (await response.json()) as { paths: Record<string, Record<string, unknown>> };
    const start = protocolDoc.indexOf('\n## 4. ');
    const end = protocolDoc.indexOf('\n## 5. ', start);
    expect(start, '§4 heading').toBeGreaterThan(0);
    const section4 = protocolDoc.slice(start, end === -1 ? undefined : end);
    // Path parameters may be named differently in prose ({id} vs {keyId}); the shape must match.
    const shape = (op: string) => op.replace(/\{[^}]+\}/g, '{}');
    const mentioned = new Set(
      [...section4.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^`?\s]*)/g)].map((m) => shape(`${m[1]} ${m[2]}`)),
    );
    const missing: string[] = [];
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations)) {
        const op = `${method.toUpperCase()} ${path}`;
        if (!mentioned.has(shape(op))) missing.push(op);
      }
    }
    expect(missing).toEqual([]);
  });
});
