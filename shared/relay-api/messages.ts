/**
 * Bodies of the relay internal API (docs/protocol.md §8.5–§8.6), with strict validators shared
 * by the relay (which parses them) and the control plane (which builds and, for registration,
 * parses them).
 *
 * Strict means: objects only, unknown fields refused, ids 1..128 visible ASCII (ids.ts), SSRCs
 * uint32, times integer milliseconds since the Unix epoch. A refusal names the field and the
 * rule and never repeats the value, so nothing secret can end up in a 400 body or a log line.
 */
import { decodeBase64Url } from './base64url.js';
import { isRelayApiId, isRelayBootId, MAX_RELAY_API_ID_LENGTH, RELAY_BOOT_ID_LENGTH } from './ids.js';
import { SEAL_VERSION, type SealedKeys } from './sealed-keys.js';
import { isSrtpProfileName, type SrtpProfileName } from '../srtp/profiles.js';

export interface SessionPermissionsBody {
  readonly canSpeak: boolean;
  readonly canListen: boolean;
  readonly muted: boolean;
  readonly deafened: boolean;
}

/** POST /v1/sessions */
export interface InstallSessionBody {
  readonly sessionId: string;
  readonly userId: string;
  readonly channelId: string;
  readonly ssrc: number;
  readonly profile: SrtpProfileName;
  readonly permissions: SessionPermissionsBody;
  /** Absolute expiry, ms since the Unix epoch. */
  readonly expiresAt: number;
  /** Sealed to this relay for (relayId, bootId, sessionId, ssrc, profile): sealed-keys.ts. */
  readonly sealedKeys: SealedKeys;
}

/** PATCH /v1/sessions/:id — at least one field. */
export interface UpdateSessionBody {
  readonly canSpeak?: boolean;
  readonly canListen?: boolean;
  readonly muted?: boolean;
  readonly deafened?: boolean;
  readonly expiresAt?: number;
}

/** POST /v1/sessions/:id/rotate — keys sealed for the new SSRC and the session's profile. */
export interface RotateSessionBody {
  readonly ssrc: number;
  readonly sealedKeys: SealedKeys;
  /**
   * The session's new absolute expiry (ms since the Unix epoch), applied with the new keys: what
   * a PATCH of `expiresAt` after the rotation would do, without a second signed request.
   */
  readonly expiresAt?: number;
}

/** DELETE /v1/sessions/:id — an empty body, or `{}`. */
export type RevokeSessionBody = Readonly<Record<string, never>>;

/** A UDP endpoint: an IP address (IPv6 without brackets) or host name, and a port. */
export interface UdpEndpointBody {
  readonly host: string;
  readonly port: number;
}

/**
 * 201 answer to an install: where this session's client must send voice. A relay runs one
 * worker per core, each on its own UDP port, and a channel lives on one of them, so the
 * endpoint depends on the channel; the control plane passes it on to the client.
 */
export interface InstallSessionResponse {
  readonly sessionId: string;
  readonly ssrc: number;
  /** The port the session's worker is bound to (equal to `udpEndpoint.port` unless a NAT rewrites ports). */
  readonly udpPort: number;
  /** The public endpoint clients send this session's SRTP to. */
  readonly udpEndpoint: UdpEndpointBody;
}

/** One entry of GET /v1/sessions: state for reconciliation, never key material. */
export interface RelaySessionSummary {
  readonly sessionId: string;
  readonly userId: string;
  readonly channelId: string;
  /** Newest first: the current SSRC, then the previous one while its rotation overlap lasts. */
  readonly ssrcs: readonly number[];
  readonly profile: string;
  readonly canSpeak: boolean;
  readonly canListen: boolean;
  readonly muted: boolean;
  readonly deafened: boolean;
  readonly expiresAt: number;
  readonly lastActiveAt: number;
  readonly addressLatched: boolean;
}

export interface SessionListResponse {
  readonly relayId: string;
  readonly draining: boolean;
  readonly sessions: readonly RelaySessionSummary[];
}

/** Body of every 4xx/5xx answer. `detail`/`reason` never carry request values. */
export interface ErrorResponse {
  readonly error: 'bad_request' | 'unauthorized' | 'not_found' | 'conflict' | 'payload_too_large' | 'unavailable' | 'internal';
  readonly detail?: string;
  readonly reason?: string;
}

