/**
 * The control plane's configuration, read from the Worker's env (wrangler.toml [vars] and
 * `wrangler secret put`). Every variable is checked at once and every problem reported together,
 * naming the variable and the rule, never the value.
 *
 * Development and tests get safe local defaults: well-known secrets (the ASCII texts below, so
 * they are public by construction) and a cheaper password hash when asked for. PARLEY_ENV =
 * "production" refuses every development secret, a database other than Turso's, and password
 * hashing below OWASP's Argon2id minimum; the Worker then answers 503 to every request rather
 * than serve insecurely (app.ts).
 */
import { decodeBase64Url, isRelayApiId } from '../../shared/relay-api/index.js';

export type ParleyEnvironment = 'development' | 'test' | 'production';

/** A secret that signs: an id that names it (published in the JWT header or the relay request) and its bytes. */
export interface NamedSecret {
  readonly id: string;
  readonly secret: Uint8Array;
}

export interface RetiringSecret extends NamedSecret {
  /** Tokens signed with it verify until this instant (ms); then it is ignored. */
  readonly acceptedUntil: number;
}

export interface RelayControlKey {
  readonly keyId: string;
  readonly secret: Uint8Array;
  /** The only relay id this key may register; '*' (development only) for any. */
  readonly relayId: string;
}

export interface PasswordHashParameters {
  /** Argon2id memory in KiB (`m`). OWASP: 19456 (19 MiB). */
  readonly memoryKib: number;
  /** Argon2id iterations (`t`). OWASP: 2. */
  readonly iterations: number;
  /** Argon2id lanes (`p`). Always 1: a Worker has one thread. */
  readonly parallelism: 1;
}

/** A throttle: `freeAttempts` failures are free, then each needs a delay that doubles. */
export interface ThrottlePolicy {
  readonly freeAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Failures older than this are forgotten. */
  readonly forgetAfterMs: number;
}

export interface ControlConfig {
  readonly environment: ParleyEnvironment;
  readonly database: { readonly url: string; readonly authToken: string | undefined };
  readonly accessTokens: {
    readonly signingKey: NamedSecret;
    readonly previousKey: RetiringSecret | undefined;
    readonly ttlMs: number;
    readonly issuer: string;
    readonly audience: string;
  };
  readonly refreshTokens: {
    /** Derives each token's successor (auth/refresh-tokens.ts). */
    readonly secret: Uint8Array;
    readonly ttlMs: number;
    /** Absolute lifetime of a login, however often it refreshes. */
    readonly loginTtlMs: number;
    /** How long a client whose refresh answer was lost may retry and get the same pair. */
    readonly retryGraceMs: number;
  };
  readonly passwords: PasswordHashParameters;
  readonly throttles: {
    readonly loginPerAccount: ThrottlePolicy;
    readonly loginPerAddress: ThrottlePolicy;
    readonly registerPerAddress: ThrottlePolicy;
  };
  readonly appTokens: { readonly maxTtlMs: number };
  readonly channels: { readonly defaultMemberLimit: number; readonly maxMemberLimit: number };
  readonly relays: {
    readonly controlKeys: ReadonlyMap<string, RelayControlKey>;
    /** Signs the control plane's requests to relays (docs/protocol.md §8.2). */
    readonly apiKey: NamedSecret;
    /** A relay not heard from for this long is dead: never chosen, listed as dead. */
    readonly deadAfterMs: number;
  };
  /** Voice rooms (control/src/room/, docs/protocol.md §5). */
  readonly voice: VoiceConfig;
  /** Variables left at development defaults (names only), for a startup warning. */
  readonly insecureDefaults: readonly string[];
}

export interface VoiceConfig {
  /**
   * Origins (scheme://host[:port], as browsers send them) a browser may open a voice socket
   * from (VOICE_ALLOWED_ORIGINS). A request without Origin (a native client) is always allowed.
   */
  readonly allowedOrigins: ReadonlySet<string>;
  /** Development and tests: any http(s)://localhost:* and http(s)://127.0.0.1:* origin too. */
  readonly allowLoopbackOrigins: boolean;
  /** How long a voice session outlives a socket that dropped without `leave` (§5.10). */
  readonly resumeWindowMs: number;
  /** Keys are rotated after this age; the relay holds them this long plus a grace (§5.8). */
  readonly keyMaxAgeMs: number;
  /**
   * The room asks for new keys (`rekey_required`, reason `key_age`) once they are this old:
   * VOICE_KEY_ROTATION_PERCENT (default 80) of keyMaxAgeMs (§5.8).
   */
  readonly keyRotateAfterMs: number;
  /** After the room's `rekey_required`, the client must start the rotation within this, or the session ends (§5.8). */
  readonly rekeyTimeoutMs: number;
}

