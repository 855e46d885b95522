/**
 * The relay's configuration, read once at startup from environment variables.
 *
 * `loadRelayConfig` is pure: an environment in, a validated `RelayConfig` out, or one
 * `RelayConfigError` listing every problem at once (an operator fixing a deploy should not have
 * to restart it once per typo). Problems never quote a secret: API keys, the private key, the
 * metrics token and the control-plane URL (which may carry credentials) are described, never
 * echoed.
 *
 * Development works with no variables at all, using well-known keys named "insecure" on purpose.
 * Production (PARLEY_ENV=production) refuses them, and refuses anything that would make the relay
 * unreachable or talk to the control plane in clear text. Every variable is documented in
 * docs/deploying-relays.md.
 */
import { decodeBase64Url } from '../../shared/relay-api/base64url.js';
import { MAX_RELAY_API_URL_LENGTH } from '../../shared/relay-api/messages.js';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { x25519PublicKey } from '../../shared/keys/x25519.js';
import { MAX_REPLAY_WINDOW, MIN_REPLAY_WINDOW } from '../../shared/srtp/replay-window.js';
import type { RouterOptions } from './media/datagram-router.js';
import type { RegistryLimits } from './media/session-registry.js';

export type ParleyEnvironment = 'development' | 'production';

export const RELAY_LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type RelayLogLevel = (typeof RELAY_LOG_LEVELS)[number];

export interface RelayUdpConfig {
  /** Address the UDP sockets bind to; `fly-global-services` on fly.io. */
  readonly host: string;
  /**
   * Worker 0's port; worker i binds `port + i`. 0 (development only) gives every worker an
   * ephemeral port of its own.
   */
  readonly port: number;
  /** `udp6` when `host` is an IPv6 literal, else `udp4` (fly.io UDP is IPv4 only). */
  readonly socketType: 'udp4' | 'udp6';
  /**
   * Where clients reach worker 0 (registered with the control plane); worker i is at
   * `publicEndpoint.port + i` (see `workerPublicEndpoint`).
   */
  readonly publicEndpoint: RelayEndpoint;
}

export interface RelayEndpoint {
  /** An IP address (IPv6 without brackets) or a host name. */
  readonly host: string;
  readonly port: number;
}

export interface RelayApiConfig {
  /** Address the internal HTTP API (control plane → relay) listens on. */
  readonly host: string;
  readonly port: number;
  /** Key id → secret (at least 32 bytes), in the order configured. Several allow rotation. */
  readonly keys: ReadonlyMap<string, Uint8Array>;
}

export interface RelayMetricsConfig {
  /** Address the Prometheus listener binds to; never exposed through a public service. */
  readonly host: string;
  readonly port: number;
  /** When set, GET /metrics requires `Authorization: Bearer <token>`. */
  readonly token: string | null;
}

export interface RelayConfig {
  readonly environment: ParleyEnvironment;
  readonly relayId: string;
  readonly region: string;
  readonly logLevel: RelayLogLevel;
  readonly udp: RelayUdpConfig;
  /**
   * Relay worker threads, one UDP socket each (relay/src/workers/worker-pool.ts). One per core
   * in production; 1 in development, so tests and the benchmark measure one core.
   */
  readonly workers: number;
  readonly api: RelayApiConfig;
  readonly metrics: RelayMetricsConfig;
  /** Base URL of the control plane, normalised by `URL`, always ending in `/`. */
  readonly controlPlaneUrl: string;
  /**
   * Where the control plane reaches this relay's internal API (RELAY_PUBLIC_API_URL), announced
   * in every registration and heartbeat (docs/protocol.md §8.6); normalised by `URL`, always
   * ending in `/`.
   */
  readonly publicApiUrl: string;
  /**
   * Register with the control plane and heartbeat (RELAY_REGISTER, default true); false runs a
   * relay with no control plane (tests, benchmarks, local tools).
   */
  readonly register: boolean;
  /** How often the relay heartbeats to the control plane (docs/protocol.md §8.6). */
  readonly heartbeatIntervalMs: number;
  /** Signs register/heartbeat requests (audience "control"); never one of `api.keys`. */
  readonly controlPlaneKey: { readonly keyId: string; readonly secret: Uint8Array };
  /** The relay's long-term X25519 private key (32 bytes). */
  readonly privateKey: Uint8Array;
  /** Its public key (RFC 7748 §6.1), for the control plane's relay directory. */
  readonly publicKey: Uint8Array;
  /** Passed as is to `new SessionRegistry(...)`. */
  readonly registry: RegistryLimits;
  /** Passed as is to `new DatagramRouter(...)`. */
  readonly router: RouterOptions;
  /** After SIGTERM, how long existing sessions may continue before the relay exits. */
  readonly drainDeadlineMs: number;
  /** Variables that fell back to (or were set to) a well-known insecure development value. */
  readonly insecureDefaults: readonly string[];
}

