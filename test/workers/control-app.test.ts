import { exports } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { CONTROL_VERSION, createControlApp } from '../../control/src/app.js';
import { version as packageVersion } from '../../package.json';

// Runs inside workerd: `exports.default` is the Worker from wrangler.toml `main`,
// reached through the runtime's own fetch dispatch.
const worker = exports.default;

describe('control plane on workerd', () => {
  it('GET /healthz reports the service and the package version', async () => {
    const response = await worker.fetch('https://control.test/healthz');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({
      ok: true,
      service: 'parley-control',
      version: packageVersion,
    });
    expect(CONTROL_VERSION).toBe(packageVersion);
  });

  it('unknown routes get a JSON 404', async () => {
    for (const path of ['/', '/nope', '/healthz/extra', '/v1/channels']) {
      const response = await worker.fetch(`https://control.test${path}`);
      expect(response.status, path).toBe(404);
      expect(response.headers.get('content-type'), path).toMatch(/^application\/json/);
      expect(await response.json(), path).toEqual({ error: 'not_found' });
    }
  });

  it('a non-GET method on /healthz is not found, not served', async () => {
    const response = await worker.fetch('https://control.test/healthz', { method: 'POST' });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: 'not_found' });
  });

  it('an unexpected error becomes a JSON 500 without message or stack', async () => {
    const app = createControlApp();
    app.get('/explode', () => {
      throw new Error('secret detail that must not reach the client');
    });
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const response = await app.request('/explode', {}, { PARLEY_ENV: 'test' });
      expect(response.status).toBe(500);
      const text = await response.text();
      expect(JSON.parse(text)).toEqual({ error: 'internal_error' });
      expect(text).not.toContain('secret detail');
      expect(text).not.toContain('at ');
      expect(logged).toHaveBeenCalledTimes(1);
      expect(String(logged.mock.calls[0]?.[0])).not.toContain('    at ');
    } finally {
      logged.mockRestore();
    }
  });
});