export interface ConfigProblem {
  readonly variable: string;
  readonly problem: string;
}

export class ControlConfigError extends Error {
  override readonly name = 'ControlConfigError';

  constructor(readonly problems: readonly ConfigProblem[]) {
    super(`control config: ${problems.map((p) => `${p.variable}: ${p.problem}`).join('; ')}`);
  }
}

// Development-only secrets. Each is the base64url of a 32-character ASCII text that says what
// it is, so it is public by construction and production refuses it.

/** `<kid>:<base64url Ed25519 seed>`; the seed is the ASCII text "parley-insecure-dev-jwt-key-0001". */
export const INSECURE_DEV_JWT_SIGNING_KEY = 'insecure-dev-jwt:cGFybGV5LWluc2VjdXJlLWRldi1qd3Qta2V5LTAwMDE';
/** The ASCII text "parley-insecure-dev-refresh-0001". */
export const INSECURE_DEV_REFRESH_TOKEN_SECRET = 'cGFybGV5LWluc2VjdXJlLWRldi1yZWZyZXNoLTAwMDE';
/** The relay's development control key (relay/src config: INSECURE_DEV_CONTROL_KEY), accepted for any relay id. */
export const INSECURE_DEV_RELAY_CONTROL_KEYS = JSON.stringify({
  'insecure-dev-control': { relayId: '*', secret: 'cGFybGV5LWluc2VjdXJlLWRldi1jb250cm9sLWtleS0wMDAx' },
});
/** The relay's development API key (relay/src config: INSECURE_DEV_API_KEYS). */
export const INSECURE_DEV_RELAY_API_KEY = 'insecure-dev:cGFybGV5LWluc2VjdXJlLWRldi1hcGkta2V5LTAwMDE';

const DEV_SECRET_TEXTS = [
  'parley-insecure-dev-jwt-key-0001',
  'parley-insecure-dev-refresh-0001',
  'parley-insecure-dev-control-key-0001',
  'parley-insecure-dev-api-key-0001',
];

/** OWASP Password Storage Cheat Sheet, Argon2id: m = 19 MiB, t = 2, p = 1. */
export const OWASP_ARGON2ID: PasswordHashParameters = { memoryKib: 19_456, iterations: 2, parallelism: 1 };

const MIN_SECRET_BYTES = 32;
const SECOND = 1000;

type Env = Readonly<Record<string, unknown>>;

class Problems {
  readonly list: ConfigProblem[] = [];
  add(variable: string, problem: string): void {
    this.list.push({ variable, problem });
  }
}