export interface RelayConfigProblem {
  readonly variable: string;
  readonly problem: string;
}

export class RelayConfigError extends Error {
  override readonly name = 'RelayConfigError';

  constructor(readonly problems: readonly RelayConfigProblem[]) {
    super(
      `relay config: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
        problems.map((p) => `  - ${p.variable}: ${p.problem}`).join('\n'),
    );
  }
}

/**
 * Development-only API key, `keyId:secret`. The secret is the ASCII text
 * "parley-insecure-dev-api-key-0001": it is public, and production refuses it.
 */
export const INSECURE_DEV_API_KEYS = 'insecure-dev:cGFybGV5LWluc2VjdXJlLWRldi1hcGkta2V5LTAwMDE';

/**
 * Development-only key the relay signs its requests to the control plane with, `keyId:secret`;
 * the secret is the ASCII text "parley-insecure-dev-control-key-0001". Kept apart from the API
 * keys so that nothing a relay signs could ever be accepted by a relay.
 */
export const INSECURE_DEV_CONTROL_KEY = 'insecure-dev-control:cGFybGV5LWluc2VjdXJlLWRldi1jb250cm9sLWtleS0wMDAx';

/** Development-only relay private key: the ASCII text "parley-insecure-dev-relay-key-01". */
export const INSECURE_DEV_RELAY_PRIVATE_KEY = 'cGFybGV5LWluc2VjdXJlLWRldi1yZWxheS1rZXktMDE';

/** Public key of INSECURE_DEV_RELAY_PRIVATE_KEY, for a development control plane. */
export const INSECURE_DEV_RELAY_PUBLIC_KEY = '73b4afF3g0l7VjCvndgY8Gm6cZeGWI0CRtRqlW3IFEA';

/** The variables that carry secrets: read once by loadRelayConfig, never logged or passed on. */
export const SECRET_VARIABLES = ['RELAY_API_KEYS', 'RELAY_CONTROL_KEY', 'RELAY_PRIVATE_KEY', 'RELAY_METRICS_TOKEN'] as const;

/** fly.io delivers UDP only to sockets bound to this address (and replies must leave from it). */
export const FLY_UDP_HOST = 'fly-global-services';

const DEFAULT_RELAY_ID = 'local-relay';
const MIN_API_SECRET_BYTES = 32;
const MAX_API_SECRET_BYTES = 1024;
const X25519_PRIVATE_KEY_BYTES = 32;
const MIN_METRICS_TOKEN_LENGTH = 16;
/** What the control plane accepts as `apiUrl` (shared/relay-api/messages.ts). */
const MAX_PUBLIC_API_URL_LENGTH = MAX_RELAY_API_URL_LENGTH;
/**
 * Most relay workers: far above the cores of any fly.io machine, and it keeps a typo from
 * starting hundreds of threads and sockets.
 */
export const MAX_RELAY_WORKERS = 64;
/** Processing time is observed for one datagram in 16 (a power of two; see RouterOptions). */
const TIMING_SAMPLE_EVERY = 16;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const REGION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
/** The same rule as shared/relay-api/request-signing.ts. */
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const HOSTNAME_PATTERN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** Visible ASCII without spaces: safe in an HTTP header, and never ambiguous about whitespace. */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

type Env = Readonly<Record<string, string | undefined>>;

/** Collects problems; every reader returns a usable fallback so checking can go on. */
class Problems {
  readonly list: RelayConfigProblem[] = [];

  add(variable: string, problem: string): void {
    this.list.push({ variable, problem });
  }
}

/** The variable's value with surrounding white space removed; empty counts as unset. */
function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** A non-secret value, quoted and shortened for an error message. */
function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 61)}...` : value);
}

function readInteger(env: Env, problems: Problems, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    problems.add(name, `must be a whole number from ${min} to ${max}, got ${quote(raw)}`);
    return fallback;
  }
  return value;
}

