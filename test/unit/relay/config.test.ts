import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  describeRelayConfig,
  formatEndpoint,
  INSECURE_DEV_API_KEYS,
  INSECURE_DEV_CONTROL_KEY,
  INSECURE_DEV_RELAY_PRIVATE_KEY,
  INSECURE_DEV_RELAY_PUBLIC_KEY,
  loadRelayConfig,
  MAX_RELAY_WORKERS,
  RelayConfigError,
  workerPublicEndpoint,
  type RelayConfig,
  type RelayConfigProblem,
} from '../../../relay/src/config.js';
import type { RouterOptions } from '../../../relay/src/media/datagram-router.js';
import type { RegistryLimits } from '../../../relay/src/media/session-registry.js';

type Env = Record<string, string | undefined>;

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

function problemsOf(env: Env): RelayConfigProblem[] {
  try {
    loadRelayConfig(env);
  } catch (error) {
    if (error instanceof RelayConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected RelayConfigError');
}

function errorOf(env: Env): RelayConfigError {
  try {
    loadRelayConfig(env);
  } catch (error) {
    if (error instanceof RelayConfigError) return error;
    throw error;
  }
  throw new Error('expected RelayConfigError');
}

function variables(problems: readonly RelayConfigProblem[]): string[] {
  return problems.map((p) => p.variable);
}

const apiSecret = b64url(randomBytes(32));
const controlSecret = b64url(randomBytes(32));
const privateKey = b64url(randomBytes(32));

/** A complete, valid production environment. */
function productionEnv(overrides: Env = {}): Env {
  return {
    PARLEY_ENV: 'production',
    RELAY_ID: 'relay-ams-1',
    RELAY_REGION: 'ams',
    RELAY_PUBLIC_UDP_ENDPOINT: '203.0.113.7:40000',
    RELAY_API_KEYS: `k1:${apiSecret}`,
    RELAY_CONTROL_KEY: `relay-ams-1:${controlSecret}`,
    RELAY_PRIVATE_KEY: privateKey,
    CONTROL_PLANE_URL: 'https://control.example.com',
    RELAY_PUBLIC_API_URL: 'https://relay-ams-1.fly.dev',
    ...overrides,
  };
}

describe('loadRelayConfig: development defaults', () => {
  const config = loadRelayConfig({});

  it('starts with no variables at all', () => {
    expect(config.environment).toBe('development');
    expect(config.relayId).toBe('local-relay');
    expect(config.region).toBe('local');
    expect(config.logLevel).toBe('info');
    expect(config.udp).toEqual({ host: '0.0.0.0', port: 40000, socketType: 'udp4', publicEndpoint: { host: '127.0.0.1', port: 40000 } });
    expect(config.api.host).toBe('127.0.0.1');
    expect(config.api.port).toBe(7400);
    expect(config.metrics).toEqual({ host: '127.0.0.1', port: 9091, token: null });
    expect(config.controlPlaneUrl).toBe('http://127.0.0.1:8787/');
    // The control plane reaches the API listener on loopback, at its configured port.
    expect(config.publicApiUrl).toBe('http://127.0.0.1:7400/');
    expect(loadRelayConfig({ RELAY_API_PORT: '7411' }).publicApiUrl).toBe('http://127.0.0.1:7411/');
    expect(config.drainDeadlineMs).toBe(300_000);
  });

  it('takes RELAY_PUBLIC_API_URL, with a trailing slash added', () => {
    expect(loadRelayConfig({ RELAY_PUBLIC_API_URL: 'http://relay.internal:7400/api' }).publicApiUrl).toBe('http://relay.internal:7400/api/');
  });

  it('uses the well-known insecure keys, and says so', () => {
    expect(config.insecureDefaults).toEqual(['RELAY_API_KEYS', 'RELAY_PRIVATE_KEY', 'RELAY_CONTROL_KEY']);
    expect([...config.api.keys.keys()]).toEqual(['insecure-dev']);
    expect(config.controlPlaneKey.keyId).toBe('insecure-dev-control');
    expect(b64url(config.api.keys.get('insecure-dev')!)).toBe(INSECURE_DEV_API_KEYS.split(':')[1]);
    expect(b64url(config.privateKey)).toBe(INSECURE_DEV_RELAY_PRIVATE_KEY);
    expect(b64url(config.publicKey)).toBe(INSECURE_DEV_RELAY_PUBLIC_KEY);
  });

  it('maps directly onto RegistryLimits and RouterOptions', () => {
    const registry: RegistryLimits = config.registry;
    const router: RouterOptions = config.router;
    expect(registry).toEqual({
      maxSessions: 10_000,
      maxChannels: 5_000,
      idleTimeoutMs: 30_000,
      rotationOverlapMs: 10_000,
      session: {
        packetsPerSecond: 150,
        packetBurst: 100,
        bytesPerSecond: 64_000,
        byteBurst: 32_000,
        unlatchedPacketsPerSecond: 10,
        replayWindowSize: 128,
      },
    });
    expect(router).toEqual({ maxDatagramBytes: 1500, timingSampleEvery: 16 });
  });

  it('treats empty and blank variables as unset', () => {
    expect(loadRelayConfig({ RELAY_UDP_PORT: '', RELAY_ID: '   ' }).udp.port).toBe(40000);
  });

  it('registers, and heartbeats every 10 s, unless told otherwise', () => {
    expect(config.register).toBe(true);
    expect(config.heartbeatIntervalMs).toBe(10_000);
  });
});

describe('loadRelayConfig: registration and heartbeat interval', () => {
  it('reads RELAY_REGISTER and RELAY_HEARTBEAT_INTERVAL_MS (a short interval for end-to-end tests)', () => {
    const config = loadRelayConfig({ RELAY_REGISTER: 'false', RELAY_HEARTBEAT_INTERVAL_MS: '200' });
    expect(config.register).toBe(false);
    expect(config.heartbeatIntervalMs).toBe(200);
    expect(loadRelayConfig({ RELAY_REGISTER: 'true' }).register).toBe(true);
  });

  it('refuses anything but true/false, an interval out of range, and in production a relay that does not register or beats faster than 1 s', () => {
    expect(problemsOf({ RELAY_REGISTER: 'no', RELAY_HEARTBEAT_INTERVAL_MS: '50' }).map((p) => p.variable)).toEqual(['RELAY_REGISTER', 'RELAY_HEARTBEAT_INTERVAL_MS']);
    expect(problemsOf({ RELAY_HEARTBEAT_INTERVAL_MS: '600001' }).map((p) => p.variable)).toEqual(['RELAY_HEARTBEAT_INTERVAL_MS']);
    expect(problemsOf(productionEnv({ RELAY_REGISTER: 'false', RELAY_HEARTBEAT_INTERVAL_MS: '500' })).map((p) => p.variable)).toEqual([
      'RELAY_REGISTER',
      'RELAY_HEARTBEAT_INTERVAL_MS',
    ]);
    expect(loadRelayConfig(productionEnv({ RELAY_HEARTBEAT_INTERVAL_MS: '1000' })).heartbeatIntervalMs).toBe(1000);
  });
});

describe('docs/deploying-relays.md configuration table', () => {
  it('lists every RELAY_ variable the relay reads', () => {
    const doc = readFileSync(new URL('../../../docs/deploying-relays.md', import.meta.url), 'utf8');
    const source = ['config.ts', 'main.ts', 'relay-server.ts'].map((file) => readFileSync(new URL(`../../../relay/src/${file}`, import.meta.url), 'utf8')).join('\n');
    const read = new Set([...source.matchAll(/'(RELAY_[A-Z0-9_]+)'/g)].map((m) => m[1]!));
    expect(read.has('RELAY_REGISTER')).toBe(true);
    expect(read.has('RELAY_HEARTBEAT_INTERVAL_MS')).toBe(true);
    for (const variable of read) expect(doc, variable).toContain(`| \`${variable}\` |`);
  });
});

describe('loadRelayConfig: values', () => {
  it('reads every limit', () => {
    const config = loadRelayConfig({
      RELAY_MAX_SESSIONS: '20',
      RELAY_MAX_CHANNELS: '7',
      RELAY_MAX_DATAGRAM_BYTES: '1200',
      RELAY_IDLE_TIMEOUT_SECONDS: '45',
      RELAY_ROTATION_OVERLAP_SECONDS: '5',
      RELAY_SESSION_PPS: '60',
      RELAY_SESSION_PACKET_BURST: '30',
      RELAY_SESSION_BPS: '20000',
      RELAY_SESSION_BYTE_BURST: '10000',
      RELAY_UNLATCHED_PPS: '3',
      RELAY_REPLAY_WINDOW: '1024',
      RELAY_DRAIN_DEADLINE_SECONDS: '0',
      RELAY_LOG_LEVEL: 'debug',
    });
    expect(config.registry).toEqual({
      maxSessions: 20,
      maxChannels: 7,
      idleTimeoutMs: 45_000,
      rotationOverlapMs: 5_000,
      session: {
        packetsPerSecond: 60,
        packetBurst: 30,
        bytesPerSecond: 20_000,
        byteBurst: 10_000,
        unlatchedPacketsPerSecond: 3,
        replayWindowSize: 1024,
      },
    });
    expect(config.router.maxDatagramBytes).toBe(1200);
    expect(config.drainDeadlineMs).toBe(0);
    expect(config.logLevel).toBe('debug');
  });

  it('reads several API keys in order, for rotation', () => {
    const second = b64url(randomBytes(48));
    const config = loadRelayConfig({ RELAY_API_KEYS: ` k2:${apiSecret} , k1:${second}, ` });
    expect([...config.api.keys.keys()]).toEqual(['k2', 'k1']);
    expect(b64url(config.api.keys.get('k1')!)).toBe(second);
    expect(config.insecureDefaults).toEqual(['RELAY_PRIVATE_KEY', 'RELAY_CONTROL_KEY']);
  });

  it('accepts padded base64url, and returns plain Uint8Arrays it owns', () => {
    const secret = randomBytes(32);
    const config = loadRelayConfig({ RELAY_API_KEYS: `k:${b64url(secret)}=`, RELAY_PRIVATE_KEY: `${privateKey}=` });
    const parsed = config.api.keys.get('k')!;
    expect(parsed).toEqual(new Uint8Array(secret));
    expect(Buffer.isBuffer(parsed)).toBe(false);
    expect(Buffer.isBuffer(config.privateKey)).toBe(false);
  });

  it('formats an IPv6 endpoint with brackets and binds udp6 to an IPv6 host', () => {
    const config = loadRelayConfig({ RELAY_UDP_HOST: '::', RELAY_PUBLIC_UDP_ENDPOINT: '[2001:db8::7]:41000' });
    expect(config.udp.socketType).toBe('udp6');
    expect(config.udp.publicEndpoint).toEqual({ host: '2001:db8::7', port: 41000 });
    expect(formatEndpoint(config.udp.publicEndpoint)).toBe('[2001:db8::7]:41000');
    expect(describeRelayConfig(config)).toMatchObject({ udp: { publicEndpoint: '[2001:db8::7]:41000' } });
  });

  it('loads a complete production environment, listening on every address', () => {
    const config = loadRelayConfig(productionEnv({ RELAY_METRICS_TOKEN: 'a-long-enough-metrics-token' }));
    expect(config.environment).toBe('production');
    expect(config.api.host).toBe('::');
    expect(config.metrics.host).toBe('::');
    expect(config.metrics.token).toBe('a-long-enough-metrics-token');
    expect(config.insecureDefaults).toEqual([]);
    expect(config.controlPlaneUrl).toBe('https://control.example.com/');
    expect(config.publicApiUrl).toBe('https://relay-ams-1.fly.dev/');
  });
});

describe('loadRelayConfig: problems', () => {
  it('lists every problem at once', () => {
    const problems = problemsOf({
      PARLEY_ENV: 'staging',
      RELAY_ID: 'has spaces',
      RELAY_UDP_PORT: '70000',
      RELAY_API_PORT: 'abc',
      RELAY_MAX_SESSIONS: '0',
      RELAY_MAX_DATAGRAM_BYTES: '100',
      RELAY_REPLAY_WINDOW: '32',
      RELAY_LOG_LEVEL: 'loud',
      RELAY_SESSION_PPS: '1.5',
      RELAY_PUBLIC_UDP_ENDPOINT: 'nohost',
    });
    expect(variables(problems)).toEqual([
      'PARLEY_ENV',
      'RELAY_ID',
      'RELAY_LOG_LEVEL',
      'RELAY_UDP_PORT',
      'RELAY_PUBLIC_UDP_ENDPOINT',
      'RELAY_API_PORT',
      'RELAY_MAX_DATAGRAM_BYTES',
      'RELAY_MAX_SESSIONS',
      'RELAY_SESSION_PPS',
      'RELAY_REPLAY_WINDOW',
    ]);
    const error = errorOf({ RELAY_UDP_PORT: '70000', RELAY_LOG_LEVEL: 'loud' });
    expect(error.name).toBe('RelayConfigError');
    expect(error.message).toContain('2 problems');
    expect(error.message).toContain('RELAY_UDP_PORT: must be a whole number from 0 to 65535, got "70000"');
  });

  it('refuses a byte burst smaller than the largest datagram', () => {
    expect(variables(problemsOf({ RELAY_SESSION_BYTE_BURST: '1000' }))).toEqual(['RELAY_SESSION_BYTE_BURST']);
  });

  it('refuses metrics on the API port', () => {
    expect(variables(problemsOf({ RELAY_METRICS_PORT: '7400' }))).toEqual(['RELAY_METRICS_PORT']);
  });

  it.each([
    ['no colon', apiSecret],
    ['empty key id', `:${apiSecret}`],
    ['standard base64', `k:${Buffer.from(randomBytes(32)).toString('base64').replace(/[^+/]/, '+')}`],
    ['too short', `k:${b64url(randomBytes(16))}`],
    ['non-canonical last character', `k:${apiSecret.slice(0, -1)}${apiSecret.endsWith('B') ? 'C' : 'B'}`],
    ['duplicate key id', `k:${apiSecret},k:${b64url(randomBytes(32))}`],
  ])('refuses RELAY_API_KEYS with %s', (_name, value) => {
    const problems = problemsOf({ RELAY_API_KEYS: value });
    expect(variables(problems)).toEqual(['RELAY_API_KEYS']);
  });

  it.each([
    ['too short', b64url(randomBytes(31))],
    ['too long', b64url(randomBytes(33))],
    ['not base64url', `${privateKey.slice(0, 40)}!!!`],
  ])('refuses a RELAY_PRIVATE_KEY that is %s', (_name, value) => {
    expect(variables(problemsOf({ RELAY_PRIVATE_KEY: value }))).toEqual(['RELAY_PRIVATE_KEY']);
  });

  it('never puts a secret value in a message', () => {
    const shortSecret = b64url(randomBytes(20));
    const badKey = `${privateKey.slice(0, 30)}*${privateKey.slice(31)}`;
    const token = 'short tok';
    const url = 'https://user:hunter2hunter2@control.example.com/?q=1';
    const error = errorOf({
      RELAY_API_KEYS: `${shortSecret},k2:${shortSecret},k3:${apiSecret}+`,
      RELAY_PRIVATE_KEY: badKey,
      RELAY_METRICS_TOKEN: token,
      CONTROL_PLANE_URL: url,
    });
    expect(variables(error.problems)).toEqual([
      'RELAY_API_KEYS',
      'RELAY_API_KEYS',
      'RELAY_API_KEYS',
      'RELAY_METRICS_TOKEN',
      'CONTROL_PLANE_URL',
      'CONTROL_PLANE_URL',
      'RELAY_PRIVATE_KEY',
    ]);
    for (const secret of [shortSecret, apiSecret, badKey, token, 'hunter2hunter2', privateKey.slice(0, 20)]) {
      expect(error.message).not.toContain(secret);
    }
    expect(error.message).toContain('key id "k2"');
  });
});

describe('loadRelayConfig: production refuses insecure settings', () => {
  it('refuses to start with nothing set, naming each missing variable', () => {
    expect(variables(problemsOf({ PARLEY_ENV: 'production' }))).toEqual([
      'RELAY_ID',
      'RELAY_PUBLIC_UDP_ENDPOINT',
      'RELAY_API_KEYS',
      'CONTROL_PLANE_URL',
      'RELAY_PUBLIC_API_URL',
      'RELAY_PRIVATE_KEY',
      'RELAY_CONTROL_KEY',
    ]);
  });

  it('refuses a public API URL without TLS, on loopback, with credentials, a query or a fragment, never quoting it', () => {
    expect(problemsOf(productionEnv({ RELAY_PUBLIC_API_URL: 'http://relay-ams-1.fly.dev' }))).toEqual([
      { variable: 'RELAY_PUBLIC_API_URL', problem: 'must be https:// in production' },
    ]);
    expect(variables(problemsOf(productionEnv({ RELAY_PUBLIC_API_URL: 'https://127.0.0.1:7400' })))).toEqual(['RELAY_PUBLIC_API_URL']);
    expect(variables(problemsOf(productionEnv({ RELAY_PUBLIC_API_URL: 'https://[::1]:7400' })))).toEqual(['RELAY_PUBLIC_API_URL']);
    expect(variables(problemsOf(productionEnv({ RELAY_PUBLIC_API_URL: 'ftp://relay.example' })))).toEqual(['RELAY_PUBLIC_API_URL']);
    expect(variables(problemsOf(productionEnv({ RELAY_PUBLIC_API_URL: 'relay.example' })))).toEqual(['RELAY_PUBLIC_API_URL']);
    const error = errorOf(productionEnv({ RELAY_PUBLIC_API_URL: 'https://u:hunter2hunter2@relay.example/?x#y' }));
    expect(variables(error.problems)).toEqual(['RELAY_PUBLIC_API_URL', 'RELAY_PUBLIC_API_URL']);
    expect(error.message).not.toContain('hunter2hunter2');
    // Development takes http:// and loopback.
    expect(loadRelayConfig({ RELAY_PUBLIC_API_URL: 'http://127.0.0.1:7400/' }).publicApiUrl).toBe('http://127.0.0.1:7400/');
  });

  it('refuses a control-plane signing key that relays also accept', () => {
    expect(variables(problemsOf(productionEnv({ RELAY_CONTROL_KEY: `c1:${apiSecret}` })))).toEqual(['RELAY_CONTROL_KEY']);
    expect(variables(problemsOf(productionEnv({ RELAY_CONTROL_KEY: `k1:${controlSecret}` })))).toEqual(['RELAY_CONTROL_KEY']);
    expect(variables(problemsOf(productionEnv({ RELAY_CONTROL_KEY: `a:${controlSecret},b:${b64url(randomBytes(32))}` })))).toEqual(['RELAY_CONTROL_KEY']);
  });

  it('refuses the development keys even when set explicitly, under any key id', () => {
    const devSecret = INSECURE_DEV_API_KEYS.split(':')[1]!;
    const problems = problemsOf(
      productionEnv({ RELAY_API_KEYS: `k1:${apiSecret},other:${devSecret}`, RELAY_PRIVATE_KEY: INSECURE_DEV_RELAY_PRIVATE_KEY }),
    );
    expect(problems).toEqual([
      { variable: 'RELAY_API_KEYS', problem: 'entry 2 (key id "other"): the insecure development key is refused in production' },
      { variable: 'RELAY_PRIVATE_KEY', problem: 'the insecure development key is refused in production' },
    ]);
  });

  it('refuses a control plane URL without TLS', () => {
    expect(problemsOf(productionEnv({ CONTROL_PLANE_URL: 'http://control.example.com' }))).toEqual([
      { variable: 'CONTROL_PLANE_URL', problem: 'must be https:// in production' },
    ]);
  });

  it.each(['127.0.0.1:40000', 'localhost:40000', '0.0.0.0:40000', '[::1]:40000'])('refuses the unreachable endpoint %s', (endpoint) => {
    expect(variables(problemsOf(productionEnv({ RELAY_PUBLIC_UDP_ENDPOINT: endpoint })))).toEqual(['RELAY_PUBLIC_UDP_ENDPOINT']);
  });
});

describe('loadRelayConfig: relay workers', () => {
  it('runs one worker in development and one per core in production, at most MAX_RELAY_WORKERS', () => {
    expect(loadRelayConfig({}, { cores: 8 }).workers).toBe(1);
    expect(loadRelayConfig(productionEnv(), { cores: 4 }).workers).toBe(4);
    expect(loadRelayConfig(productionEnv(), { cores: 500 }).workers).toBe(MAX_RELAY_WORKERS);
    expect(loadRelayConfig(productionEnv({ RELAY_WORKERS: '2' }), { cores: 8 }).workers).toBe(2);
    expect(loadRelayConfig({ RELAY_WORKERS: '3' }).workers).toBe(3);
  });

  it('refuses a count outside 1..MAX_RELAY_WORKERS', () => {
    for (const value of ['0', String(MAX_RELAY_WORKERS + 1), 'two', '-1']) {
      expect(variables(problemsOf({ RELAY_WORKERS: value }))).toEqual(['RELAY_WORKERS']);
    }
  });

  it('needs a port for every worker, bound and public', () => {
    expect(variables(problemsOf({ RELAY_WORKERS: '2', RELAY_UDP_PORT: '65535' }))).toEqual(['RELAY_UDP_PORT', 'RELAY_PUBLIC_UDP_ENDPOINT']);
    expect(variables(problemsOf({ RELAY_WORKERS: '2', RELAY_PUBLIC_UDP_ENDPOINT: '203.0.113.7:65535' }))).toEqual(['RELAY_PUBLIC_UDP_ENDPOINT']);
    expect(loadRelayConfig({ RELAY_WORKERS: '2', RELAY_UDP_PORT: '65534' }).workers).toBe(2);
  });

  it('allows port 0 (an ephemeral port per worker) in development only', () => {
    expect(loadRelayConfig({ RELAY_UDP_PORT: '0', RELAY_WORKERS: '4' }).udp.port).toBe(0);
    expect(variables(problemsOf(productionEnv({ RELAY_UDP_PORT: '0' })))).toEqual(['RELAY_UDP_PORT']);
  });

  it("gives worker i the public port + i, or its own bound port when the public port is 0", () => {
    const fixed = loadRelayConfig(productionEnv({ RELAY_WORKERS: '3' }), { cores: 3 }).udp;
    expect([0, 1, 2].map((i) => workerPublicEndpoint(fixed, i, 0))).toEqual([
      { host: '203.0.113.7', port: 40000 },
      { host: '203.0.113.7', port: 40001 },
      { host: '203.0.113.7', port: 40002 },
    ]);
    const ephemeral = loadRelayConfig({ RELAY_UDP_PORT: '0' }).udp;
    expect(workerPublicEndpoint(ephemeral, 1, 51234)).toEqual({ host: '127.0.0.1', port: 51234 });
  });
});

describe('loadRelayConfig on fly.io', () => {
  const fly: Env = { FLY_APP_NAME: 'parley-relay-ams', FLY_REGION: 'ams', FLY_MACHINE_ID: '148e21ea7c3d89' };

  it('binds UDP to fly-global-services and takes its identity from the app', () => {
    const config = loadRelayConfig(productionEnv({ ...fly, RELAY_ID: undefined, RELAY_REGION: undefined }));
    expect(config.udp.host).toBe('fly-global-services');
    expect(config.udp.socketType).toBe('udp4');
    expect(config.relayId).toBe('parley-relay-ams');
    expect(config.region).toBe('ams');
  });

  it('refuses another UDP bind address, a rewritten port and an IPv6 endpoint', () => {
    expect(variables(problemsOf(productionEnv({ ...fly, RELAY_UDP_HOST: '0.0.0.0' })))).toEqual(['RELAY_UDP_HOST']);
    expect(variables(problemsOf(productionEnv({ ...fly, RELAY_PUBLIC_UDP_ENDPOINT: '203.0.113.7:443' })))).toEqual([
      'RELAY_PUBLIC_UDP_ENDPOINT',
    ]);
    expect(variables(problemsOf(productionEnv({ ...fly, RELAY_PUBLIC_UDP_ENDPOINT: '[2001:db8::1]:40000' })))).toEqual([
      'RELAY_PUBLIC_UDP_ENDPOINT',
    ]);
  });
});

describe('describeRelayConfig', () => {
  it('leaves every secret out', () => {
    const env = productionEnv({ RELAY_METRICS_TOKEN: 'metrics-token-0123456789', CONTROL_PLANE_URL: 'https://control.example.com/base' });
    const config: RelayConfig = loadRelayConfig(env);
    const text = JSON.stringify(describeRelayConfig(config));
    for (const secret of [apiSecret, privateKey, 'metrics-token-0123456789']) expect(text).not.toContain(secret);
    expect(text).toContain('"keyIds":["k1"]');
    expect(text).toContain(b64url(config.publicKey));
    expect(config.controlPlaneUrl).toBe('https://control.example.com/base/');
  });
});

describe('docs/deploying-relays.md key commands', () => {
  const doc = readFileSync(new URL('../../../docs/deploying-relays.md', import.meta.url), 'utf8');

  /** The `node -e '...'` line of the doc that contains `marker`. */
  function oneLiner(marker: string): string {
    const line = doc.split('\n').find((l) => l.startsWith("node -e '") && l.includes(marker));
    if (line === undefined) throw new Error(`no node -e line with ${marker} in the doc`);
    return line.slice("node -e '".length, line.lastIndexOf("'"));
  }

  it('generates an X25519 key pair whose public key the relay derives too', () => {
    const output = execFileSync(process.execPath, ['-e', oneLiner('x25519')], { encoding: 'utf8' });
    const printed = Object.fromEntries(output.trim().split('\n').map((l) => l.split('=') as [string, string]));
    const config = loadRelayConfig({ RELAY_PRIVATE_KEY: printed.RELAY_PRIVATE_KEY });
    expect(b64url(config.publicKey)).toBe(printed.RELAY_PUBLIC_KEY);
  });

  it('lists the development keys a local relay uses, and the public key that goes with them', () => {
    for (const value of [INSECURE_DEV_API_KEYS, INSECURE_DEV_CONTROL_KEY, INSECURE_DEV_RELAY_PRIVATE_KEY, INSECURE_DEV_RELAY_PUBLIC_KEY]) expect(doc).toContain(`\`${value}\``);
  });

  it('generates an API key the relay accepts', () => {
    const output = execFileSync(process.execPath, ['-e', oneLiner('randomBytes')], { encoding: 'utf8' }).trim();
    const config = loadRelayConfig({ RELAY_API_KEYS: output });
    expect(config.api.keys.size).toBe(1);
    expect(config.insecureDefaults).toEqual(['RELAY_PRIVATE_KEY', 'RELAY_CONTROL_KEY']);
  });
});

describe('fly.toml', () => {
  const toml = readFileSync(new URL('../../../fly.toml', import.meta.url), 'utf8');

  /** `KEY = "value"` lines of the [env] table. */
  function flyEnv(): Env {
    const section = toml.slice(toml.indexOf('\n[env]'), toml.indexOf('\n[[services]]'));
    return Object.fromEntries([...section.matchAll(/^\s*([A-Z_]+)\s*=\s*"([^"]*)"/gm)].map((m) => [m[1]!, m[2]!]));
  }

  it('has an [env] the relay accepts once the per-app secrets are set', () => {
    const config = loadRelayConfig({
      ...flyEnv(),
      FLY_APP_NAME: 'parley-relay-ams',
      FLY_REGION: 'ams',
      RELAY_API_KEYS: `k1:${apiSecret}`,
      RELAY_CONTROL_KEY: `relay-ams:${controlSecret}`,
      RELAY_PRIVATE_KEY: privateKey,
      RELAY_PUBLIC_UDP_ENDPOINT: '203.0.113.7:40000',
      RELAY_PUBLIC_API_URL: 'https://parley-relay-ams.fly.dev/',
      CONTROL_PLANE_URL: 'https://control.example.com/',
    });
    expect(config.environment).toBe('production');
    expect(config.udp.host).toBe('fly-global-services');
    // The services and [metrics] point at the ports the relay listens on.
    // One UDP service per worker (worker i on RELAY_UDP_PORT + i), and one worker per CPU.
    expect(config.workers).toBeGreaterThan(1);
    for (let worker = 0; worker < config.workers; worker++) {
      const port = config.udp.port + worker;
      expect(toml).toMatch(new RegExp(`protocol = "udp"\\s+internal_port = ${port}\\s+\\[\\[services.ports\\]\\]\\s+port = ${port}\\s`));
    }
    expect(toml.match(/protocol = "udp"/g)).toHaveLength(config.workers);
    expect(Number(/^\s*cpus = (\d+)/m.exec(toml)![1])).toBe(config.workers);
    expect(toml).toMatch(new RegExp(`protocol = "tcp"\\s+internal_port = ${config.api.port}\\s`));
    expect(toml).toMatch(new RegExp(`\\[metrics\\]\\s+port = ${config.metrics.port}\\s`));
    // The relay finishes draining before fly kills it.
    const killTimeoutSeconds = Number(/^kill_timeout = "(\d+)s"/m.exec(toml)![1]);
    expect(config.drainDeadlineMs).toBeLessThan(killTimeoutSeconds * 1000);
  });

  it('holds no secrets', () => {
    for (const name of ['RELAY_API_KEYS', 'RELAY_CONTROL_KEY', 'RELAY_PRIVATE_KEY', 'RELAY_METRICS_TOKEN']) expect(flyEnv()[name]).toBeUndefined();
  });
});