function stringVar(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function integerVar(env: Env, problems: Problems, name: string, fallback: number, min: number, max: number): number {
  const text = stringVar(env, name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) {
    problems.add(name, `must be a whole number from ${min} to ${max}`);
    return fallback;
  }
  const value = Number(text);
  if (value < min || value > max) {
    problems.add(name, `must be a whole number from ${min} to ${max}`);
    return fallback;
  }
  return value;
}

function isDevSecret(secret: Uint8Array): boolean {
  return DEV_SECRET_TEXTS.some((text) => {
    const dev = new TextEncoder().encode(text);
    return dev.length === secret.length && dev.every((b, i) => b === secret[i]);
  });
}

function decodeSecret(text: string): Uint8Array | null {
  const bytes = decodeBase64Url(text);
  return bytes !== null && bytes.length >= MIN_SECRET_BYTES ? bytes : null;
}

const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

interface SecretContext {
  readonly env: Env;
  readonly problems: Problems;
  readonly production: boolean;
  readonly insecure: string[];
}

/** `<id>:<base64url secret of at least 32 bytes>`, defaulting (outside production) to a dev value. */
function namedSecretVar(ctx: SecretContext, name: string, devDefault: string): NamedSecret {
  const given = stringVar(ctx.env, name);
  const text = given ?? devDefault;
  const separator = text.indexOf(':');
  const id = text.slice(0, separator);
  const secret = separator > 0 ? decodeSecret(text.slice(separator + 1)) : null;
  if (separator <= 0 || !KEY_ID_PATTERN.test(id) || secret === null) {
    ctx.problems.add(name, 'must be <key id>:<base64url secret of at least 32 bytes>, the key id 1..64 of [A-Za-z0-9._-]');
    return parseDevNamedSecret(devDefault);
  }
  if (given === undefined) {
    if (ctx.production) ctx.problems.add(name, 'is required in production');
    ctx.insecure.push(name);
  } else if (isDevSecret(secret)) {
    if (ctx.production) ctx.problems.add(name, 'is a development secret, refused in production');
    ctx.insecure.push(name);
  }
  return { id, secret };
}

function parseDevNamedSecret(text: string): NamedSecret {
  const separator = text.indexOf(':');
  return { id: text.slice(0, separator), secret: decodeBase64Url(text.slice(separator + 1))! };
}

function plainSecretVar(ctx: SecretContext, name: string, devDefault: string): Uint8Array {
  const given = stringVar(ctx.env, name);
  const secret = decodeSecret(given ?? devDefault);
  if (secret === null) {
    ctx.problems.add(name, 'must be a base64url secret of at least 32 bytes');
    return decodeBase64Url(devDefault)!;
  }
  if (given === undefined) {
    if (ctx.production) ctx.problems.add(name, 'is required in production');
    ctx.insecure.push(name);
  } else if (isDevSecret(secret)) {
    if (ctx.production) ctx.problems.add(name, 'is a development secret, refused in production');
    ctx.insecure.push(name);
  }
  return secret;
}

/**
 * JWT_PREVIOUS_KEY = `<kid>:<seed>` (the old JWT_SIGNING_KEY value) and
 * JWT_PREVIOUS_KEY_ACCEPTED_UNTIL = an ISO 8601 instant. Both or neither.
 */
function previousKeyVar(ctx: SecretContext): RetiringSecret | undefined {
  const key = stringVar(ctx.env, 'JWT_PREVIOUS_KEY');
  const until = stringVar(ctx.env, 'JWT_PREVIOUS_KEY_ACCEPTED_UNTIL');
  if (key === undefined && until === undefined) return undefined;
  if (key === undefined || until === undefined) {
    ctx.problems.add(key === undefined ? 'JWT_PREVIOUS_KEY' : 'JWT_PREVIOUS_KEY_ACCEPTED_UNTIL', 'JWT_PREVIOUS_KEY and JWT_PREVIOUS_KEY_ACCEPTED_UNTIL go together');
    return undefined;
  }
  const acceptedUntil = Date.parse(until);
  if (!Number.isFinite(acceptedUntil)) {
    ctx.problems.add('JWT_PREVIOUS_KEY_ACCEPTED_UNTIL', 'must be an ISO 8601 date and time, e.g. 2026-12-01T12:00:00Z');
    return undefined;
  }
  const named = namedSecretVar(ctx, 'JWT_PREVIOUS_KEY', INSECURE_DEV_JWT_SIGNING_KEY);
  return { ...named, acceptedUntil };
}

/**
 * RELAY_CONTROL_KEYS: JSON `{"<keyId>": {"relayId": "<relay id>", "secret": "<base64url>"}}`,
 * one key per relay (docs/protocol.md §8.6: a relay id is accepted only with its own key id).
 */
function relayControlKeysVar(ctx: SecretContext): Map<string, RelayControlKey> {
  const name = 'RELAY_CONTROL_KEYS';
  const given = stringVar(ctx.env, name);
  const text = given ?? INSECURE_DEV_RELAY_CONTROL_KEYS;
  const keys = new Map<string, RelayControlKey>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const shape = 'must be JSON {"<key id>": {"relayId": "<relay id>", "secret": "<base64url, 32+ bytes>"}, ...}';
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    ctx.problems.add(name, shape);
    return keys;
  }
  let dev = false;
  for (const [keyId, entry] of Object.entries(parsed)) {
    const relayId: unknown = (entry as { relayId?: unknown } | null)?.relayId;
    const secretText: unknown = (entry as { secret?: unknown } | null)?.secret;
    const secret = typeof secretText === 'string' ? decodeSecret(secretText) : null;
    if (!KEY_ID_PATTERN.test(keyId) || typeof relayId !== 'string' || !(relayId === '*' || isRelayApiId(relayId)) || secret === null) {
      ctx.problems.add(name, shape);
      return new Map();
    }
    if (relayId === '*' && ctx.production && given !== undefined) ctx.problems.add(name, 'relayId "*" (any relay) is for development only');
    if (isDevSecret(secret)) dev = true;
    keys.set(keyId, { keyId, relayId, secret });
  }
  if (given === undefined || dev) {
    if (ctx.production) ctx.problems.add(name, given === undefined ? 'is required in production' : 'holds a development secret, refused in production');
    ctx.insecure.push(name);
  }
  return keys;
}