function readChoice<T extends string>(env: Env, problems: Problems, name: string, choices: readonly T[], fallback: T): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const choice = choices.find((c) => c === raw);
  if (choice === undefined) {
    problems.add(name, `must be one of ${choices.join(', ')}; got ${quote(raw)}`);
    return fallback;
  }
  return choice;
}

function readBoolean(env: Env, problems: Problems, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (raw !== 'true' && raw !== 'false') {
    problems.add(name, `must be true or false; got ${quote(raw)}`);
    return fallback;
  }
  return raw === 'true';
}

function readPattern(env: Env, problems: Problems, name: string, pattern: RegExp, fallback: string, what: string): string {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!pattern.test(raw)) {
    problems.add(name, `must be ${what}; got ${quote(raw)}`);
    return fallback;
  }
  return raw;
}

function isHost(value: string): boolean {
  return isIP(value) !== 0 || HOSTNAME_PATTERN.test(value);
}

function readHost(env: Env, problems: Problems, name: string, fallback: string): string {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!isHost(raw)) {
    problems.add(name, `must be an IP address (IPv6 without brackets) or a host name; got ${quote(raw)}`);
    return fallback;
  }
  return raw;
}

/**
 * Strict base64url (shared/relay-api/base64url.ts), accepting the optional `=` padding people
 * paste from other tools.
 */