/** POST {control}/internal/relays/register and …/heartbeat (same body). */
export interface RelayRegistrationBody {
  readonly relayId: string;
  /**
   * This run of the relay (ids.ts): new at every start. Seals name it (§8.4), so the control plane
   * seals with the boot id of the relay's latest registration; a new one means the relay restarted
   * and every session it held is gone.
   */
  readonly bootId: string;
  /** fly.io region code or similar. */
  readonly region: string;
  /**
   * Base URL of the relay's internal API (§8.1), where the control plane installs, rotates and
   * revokes sessions (§8.5): http(s), no credentials, query or fragment, at most
   * MAX_RELAY_API_URL_LENGTH characters; as sent (the control plane requires https:// in
   * production).
   */
  readonly apiUrl: string;
  /** Worker 0's public endpoint: the same as `udpEndpoints[0]`. */
  readonly udpEndpoint: UdpEndpointBody;
  /** Every worker's public endpoint, worker i at index i. An install's answer says which one a session uses. */
  readonly udpEndpoints: readonly UdpEndpointBody[];
  /** The relay's X25519 public key, base64url (43 characters). */
  readonly publicKey: string;
  readonly load: { readonly sessions: number; readonly channels: number };
  readonly draining: boolean;
  /**
   * Sessions whose current keys reached the soft key-usage limit (docs/protocol.md §2.8): the
   * control plane should rotate them (§8.5). Listed in every body while it holds, at most
   * MAX_REPORTED_SESSIONS.
   */
  readonly rekeyRequested: readonly string[];
  /**
   * Sessions the relay lost without being told to end them (a worker crashed or hung, §8.5): the
   * control plane should re-key them, here or on another relay. Listed until a body carrying them
   * was answered 2xx, at most MAX_REPORTED_SESSIONS at a time (the rest in the next ones).
   */
  readonly lostSessions: readonly string[];
}

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly detail: string };

/** Longest accepted `ct`: the largest profile's plaintext (2 × (32 + 12)) + tag, with room to spare. */
const MAX_SEALED_CT_CHARS = 256;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/;
const HOST_PATTERN = /^[A-Za-z0-9.:_-]{1,253}$/;
/** Most UDP endpoints in a registration: relay/src/config.ts MAX_RELAY_WORKERS. */
export const MAX_RELAY_UDP_ENDPOINTS = 64;
/** Longest accepted `apiUrl`: a generous URL, far below the 16 KiB body limit. */
export const MAX_RELAY_API_URL_LENGTH = 512;
/** Most session ids in rekeyRequested and in lostSessions: keeps a body near 32 KiB at worst. */
export const MAX_REPORTED_SESSIONS = 128;
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** UTF-8 JSON → value. Refuses invalid UTF-8 and invalid JSON without quoting either. */
export function parseJsonBody(body: Uint8Array): ParseResult<unknown> {
  let text: string;
  try {
    text = utf8Strict.decode(body);
  } catch {
    return fail('body is not valid UTF-8');
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return fail('body is not valid JSON');
  }
}

export function parseInstallSession(value: unknown): ParseResult<InstallSessionBody> {
  try {
    const o = object(value, 'body', ['sessionId', 'userId', 'channelId', 'ssrc', 'profile', 'permissions', 'expiresAt', 'sealedKeys']);
    const p = object(o.permissions, 'permissions', ['canSpeak', 'canListen', 'muted', 'deafened']);
    return {
      ok: true,
      value: {
        sessionId: id(o.sessionId, 'sessionId'),
        userId: id(o.userId, 'userId'),
        channelId: id(o.channelId, 'channelId'),
        ssrc: ssrc(o.ssrc, 'ssrc'),
        profile: profile(o.profile, 'profile'),
        permissions: {
          canSpeak: bool(p.canSpeak, 'permissions.canSpeak'),
          canListen: bool(p.canListen, 'permissions.canListen'),
          muted: bool(p.muted, 'permissions.muted'),
          deafened: bool(p.deafened, 'permissions.deafened'),
        },
        expiresAt: time(o.expiresAt, 'expiresAt'),
        sealedKeys: sealedKeys(o.sealedKeys, 'sealedKeys'),
      },
    };
  } catch (error) {
    return refusal(error);
  }
}

