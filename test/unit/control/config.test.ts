import { describe, expect, it } from 'vitest';
import {
  ControlConfigError,
  INSECURE_DEV_JWT_SIGNING_KEY,
  INSECURE_DEV_REFRESH_TOKEN_SECRET,
  INSECURE_DEV_RELAY_API_KEY,
  INSECURE_DEV_RELAY_CONTROL_KEYS,
  loadControlConfig,
} from '../../../control/src/config.js';

const secret = (byte: number) => Buffer.alloc(32, byte).toString('base64url');

function productionEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    PARLEY_ENV: 'production',
    LIBSQL_URL: 'libsql://parley-example.turso.io',
    LIBSQL_AUTH_TOKEN: 'turso-token',
    JWT_SIGNING_KEY: `k1:${secret(1)}`,
    REFRESH_TOKEN_SECRET: secret(2),
    RELAY_CONTROL_KEYS: JSON.stringify({ 'ctl-fra': { relayId: 'relay-fra-1', secret: secret(3) } }),
    RELAY_API_KEY: `api-1:${secret(4)}`,
    ...overrides,
  };
}

function problemsOf(env: Record<string, string>): { variable: string; problem: string }[] {
  try {
    loadControlConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ControlConfigError);
    return [...(error as ControlConfigError).problems];
  }
  return [];
}