function decodeBase64url(text: string): Uint8Array | null {
  return decodeBase64Url(text.replace(/={1,2}$/, ''));
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

const DEV_API_SECRET = decodeBase64url(INSECURE_DEV_API_KEYS.slice(INSECURE_DEV_API_KEYS.indexOf(':') + 1))!;
const DEV_CONTROL_SECRET = decodeBase64url(INSECURE_DEV_CONTROL_KEY.slice(INSECURE_DEV_CONTROL_KEY.indexOf(':') + 1))!;
const DEV_PRIVATE_KEY = decodeBase64url(INSECURE_DEV_RELAY_PRIVATE_KEY)!;

interface KeyListVariable {
  readonly name: string;
  readonly devDefault: string;
  readonly devSecret: Uint8Array;
}

const API_KEYS_VARIABLE: KeyListVariable = { name: 'RELAY_API_KEYS', devDefault: INSECURE_DEV_API_KEYS, devSecret: DEV_API_SECRET };
const CONTROL_KEY_VARIABLE: KeyListVariable = { name: 'RELAY_CONTROL_KEY', devDefault: INSECURE_DEV_CONTROL_KEY, devSecret: DEV_CONTROL_SECRET };

/** Reads `keyId:secret[,keyId:secret…]` from one variable (secrets base64url, 32+ bytes). */
function readKeyList(env: Env, problems: Problems, production: boolean, insecure: string[], variable: KeyListVariable): Map<string, Uint8Array> {
  const { name, devDefault, devSecret } = variable;
  const raw = read(env, name);
  const keys = new Map<string, Uint8Array>();
  if (raw === undefined && production) {
    problems.add(name, 'is required in production (comma-separated keyId:secret, each secret at least 32 random bytes, base64url)');
    return keys;
  }
  const entries = (raw ?? devDefault).split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (entries.length === 0) problems.add(name, 'lists no keys');
  entries.forEach((entry, index) => {
    // Never quote an entry: a mistyped entry may be a secret.
    const where = `entry ${index + 1}`;
    const colon = entry.indexOf(':');
    const keyId = colon < 0 ? '' : entry.slice(0, colon);
    if (!KEY_ID_PATTERN.test(keyId)) {
      problems.add(name, `${where} must be keyId:secret, the key id 1-64 characters of A-Z a-z 0-9 . _ -`);
      return;
    }
    const label = `${where} (key id ${quote(keyId)})`;
    const secret = decodeBase64url(entry.slice(colon + 1));
    if (secret === null) {
      problems.add(name, `${label}: the secret is not canonical base64url (A-Z a-z 0-9 - _)`);
    } else if (secret.length < MIN_API_SECRET_BYTES || secret.length > MAX_API_SECRET_BYTES) {
      problems.add(name, `${label}: the secret must decode to ${MIN_API_SECRET_BYTES}-${MAX_API_SECRET_BYTES} bytes, got ${secret.length}`);
    } else if (keys.has(keyId)) {
      problems.add(name, `${label}: the key id appears more than once`);
    } else if (bytesEqual(secret, devSecret)) {
      if (production) problems.add(name, `${label}: the insecure development key is refused in production`);
      else if (!insecure.includes(name)) insecure.push(name);
      keys.set(keyId, secret);
    } else {
      keys.set(keyId, secret);
    }
  });
  return keys;
}

function readPrivateKey(env: Env, problems: Problems, production: boolean, insecure: string[]): Uint8Array {
  const name = 'RELAY_PRIVATE_KEY';
  const raw = read(env, name);
  if (raw === undefined) {
    if (production) problems.add(name, 'is required in production (32-byte X25519 private key, base64url)');
    else insecure.push(name);
    return new Uint8Array(DEV_PRIVATE_KEY);
  }
  const key = decodeBase64url(raw);
  if (key === null || key.length !== X25519_PRIVATE_KEY_BYTES) {
    problems.add(name, `must be a ${X25519_PRIVATE_KEY_BYTES}-byte X25519 private key in canonical base64url (43 characters)`);
    return new Uint8Array(DEV_PRIVATE_KEY);
  }
  if (bytesEqual(key, DEV_PRIVATE_KEY)) {
    if (production) problems.add(name, 'the insecure development key is refused in production');
    else insecure.push(name);
  }
  return key;
}

function readControlPlaneUrl(env: Env, problems: Problems, production: boolean): string {
  const url = readBaseUrl(env, problems, production, {
    name: 'CONTROL_PLANE_URL',
    requiredReason: 'is required in production (an https:// URL)',
    credentialsReason: 'must not carry credentials; the relay authenticates with its API keys',
  });
  return url?.href ?? 'http://127.0.0.1:8787/';
}

/**
 * RELAY_PUBLIC_API_URL: the base URL the control plane sends its signed requests to (§8.1), on
 * fly.io the app's https:// address (fly's proxy forwards to the API port). Development
 * defaults to the API listener on loopback.
 */
function readPublicApiUrl(env: Env, problems: Problems, production: boolean, apiPort: number): string {
  const name = 'RELAY_PUBLIC_API_URL';
  const fallback = `http://127.0.0.1:${apiPort}/`;
  const url = readBaseUrl(env, problems, production, {
    name,
    requiredReason: "is required in production (the https:// URL the control plane reaches this relay's internal API at)",
    credentialsReason: 'must not carry credentials; the control plane signs its requests',
  });
  if (url === undefined) return fallback;
  if (production && isLoopbackOrUnspecified(url.hostname.replace(/^\[|\]$/g, ''))) problems.add(name, 'must be reachable by the control plane in production, not a loopback address');
  if (url.href.length > MAX_PUBLIC_API_URL_LENGTH) problems.add(name, `must be at most ${MAX_PUBLIC_API_URL_LENGTH} characters`);
  return url.href;
}

/**
 * An http(s) base URL from the environment, normalised to end in `/`. Undefined when it is
 * absent (a problem in production) or not a URL: the caller uses its development default. Other
 * problems are recorded and the URL still returned, so every problem is reported at once.
 */
function readBaseUrl(
  env: Env,
  problems: Problems,
  production: boolean,
  rules: { name: string; requiredReason: string; credentialsReason: string },
): URL | undefined {
  const { name } = rules;
  const raw = read(env, name);
  if (raw === undefined) {
    if (production) problems.add(name, rules.requiredReason);
    return undefined;
  }
  // Never quoted: a URL can carry credentials.
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.add(name, 'is not an absolute URL');
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    problems.add(name, 'must be an http:// or https:// URL');
  } else if (production && url.protocol !== 'https:') {
    problems.add(name, 'must be https:// in production');
  }
  if (url.username !== '' || url.password !== '') problems.add(name, rules.credentialsReason);
  // `URL` drops an empty "?" or "#", so the raw text is checked too.
  if (url.search !== '' || url.hash !== '' || raw.includes('?') || raw.includes('#')) problems.add(name, 'must not have a query or a fragment');
  // A base without a trailing slash would lose its last path segment when paths are resolved.
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

function parseEndpoint(text: string): RelayEndpoint | string {
  const bracketed = /^\[([^\]]+)\]:([0-9]+)$/.exec(text);
  let host: string;
  let portText: string;
  if (bracketed !== null) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
    if (isIP(host) !== 6) return 'has brackets around something other than an IPv6 address';
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return 'must be host:port';
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return 'must write an IPv6 address in brackets, as [address]:port';
    if (!isHost(host)) return 'has an invalid host';
  }
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return 'has a port outside 1-65535';
  return { host, port };
}