/**
 * VOICE_ALLOWED_ORIGINS: comma-separated origins, each exactly what a browser sends in Origin
 * (RFC 6454 §6.2: scheme "://" host [":" port], no path). No wildcard: an allowlist entry
 * names one site. Production refuses http:// origins, since a page served in clear text can be
 * rewritten by anyone on the path.
 */
function allowedOriginsVar(env: Env, problems: Problems, production: boolean): Set<string> {
  const name = 'VOICE_ALLOWED_ORIGINS';
  const origins = new Set<string>();
  const text = stringVar(env, name);
  if (text === undefined) return origins;
  for (const entry of text.split(',')) {
    const candidate = entry.trim();
    if (candidate === '') continue;
    let parsed: URL | undefined;
    try {
      parsed = new URL(candidate);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || !['https:', 'http:'].includes(parsed.protocol) || parsed.origin !== candidate || candidate.includes('*')) {
      problems.add(name, 'must be a comma-separated list of origins such as https://app.example.com (scheme, host and optional port; no path, no wildcard)');
      return new Set();
    }
    if (production && parsed.protocol === 'http:') {
      problems.add(name, 'must list https:// origins only in production');
      return new Set();
    }
    origins.add(candidate);
  }
  return origins;
}

function environmentVar(env: Env, problems: Problems): ParleyEnvironment {
  const value = stringVar(env, 'PARLEY_ENV') ?? 'development';
  if (value === 'development' || value === 'test' || value === 'production') return value;
  problems.add('PARLEY_ENV', 'must be development, test or production');
  // Unknown is treated as production: the strictest checks, so a typo cannot weaken them.
  return 'production';
}

function databaseVars(env: Env, problems: Problems, production: boolean): ControlConfig['database'] {
  const url = stringVar(env, 'LIBSQL_URL');
  const authToken = stringVar(env, 'LIBSQL_AUTH_TOKEN');
  if (production && authToken === undefined) problems.add('LIBSQL_AUTH_TOKEN', 'is required in production');
  if (url === undefined) {
    problems.add('LIBSQL_URL', production ? 'is required in production (the Turso database URL, libsql://… or https://…)' : 'is required (npm start sets it to the local libSQL server)');
    return { url: '', authToken };
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !['libsql:', 'https:', 'http:'].includes(parsed.protocol)) {
    problems.add('LIBSQL_URL', 'must be a libsql://, https:// or (development only) http:// URL');
  } else if (production && parsed.protocol === 'http:') {
    problems.add('LIBSQL_URL', 'must use TLS (libsql:// or https://) in production');
  }
  return { url, authToken };
}

function throttleVars(env: Env, problems: Problems, prefix: string, defaults: { freeAttempts: number }): ThrottlePolicy {
  return {
    freeAttempts: integerVar(env, problems, `${prefix}_FREE_ATTEMPTS`, defaults.freeAttempts, 1, 1_000_000),
    baseDelayMs: integerVar(env, problems, 'THROTTLE_BASE_DELAY_MS', 1000, 1, 3_600_000),
    maxDelayMs: integerVar(env, problems, 'THROTTLE_MAX_DELAY_MS', 15 * 60 * SECOND, 1, 86_400_000),
    forgetAfterMs: integerVar(env, problems, 'THROTTLE_FORGET_AFTER_MS', 60 * 60 * SECOND, 1, 7 * 86_400_000),
  };
}

/** How long voice keys live and when the room asks for new ones (docs/protocol.md §5.8, §5.14). */
function voiceKeyTimes(env: Env, problems: Problems): Pick<VoiceConfig, 'keyMaxAgeMs' | 'keyRotateAfterMs' | 'rekeyTimeoutMs'> {
  const keyMaxAgeMs = integerVar(env, problems, 'VOICE_KEY_MAX_AGE_SECONDS', 3600, 60, 86_400) * SECOND;
  const rotationPercent = integerVar(env, problems, 'VOICE_KEY_ROTATION_PERCENT', 80, 50, 95);
  return {
    keyMaxAgeMs,
    keyRotateAfterMs: Math.floor((keyMaxAgeMs * rotationPercent) / 100),
    rekeyTimeoutMs: integerVar(env, problems, 'VOICE_REKEY_TIMEOUT_SECONDS', 30, 5, 300) * SECOND,
  };
}