export function parseUpdateSession(value: unknown): ParseResult<UpdateSessionBody> {
  try {
    const o = object(value, 'body', ['canSpeak', 'canListen', 'muted', 'deafened', 'expiresAt']);
    const patch: { -readonly [K in keyof UpdateSessionBody]: UpdateSessionBody[K] } = {};
    for (const field of ['canSpeak', 'canListen', 'muted', 'deafened'] as const) {
      if (o[field] !== undefined) patch[field] = bool(o[field], field);
    }
    if (o.expiresAt !== undefined) patch.expiresAt = time(o.expiresAt, 'expiresAt');
    if (Object.keys(patch).length === 0) throw new Refusal('body must change at least one field');
    return { ok: true, value: patch };
  } catch (error) {
    return refusal(error);
  }
}

export function parseRotateSession(value: unknown): ParseResult<RotateSessionBody> {
  try {
    const o = object(value, 'body', ['ssrc', 'sealedKeys', 'expiresAt']);
    const body = { ssrc: ssrc(o.ssrc, 'ssrc'), sealedKeys: sealedKeys(o.sealedKeys, 'sealedKeys') };
    return { ok: true, value: o.expiresAt === undefined ? body : { ...body, expiresAt: time(o.expiresAt, 'expiresAt') } };
  } catch (error) {
    return refusal(error);
  }
}

/** Revoke takes no parameters: the body must be empty or `{}`. */
export function parseRevokeSession(body: Uint8Array): ParseResult<RevokeSessionBody> {
  if (body.length === 0) return { ok: true, value: {} };
  const json = parseJsonBody(body);
  if (!json.ok) return json;
  try {
    object(json.value, 'body', []);
    return { ok: true, value: {} };
  } catch (error) {
    return refusal(error);
  }
}

/** The 201 body of an install, as the control plane receives it. */
export function parseInstallSessionResponse(value: unknown): ParseResult<InstallSessionResponse> {
  try {
    const o = object(value, 'body', ['sessionId', 'ssrc', 'udpPort', 'udpEndpoint']);
    return {
      ok: true,
      value: {
        sessionId: id(o.sessionId, 'sessionId'),
        ssrc: ssrc(o.ssrc, 'ssrc'),
        udpPort: port(o.udpPort, 'udpPort'),
        udpEndpoint: udpEndpoint(o.udpEndpoint, 'udpEndpoint'),
      },
    };
  } catch (error) {
    return refusal(error);
  }
}

export function parseRelayRegistration(value: unknown): ParseResult<RelayRegistrationBody> {
  try {
    const o = object(value, 'body', ['relayId', 'bootId', 'region', 'apiUrl', 'udpEndpoint', 'udpEndpoints', 'publicKey', 'load', 'draining', 'rekeyRequested', 'lostSessions']);
    const first = udpEndpoint(o.udpEndpoint, 'udpEndpoint');
    const list = o.udpEndpoints;
    if (!Array.isArray(list) || list.length < 1 || list.length > MAX_RELAY_UDP_ENDPOINTS) {
      throw new Refusal(`udpEndpoints must be an array of 1..${MAX_RELAY_UDP_ENDPOINTS} endpoints`);
    }
    const endpoints = list.map((e: unknown, i) => udpEndpoint(e, `udpEndpoints[${i}]`));
    if (endpoints[0]!.host !== first.host || endpoints[0]!.port !== first.port) {
      throw new Refusal('udpEndpoint must equal udpEndpoints[0]');
    }
    const load = object(o.load, 'load', ['sessions', 'channels']);
    const publicKey = o.publicKey;
    if (typeof publicKey !== 'string' || publicKey.length !== 43 || decodeBase64Url(publicKey) === null) {
      throw new Refusal('publicKey must be 32 bytes of base64url');
    }
    if (!isRelayBootId(o.bootId)) throw new Refusal(`bootId must be ${RELAY_BOOT_ID_LENGTH} base64url characters (16 bytes)`);
    return {
      ok: true,
      value: {
        relayId: id(o.relayId, 'relayId'),
        bootId: o.bootId,
        region: id(o.region, 'region'),
        apiUrl: apiUrl(o.apiUrl, 'apiUrl'),
        udpEndpoint: first,
        udpEndpoints: endpoints,
        publicKey,
        load: { sessions: count(load.sessions, 'load.sessions'), channels: count(load.channels, 'load.channels') },
        draining: bool(o.draining, 'draining'),
        rekeyRequested: sessionIds(o.rekeyRequested, 'rekeyRequested'),
        lostSessions: sessionIds(o.lostSessions, 'lostSessions'),
      },
    };
  } catch (error) {
    return refusal(error);
  }
}