function isLoopbackOrUnspecified(host: string): boolean {
  const lower = host.toLowerCase();
  return lower === 'localhost' || lower.endsWith('.localhost') || lower === '::' || lower === '::1' || lower === '0.0.0.0' || /^127\./.test(lower);
}

/** `host:port`, with brackets around an IPv6 address. */
export function formatEndpoint(endpoint: RelayEndpoint): string {
  return isIP(endpoint.host) === 6 ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

function readUdp(env: Env, problems: Problems, production: boolean, onFly: boolean): RelayUdpConfig {
  const host = readHost(env, problems, 'RELAY_UDP_HOST', onFly ? FLY_UDP_HOST : '0.0.0.0');
  if (onFly && host !== FLY_UDP_HOST) {
    problems.add('RELAY_UDP_HOST', `must be ${FLY_UDP_HOST} on fly.io (FLY_APP_NAME is set): fly delivers UDP only to that address`);
  }
  const port = readInteger(env, problems, 'RELAY_UDP_PORT', 40000, 0, 65535);
  if (port === 0 && production) {
    problems.add('RELAY_UDP_PORT', 'must be a fixed port in production (0, an ephemeral port per worker, is for development and tests)');
  }

  const name = 'RELAY_PUBLIC_UDP_ENDPOINT';
  const raw = read(env, name);
  let publicEndpoint: RelayEndpoint = { host: '127.0.0.1', port };
  if (raw === undefined) {
    if (production) problems.add(name, 'is required in production: the host:port clients send voice to');
  } else {
    const parsed = parseEndpoint(raw);
    if (typeof parsed === 'string') {
      problems.add(name, `${parsed}; got ${quote(raw)}`);
    } else {
      publicEndpoint = parsed;
      if (production && isLoopbackOrUnspecified(parsed.host)) {
        problems.add(name, `must be reachable by clients in production; got ${quote(raw)}`);
      }
      if (onFly && parsed.port !== port) {
        problems.add(name, `port must equal RELAY_UDP_PORT (${port}) on fly.io, which forwards UDP without rewriting ports`);
      }
      if (onFly && isIP(parsed.host) === 6) {
        problems.add(name, 'must be IPv4 on fly.io, which has no public UDP over IPv6 (allocate a dedicated IPv4)');
      }
    }
  }
  return { host, port, socketType: isIP(host) === 6 ? 'udp6' : 'udp4', publicEndpoint };
}

/**
 * Worker `worker`'s public endpoint: the configured one with the port moved up by the worker's
 * index, the same offset as its bound port. When the public port is 0 (development with
 * RELAY_UDP_PORT=0 and no public endpoint), the worker's own ephemeral `boundPort`.
 */
export function workerPublicEndpoint(udp: RelayUdpConfig, worker: number, boundPort: number): RelayEndpoint {
  return { host: udp.publicEndpoint.host, port: udp.publicEndpoint.port === 0 ? boundPort : udp.publicEndpoint.port + worker };
}

/** RELAY_WORKERS, and that every worker's port (bound and public) exists. */
function readWorkers(env: Env, problems: Problems, production: boolean, cores: number, udp: RelayUdpConfig): number {
  const fallback = production ? Math.max(1, Math.min(cores, MAX_RELAY_WORKERS)) : 1;
  const workers = readInteger(env, problems, 'RELAY_WORKERS', fallback, 1, MAX_RELAY_WORKERS);
  const last = workers - 1;
  if (udp.port !== 0 && udp.port + last > 65535) {
    problems.add('RELAY_UDP_PORT', `leaves no room for ${workers} workers (worker i binds RELAY_UDP_PORT + i, at most 65535)`);
  }
  if (udp.publicEndpoint.port !== 0 && udp.publicEndpoint.port + last > 65535) {
    problems.add('RELAY_PUBLIC_UDP_ENDPOINT', `leaves no room for ${workers} workers (worker i is reached at the port + i, at most 65535)`);
  }
  return workers;
}

function readMetricsToken(env: Env, problems: Problems): string | null {
  const name = 'RELAY_METRICS_TOKEN';
  const raw = read(env, name);
  if (raw === undefined) return null;
  if (raw.length < MIN_METRICS_TOKEN_LENGTH || !TOKEN_PATTERN.test(raw)) {
    problems.add(name, `must be at least ${MIN_METRICS_TOKEN_LENGTH} visible ASCII characters without spaces`);
    return null;
  }
  return raw;
}

/** Facts about the machine that defaults depend on; injected so that loading stays pure. */
export interface RelayHost {
  /** `os.availableParallelism()`: the default RELAY_WORKERS in production. */
  readonly cores: number;
}

/**
 * Reads and checks the relay's configuration. Throws RelayConfigError listing every problem.
 * `env` is usually `process.env`; nothing else is read.
 */
export function loadRelayConfig(env: Record<string, string | undefined>, host: RelayHost = { cores: availableParallelism() }): RelayConfig {
  const problems = new Problems();
  const insecure: string[] = [];
  const environment = readChoice<ParleyEnvironment>(env, problems, 'PARLEY_ENV', ['development', 'production'], 'development');
  const production = environment === 'production';
  const onFly = read(env, 'FLY_APP_NAME') !== undefined;

  const relayId = readPattern(env, problems, 'RELAY_ID', ID_PATTERN, read(env, 'FLY_APP_NAME') ?? DEFAULT_RELAY_ID, '1-63 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit');
  if (production && relayId === DEFAULT_RELAY_ID) {
    problems.add('RELAY_ID', `must be set in production (the control plane tells relays apart by id; "${DEFAULT_RELAY_ID}" is the development default)`);
  }
  const region = readPattern(env, problems, 'RELAY_REGION', REGION_PATTERN, read(env, 'FLY_REGION') ?? 'local', '1-32 characters of A-Z a-z 0-9 _ -');
  const logLevel = readChoice(env, problems, 'RELAY_LOG_LEVEL', RELAY_LOG_LEVELS, 'info');

  const udp = readUdp(env, problems, production, onFly);
  const workers = readWorkers(env, problems, production, host.cores, udp);
  // Production listens on every address (dual stack): fly's proxy and its 6PN private network
  // both need to reach it. Development stays on loopback.
  const listenFallback = production ? '::' : '127.0.0.1';
  const api: RelayApiConfig = {
    host: readHost(env, problems, 'RELAY_API_HOST', listenFallback),
    port: readInteger(env, problems, 'RELAY_API_PORT', 7400, 1, 65535),
    keys: readKeyList(env, problems, production, insecure, API_KEYS_VARIABLE),
  };
  const metrics: RelayMetricsConfig = {
    host: readHost(env, problems, 'RELAY_METRICS_HOST', listenFallback),
    port: readInteger(env, problems, 'RELAY_METRICS_PORT', 9091, 1, 65535),
    token: readMetricsToken(env, problems),
  };
  if (metrics.port === api.port) {
    problems.add('RELAY_METRICS_PORT', `must differ from RELAY_API_PORT (${api.port}): metrics get their own listener, which no public service exposes`);
  }

  const controlPlaneUrl = readControlPlaneUrl(env, problems, production);
  const publicApiUrl = readPublicApiUrl(env, problems, production, api.port);
  const register = readBoolean(env, problems, 'RELAY_REGISTER', true);
  if (production && !register) problems.add('RELAY_REGISTER', 'must not be false in production: a relay the control plane does not know gets no sessions');
  // Short intervals are for end-to-end tests; production heartbeats at most once a second.
  const heartbeatIntervalMs = readInteger(env, problems, 'RELAY_HEARTBEAT_INTERVAL_MS', 10_000, production ? 1_000 : 100, 600_000);
  const privateKey = readPrivateKey(env, problems, production, insecure);
  const controlKeys = readKeyList(env, problems, production, insecure, CONTROL_KEY_VARIABLE);
  if (controlKeys.size > 1) problems.add('RELAY_CONTROL_KEY', 'must be exactly one keyId:secret');
  const [controlKeyId, controlSecret] = [...controlKeys][0] ?? ['', new Uint8Array(0)];
  for (const [keyId, secret] of api.keys) {
    if (bytesEqual(secret, controlSecret) || keyId === controlKeyId) {
      problems.add('RELAY_CONTROL_KEY', 'must differ (key id and secret) from every RELAY_API_KEYS entry: a relay must never hold a key relays accept for signing its own requests');
    }
  }

  const maxDatagramBytes = readInteger(env, problems, 'RELAY_MAX_DATAGRAM_BYTES', 1500, 200, 65507);
  const byteBurst = readInteger(env, problems, 'RELAY_SESSION_BYTE_BURST', 32000, 200, 100_000_000);
  if (byteBurst < maxDatagramBytes) {
    problems.add('RELAY_SESSION_BYTE_BURST', `must be at least RELAY_MAX_DATAGRAM_BYTES (${maxDatagramBytes}), or the largest packets could never pass`);
  }
  const registry: RegistryLimits = {
    maxSessions: readInteger(env, problems, 'RELAY_MAX_SESSIONS', 10_000, 1, 1_000_000),
    maxChannels: readInteger(env, problems, 'RELAY_MAX_CHANNELS', 5_000, 1, 1_000_000),
    idleTimeoutMs: readInteger(env, problems, 'RELAY_IDLE_TIMEOUT_SECONDS', 30, 5, 86_400) * 1000,
    rotationOverlapMs: readInteger(env, problems, 'RELAY_ROTATION_OVERLAP_SECONDS', 10, 1, 3_600) * 1000,
    session: {
      packetsPerSecond: readInteger(env, problems, 'RELAY_SESSION_PPS', 150, 1, 100_000),
      packetBurst: readInteger(env, problems, 'RELAY_SESSION_PACKET_BURST', 100, 1, 1_000_000),
      bytesPerSecond: readInteger(env, problems, 'RELAY_SESSION_BPS', 64_000, 1_000, 100_000_000),
      byteBurst,
      unlatchedPacketsPerSecond: readInteger(env, problems, 'RELAY_UNLATCHED_PPS', 10, 1, 10_000),
      replayWindowSize: readInteger(env, problems, 'RELAY_REPLAY_WINDOW', 128, MIN_REPLAY_WINDOW, MAX_REPLAY_WINDOW),
    },
  };
  const drainDeadlineMs = readInteger(env, problems, 'RELAY_DRAIN_DEADLINE_SECONDS', 300, 0, 86_400) * 1000;

  if (problems.list.length > 0) {
    privateKey.fill(0);
    controlSecret.fill(0);
    for (const secret of api.keys.values()) secret.fill(0);
    throw new RelayConfigError(problems.list);
  }
  return {
    environment,
    relayId,
    region,
    logLevel,
    udp,
    workers,
    api,
    metrics,
    controlPlaneUrl,
    publicApiUrl,
    register,
    heartbeatIntervalMs,
    controlPlaneKey: { keyId: controlKeyId, secret: controlSecret },
    privateKey,
    publicKey: x25519PublicKey(privateKey),
    registry,
    router: { maxDatagramBytes, timingSampleEvery: TIMING_SAMPLE_EVERY },
    drainDeadlineMs,
    insecureDefaults: insecure,
  };
}

/** The configuration without its secrets, for the startup log line and diagnostics. */
export function describeRelayConfig(config: RelayConfig): Record<string, unknown> {
  return {
    environment: config.environment,
    relayId: config.relayId,
    region: config.region,
    logLevel: config.logLevel,
    udp: { ...config.udp, publicEndpoint: formatEndpoint(config.udp.publicEndpoint) },
    workers: config.workers,
    api: { host: config.api.host, port: config.api.port, keyIds: [...config.api.keys.keys()] },
    metrics: { host: config.metrics.host, port: config.metrics.port, tokenRequired: config.metrics.token !== null },
    controlPlane: new URL(config.controlPlaneUrl).origin,
    publicApiUrl: config.publicApiUrl,
    register: config.register,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    publicKey: Buffer.from(config.publicKey).toString('base64url'),
    registry: config.registry,
    router: config.router,
    drainDeadlineMs: config.drainDeadlineMs,
    insecureDefaults: config.insecureDefaults,
  };
}