describe('control-plane configuration', () => {
  it('development runs on public defaults and names them', () => {
    const config = loadControlConfig({ LIBSQL_URL: 'http://127.0.0.1:8080' });
    expect(config.environment).toBe('development');
    expect(config.passwords).toEqual({ memoryKib: 19_456, iterations: 2, parallelism: 1 });
    expect(config.accessTokens.ttlMs).toBe(900_000);
    expect(config.accessTokens.signingKey.id).toBe('insecure-dev-jwt');
    expect(config.relays.controlKeys.get('insecure-dev-control')?.relayId).toBe('*');
    expect(config.insecureDefaults).toEqual(['JWT_SIGNING_KEY', 'REFRESH_TOKEN_SECRET', 'RELAY_CONTROL_KEYS', 'RELAY_API_KEY']);
  });

  it('a complete production configuration loads with nothing insecure', () => {
    const config = loadControlConfig(productionEnv());
    expect(config.environment).toBe('production');
    expect(config.insecureDefaults).toEqual([]);
    expect(config.relays.controlKeys.get('ctl-fra')?.relayId).toBe('relay-fra-1');
  });

  it('production refuses missing secrets and Turso settings, listing every problem at once', () => {
    const variables = problemsOf({ PARLEY_ENV: 'production' }).map((p) => p.variable);
    expect(variables).toEqual(['LIBSQL_AUTH_TOKEN', 'LIBSQL_URL', 'JWT_SIGNING_KEY', 'REFRESH_TOKEN_SECRET', 'RELAY_CONTROL_KEYS', 'RELAY_API_KEY']);
  });

  it('production refuses the development secrets even when set explicitly', () => {
    const problems = problemsOf(
      productionEnv({
        JWT_SIGNING_KEY: INSECURE_DEV_JWT_SIGNING_KEY,
        REFRESH_TOKEN_SECRET: INSECURE_DEV_REFRESH_TOKEN_SECRET,
        RELAY_CONTROL_KEYS: INSECURE_DEV_RELAY_CONTROL_KEYS,
        RELAY_API_KEY: INSECURE_DEV_RELAY_API_KEY,
      }),
    );
    expect(problems.map((p) => p.variable)).toEqual(['JWT_SIGNING_KEY', 'REFRESH_TOKEN_SECRET', 'RELAY_CONTROL_KEYS', 'RELAY_CONTROL_KEYS', 'RELAY_API_KEY']);
  });

  it('production refuses a database without TLS and a password hash below OWASP', () => {
    const problems = problemsOf(productionEnv({ LIBSQL_URL: 'http://db.example', PASSWORD_HASH_MEMORY_KIB: '64', PASSWORD_HASH_ITERATIONS: '1' }));
    expect(problems.map((p) => p.variable)).toEqual(['PASSWORD_HASH_MEMORY_KIB', 'LIBSQL_URL']);
  });

  it('an unknown PARLEY_ENV is refused and judged as strictly as production', () => {
    const variables = problemsOf({ PARLEY_ENV: 'prod', LIBSQL_URL: 'http://127.0.0.1:1' }).map((p) => p.variable);
    expect(variables[0]).toBe('PARLEY_ENV');
    expect(variables).toContain('JWT_SIGNING_KEY');
  });

  it('malformed values are named with the rule, never echoed', () => {
    const problems = problemsOf(
      productionEnv({
        JWT_SIGNING_KEY: 'no-colon-here-super-secret-value',
        REFRESH_TOKEN_SECRET: 'c2hvcnQ',
        RELAY_CONTROL_KEYS: '{"k": {"relayId": 5, "secret": "x"}}',
        ACCESS_TOKEN_TTL_SECONDS: 'soon',
        JWT_PREVIOUS_KEY: `old:${secret(9)}`,
      }),
    );
    expect(problems.map((p) => p.variable)).toEqual([
      'JWT_SIGNING_KEY',
      'JWT_PREVIOUS_KEY_ACCEPTED_UNTIL',
      'ACCESS_TOKEN_TTL_SECONDS',
      'REFRESH_TOKEN_SECRET',
      'RELAY_CONTROL_KEYS',
    ]);
    const text = JSON.stringify(problems);
    for (const value of ['no-colon-here-super-secret-value', 'c2hvcnQ', 'soon', secret(9)]) expect(text).not.toContain(value);
  });

  it('the previous signing key needs an end date, and is accepted until it', () => {
    const until = '2026-12-01T12:15:00Z';
    const config = loadControlConfig(productionEnv({ JWT_PREVIOUS_KEY: `k0:${secret(5)}`, JWT_PREVIOUS_KEY_ACCEPTED_UNTIL: until }));
    expect(config.accessTokens.previousKey?.id).toBe('k0');
    expect(config.accessTokens.previousKey?.acceptedUntil).toBe(Date.parse(until));
    expect(problemsOf(productionEnv({ JWT_PREVIOUS_KEY_ACCEPTED_UNTIL: 'tomorrow', JWT_PREVIOUS_KEY: `k0:${secret(5)}` })).map((p) => p.variable)).toEqual([
      'JWT_PREVIOUS_KEY_ACCEPTED_UNTIL',
    ]);
  });

  it('a relay control key for any relay ("*") is development only', () => {
    const problems = problemsOf(productionEnv({ RELAY_CONTROL_KEYS: JSON.stringify({ k: { relayId: '*', secret: secret(3) } }) }));
    expect(problems).toEqual([{ variable: 'RELAY_CONTROL_KEYS', problem: 'relayId "*" (any relay) is for development only' }]);
  });

  it('voice: origins are exact https origins in production, loopback pages only outside it; the resume window and key age are bounded', () => {
    const config = loadControlConfig(productionEnv({ VOICE_ALLOWED_ORIGINS: 'https://app.example.com, https://staging.example.com:8443' }));
    expect([...config.voice.allowedOrigins]).toEqual(['https://app.example.com', 'https://staging.example.com:8443']);
    expect(config.voice).toMatchObject({ allowLoopbackOrigins: false, resumeWindowMs: 30_000, keyMaxAgeMs: 3_600_000, keyRotateAfterMs: 2_880_000, rekeyTimeoutMs: 30_000 });
    expect(loadControlConfig(productionEnv({ VOICE_KEY_MAX_AGE_SECONDS: '600', VOICE_KEY_ROTATION_PERCENT: '50', VOICE_REKEY_TIMEOUT_SECONDS: '5' })).voice).toMatchObject({
      keyMaxAgeMs: 600_000,
      keyRotateAfterMs: 300_000,
      rekeyTimeoutMs: 5_000,
    });
    expect(loadControlConfig({ LIBSQL_URL: 'http://127.0.0.1:8080' }).voice.allowLoopbackOrigins).toBe(true);
    for (const bad of ['https://app.example.com/', '*', 'https://*.example.com', 'app.example.com']) {
      expect(problemsOf(productionEnv({ VOICE_ALLOWED_ORIGINS: bad })).map((p) => p.variable), bad).toEqual(['VOICE_ALLOWED_ORIGINS']);
    }
    expect(problemsOf(productionEnv({ VOICE_ALLOWED_ORIGINS: 'http://app.example.com' }))).toEqual([
      { variable: 'VOICE_ALLOWED_ORIGINS', problem: 'must list https:// origins only in production' },
    ]);
    expect(
      problemsOf(productionEnv({ VOICE_RESUME_WINDOW_SECONDS: '0', VOICE_KEY_MAX_AGE_SECONDS: '10', VOICE_KEY_ROTATION_PERCENT: '100', VOICE_REKEY_TIMEOUT_SECONDS: '1' })).map((p) => p.variable),
    ).toEqual(['VOICE_RESUME_WINDOW_SECONDS', 'VOICE_KEY_MAX_AGE_SECONDS', 'VOICE_KEY_ROTATION_PERCENT', 'VOICE_REKEY_TIMEOUT_SECONDS']);
  });
});
