/**
 * The README's "Deploying the control plane" commands make secrets production accepts: its shell
 * blocks are run as written, with `npx wrangler secret put NAME --env production` writing to a
 * file instead of Cloudflare, and the values go through the control plane's and the relay's own
 * configuration checks with PARLEY_ENV=production.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../control/dev/local-paths.js';
import { loadControlConfig } from '../../control/src/config.js';
import { loadRelayConfig } from '../../relay/src/config.js';

let out: string;
let secrets: Record<string, string>;
let relaySecrets: Record<string, string>;

function deployingSection(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('### Deploying the control plane');
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start);
  return readme.slice(start, end < 0 ? undefined : end);
}

function shellBlocks(section: string): string[] {
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'parley-deploying-docs-'));
  const blocks = shellBlocks(deployingSection());
  const secretBlocks = blocks.filter((b) => b.includes('wrangler secret put'));
  expect(secretBlocks.length).toBeGreaterThanOrEqual(2);
  const script = secretBlocks
    .join('\n')
    .replaceAll(/npx wrangler secret put ([A-Z_]+) --env production/g, 'cat > "$OUT/$1"')
    .replaceAll('<org>', 'example')
    .replaceAll("'<token>'", "'a-turso-token'");
  execFileSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: out, env: { ...process.env, OUT: out }, encoding: 'utf8' });
  secrets = Object.fromEntries(
    readdirSync(out)
      .filter((name) => /^[A-Z_]+$/.test(name))
      .map((name) => [name, readFileSync(join(out, name), 'utf8').trim()]),
  );
  relaySecrets = Object.fromEntries(
    readFileSync(join(out, 'relay-ams.secrets'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
});

afterAll(() => {
  rmSync(out, { recursive: true, force: true });
});

describe('README: Deploying the control plane', () => {
  it('sets every secret the production Worker requires, and production accepts them', () => {
    expect(Object.keys(secrets).sort()).toEqual(['JWT_SIGNING_KEY', 'LIBSQL_AUTH_TOKEN', 'LIBSQL_URL', 'REFRESH_TOKEN_SECRET', 'RELAY_API_KEY', 'RELAY_CONTROL_KEYS']);
    const config = loadControlConfig({ PARLEY_ENV: 'production', ...secrets });
    expect(config.environment).toBe('production');
    expect(config.insecureDefaults).toEqual([]);
    expect(config.relays.controlKeys.get('relay-ams')?.relayId).toBe('parley-relay-ams');
    // Without any one of them, production refuses to serve.
    for (const name of Object.keys(secrets)) {
      const missing = { PARLEY_ENV: 'production', ...secrets, [name]: undefined };
      expect(() => loadControlConfig(missing), name).toThrow(name);
    }
  });

  it("gives the relay keys its production configuration accepts, matching the control plane's", () => {
    const pair = generateKeyPairSync('x25519');
    const relay = loadRelayConfig(
      {
        PARLEY_ENV: 'production',
        RELAY_ID: 'parley-relay-ams',
        RELAY_PUBLIC_UDP_ENDPOINT: '203.0.113.7:40000',
        RELAY_PUBLIC_API_URL: 'https://parley-relay-ams.fly.dev/',
        CONTROL_PLANE_URL: 'https://parley-control.example.workers.dev/',
        RELAY_PRIVATE_KEY: pair.privateKey.export({ format: 'jwk' }).d,
        ...relaySecrets,
      },
      { cores: 1 },
    );
    const control = loadControlConfig({ PARLEY_ENV: 'production', ...secrets });
    // The control plane signs with a key the relay accepts…
    expect(Buffer.from(relay.api.keys.get(control.relays.apiKey.id)!).equals(Buffer.from(control.relays.apiKey.secret))).toBe(true);
    // …and accepts the key the relay signs its register/heartbeat requests with, for this relay only.
    const controlKey = control.relays.controlKeys.get(relay.controlPlaneKey.keyId)!;
    expect(controlKey.relayId).toBe(relay.relayId);
    expect(Buffer.from(controlKey.secret).equals(Buffer.from(relay.controlPlaneKey.secret))).toBe(true);
  });
});