/** Reads and checks the whole configuration. Throws ControlConfigError listing every problem. */
export function loadControlConfig(env: Env): ControlConfig {
  const problems = new Problems();
  const environment = environmentVar(env, problems);
  const production = environment === 'production';
  const insecure: string[] = [];
  const ctx: SecretContext = { env, problems, production, insecure };

  const passwords: PasswordHashParameters = {
    memoryKib: integerVar(env, problems, 'PASSWORD_HASH_MEMORY_KIB', OWASP_ARGON2ID.memoryKib, 8, 1_048_576),
    iterations: integerVar(env, problems, 'PASSWORD_HASH_ITERATIONS', OWASP_ARGON2ID.iterations, 1, 100),
    parallelism: 1,
  };
  if (passwords.memoryKib < OWASP_ARGON2ID.memoryKib || passwords.iterations < OWASP_ARGON2ID.iterations) {
    if (production) problems.add('PASSWORD_HASH_MEMORY_KIB', 'Argon2id below OWASP (m = 19456 KiB, t = 2) is refused in production');
    insecure.push('PASSWORD_HASH_MEMORY_KIB');
  }

  const config: ControlConfig = {
    environment,
    database: databaseVars(env, problems, production),
    accessTokens: {
      signingKey: namedSecretVar(ctx, 'JWT_SIGNING_KEY', INSECURE_DEV_JWT_SIGNING_KEY),
      previousKey: previousKeyVar(ctx),
      ttlMs: integerVar(env, problems, 'ACCESS_TOKEN_TTL_SECONDS', 900, 10, 3600) * SECOND,
      issuer: stringVar(env, 'JWT_ISSUER') ?? 'parley',
      audience: stringVar(env, 'JWT_AUDIENCE') ?? 'parley-api',
    },
    refreshTokens: {
      secret: plainSecretVar(ctx, 'REFRESH_TOKEN_SECRET', INSECURE_DEV_REFRESH_TOKEN_SECRET),
      ttlMs: integerVar(env, problems, 'REFRESH_TOKEN_TTL_SECONDS', 30 * 86_400, 60, 365 * 86_400) * SECOND,
      loginTtlMs: integerVar(env, problems, 'LOGIN_TTL_SECONDS', 90 * 86_400, 60, 3 * 365 * 86_400) * SECOND,
      retryGraceMs: integerVar(env, problems, 'REFRESH_RETRY_GRACE_SECONDS', 30, 0, 300) * SECOND,
    },
    passwords,
    throttles: {
      loginPerAccount: throttleVars(env, problems, 'THROTTLE_LOGIN_PER_ACCOUNT', { freeAttempts: 5 }),
      loginPerAddress: throttleVars(env, problems, 'THROTTLE_LOGIN_PER_ADDRESS', { freeAttempts: 20 }),
      registerPerAddress: throttleVars(env, problems, 'THROTTLE_REGISTER_PER_ADDRESS', { freeAttempts: 10 }),
    },
    appTokens: { maxTtlMs: integerVar(env, problems, 'APP_TOKEN_MAX_TTL_SECONDS', 3600, 10, 86_400) * SECOND },
    channels: {
      defaultMemberLimit: integerVar(env, problems, 'CHANNEL_DEFAULT_MEMBER_LIMIT', 50, 1, 100_000),
      maxMemberLimit: integerVar(env, problems, 'CHANNEL_MAX_MEMBER_LIMIT', 500, 1, 100_000),
    },
    relays: {
      controlKeys: relayControlKeysVar(ctx),
      apiKey: namedSecretVar(ctx, 'RELAY_API_KEY', INSECURE_DEV_RELAY_API_KEY),
      deadAfterMs: integerVar(env, problems, 'RELAY_DEAD_AFTER_SECONDS', 30, 1, 3600) * SECOND,
    },
    voice: {
      allowedOrigins: allowedOriginsVar(env, problems, production),
      allowLoopbackOrigins: !production,
      resumeWindowMs: integerVar(env, problems, 'VOICE_RESUME_WINDOW_SECONDS', 30, 1, 300) * SECOND,
      ...voiceKeyTimes(env, problems),
    },
    insecureDefaults: insecure,
  };
  if (config.channels.defaultMemberLimit > config.channels.maxMemberLimit) {
    problems.add('CHANNEL_DEFAULT_MEMBER_LIMIT', 'must not exceed CHANNEL_MAX_MEMBER_LIMIT');
  }
  if (problems.list.length > 0) throw new ControlConfigError(problems.list);
  return config;
}