/** The `apiUrl` rule of a registration alone (a relay checks its own before it announces it). */
export function parseRelayApiUrl(value: unknown): ParseResult<string> {
  try {
    return { ok: true, value: apiUrl(value, 'apiUrl') };
  } catch (error) {
    return refusal(error);
  }
}

/** A validation failure; `message` is the client-facing detail (field and rule, no value). */
class Refusal extends Error {}

function fail(detail: string): { ok: false; detail: string } {
  return { ok: false, detail };
}

function refusal(error: unknown): { ok: false; detail: string } {
  if (error instanceof Refusal) return fail(error.message);
  throw error;
}

function object(value: unknown, what: string, allowed: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Refusal(`${what} must be a JSON object`);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      // Name the field only when it looks like a field name; never echo arbitrary input.
      const name = /^[A-Za-z0-9_]{1,32}$/.test(key) ? ` '${key}'` : '';
      throw new Refusal(`${what} has an unknown field${name}`);
    }
  }
  return value as Record<string, unknown>;
}

function id(value: unknown, what: string): string {
  if (!isRelayApiId(value)) throw new Refusal(`${what} must be a string of 1..${MAX_RELAY_API_ID_LENGTH} visible ASCII characters`);
  return value;
}

function sessionIds(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length > MAX_REPORTED_SESSIONS) throw new Refusal(`${what} must be an array of at most ${MAX_REPORTED_SESSIONS} session ids`);
  return value.map((item: unknown, i) => id(item, `${what}[${i}]`));
}

function bool(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') throw new Refusal(`${what} must be a boolean`);
  return value;
}

function ssrc(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new Refusal(`${what} must be an integer in 0..4294967295`);
  }
  return value;
}

function port(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new Refusal(`${what} must be an integer in 1..65535`);
  }
  return value;
}

function udpEndpoint(value: unknown, what: string): UdpEndpointBody {
  const o = object(value, what, ['host', 'port']);
  if (typeof o.host !== 'string' || !HOST_PATTERN.test(o.host)) throw new Refusal(`${what}.host must be a host name or IP address`);
  return { host: o.host, port: port(o.port, `${what}.port`) };
}

/**
 * An absolute http(s) URL without credentials (a base URL is no place for secrets, and fetch
 * refuses them), query or fragment (paths are resolved below it, RFC 3986 §5.2).
 */
function apiUrl(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_RELAY_API_URL_LENGTH || !/^[\x21-\x7e]+$/.test(value)) {
    throw new Refusal(`${what} must be an absolute http(s) URL of at most ${MAX_RELAY_API_URL_LENGTH} visible ASCII characters`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Refusal(`${what} must be an absolute http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Refusal(`${what} must be an http:// or https:// URL`);
  if (url.username !== '' || url.password !== '') throw new Refusal(`${what} must not carry credentials`);
  if (url.search !== '' || url.hash !== '' || value.includes('?') || value.includes('#')) throw new Refusal(`${what} must not have a query or a fragment`);
  return value;
}

function time(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new Refusal(`${what} must be a positive integer (ms since the Unix epoch)`);
  }
  return value;
}

function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new Refusal(`${what} must be a non-negative integer`);
  return value;
}

function profile(value: unknown, what: string): SrtpProfileName {
  if (!isSrtpProfileName(value)) throw new Refusal(`${what} must be one of aes128gcm, aes256gcm, aescm128sha80`);
  return value;
}

/** Shape only; openSessionKeys() checks lengths against the profile and authenticates. */
function sealedKeys(value: unknown, what: string): SealedKeys {
  const o = object(value, what, ['v', 'epk', 'ct']);
  if (o.v !== SEAL_VERSION) throw new Refusal(`${what}.v must be ${SEAL_VERSION}`);
  if (typeof o.epk !== 'string' || o.epk.length !== 43 || !BASE64URL_PATTERN.test(o.epk)) {
    throw new Refusal(`${what}.epk must be 32 bytes of base64url`);
  }
  if (typeof o.ct !== 'string' || o.ct.length === 0 || o.ct.length > MAX_SEALED_CT_CHARS || !BASE64URL_PATTERN.test(o.ct)) {
    throw new Refusal(`${what}.ct must be base64url of at most ${MAX_SEALED_CT_CHARS} characters`);
  }
  return { v: SEAL_VERSION, epk: o.epk, ct: o.ct };
}
