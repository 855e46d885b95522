/**
 * The relay's internal HTTP API (docs/protocol.md §8): how the control plane installs, changes,
 * re-keys, lists and ends voice sessions on this relay.
 *
 * Every /v1 request is signed (shared/relay-api/request-signing.ts) for this relay's id. Per
 * request, in this order:
 *   1. read the body, at most `maxBodyBytes` (413 beyond);
 *   2. verify the signature, the clock skew and the nonce (401 with a generic body and
 *      WWW-Authenticate; 503 when the nonce cache is full). Nothing is recorded before the MAC
 *      verifies, and a refused request changes nothing;
 *   3. parse the body strictly (400), open the sealed keys for (this relay, this boot of it,
 *      session, SSRC, profile) (400), refuse keys the relay has accepted before (409
 *      keys-reused, spent-key-sets.ts), and only then touch the registry.
 *
 * Session keys arrive sealed to the relay's X25519 key, so a TLS-terminating proxy never sees
 * them; opened keys are wiped as soon as the SRTP contexts hold their own derived copies.
 * Logs carry event names, ids, reasons and key ids — never keys, signatures or bodies.
 *
 * GET /healthz is unauthenticated and reveals only the relay's id, its health, whether it drains,
 * and its session count: the API port is reachable from the internet through a TLS-terminating
 * proxy (fly.toml), since the control plane runs outside fly's private network. Prometheus
 * metrics are never served here; they have their own listener, which stays private.
 */
import type { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import { concatBytes, wipeBytes } from '../../../shared/bytes.js';
import { assertRelayApiId, assertRelayBootId, isRelayApiId } from '../../../shared/relay-api/ids.js';
import {
  parseInstallSession,
  parseJsonBody,
  parseRevokeSession,
  parseRotateSession,
  parseUpdateSession,
  type ErrorResponse,
  type InstallSessionResponse,
  type RelaySessionSummary,
  type SessionListResponse,
} from '../../../shared/relay-api/messages.js';
import {
  assertKeyId,
  assertSigningSecret,
  authenticateChallenge,
  DEFAULT_MAX_SKEW_MS,
  verifyRequest,
  type NonceStore,
} from '../../../shared/relay-api/request-signing.js';
import { isSealError, openSessionKeys, wipeSessionKeyMaterial, type SealContext, type SealOpener, type SessionKeyMaterial } from '../../../shared/relay-api/sealed-keys.js';
import { WorkerUnavailableError, type SessionDirectory, type SessionPlacement } from '../media/session-directory.js';
import { InstallRefusedError, type InstallRefusal } from '../media/session-registry.js';
import { SpentKeySets, type KeySetClaim } from './spent-key-sets.js';

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024;
export const INTERNAL_API_REALM = 'parley-relay';

/** Structured logging; pino's (fields, message) signature. */
export interface InternalApiLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface InternalApiDeps {
  /** The relay's sessions: one local registry, or the relay workers (worker-pool.ts). */
  readonly sessions: SessionDirectory;
  readonly relayId: string;
  /**
   * This run of the relay (shared/relay-api/ids.ts), drawn at start and announced at
   * registration: seals must name it, so nothing sealed for an earlier run opens.
   */
  readonly bootId: string;
  /** keyId → HMAC secret (≥ 32 bytes). Copied at construction. */
  readonly apiKeys: ReadonlyMap<string, Uint8Array>;
  /**
   * Holds this relay's X25519 private key and opens sealed session keys with it: the pure one
   * (createSealOpener), or the native one the relay injects (relay/src/io/native-keys.ts).
   */
  readonly sealOpener: SealOpener;
  /** ms since the Unix epoch. */
  readonly now: () => number;
  readonly nonceCache: NonceStore;
  /** Every master key accepted in this process, so none is installed twice; one per relay. */
  readonly spentKeys?: SpentKeySets;
  readonly logger?: InternalApiLogger;
  readonly maxBodyBytes?: number;
  readonly maxSkewMs?: number;
}

interface AuthenticatedRequest {
  /** The verified body bytes. */
  readonly body: Uint8Array;
  /** The time the request was verified at; used for every registry call it makes. */
  readonly now: number;
  readonly keyId: string;
}

/**
 * Under @hono/node-server the Node request is in the bindings: reading its body and headers
 * there skips building a WHATWG Request (an undici Request with web streams costs a few hundred
 * microseconds per request, the largest share of an install after the seal). app.request() in
 * tests has no bindings and takes the WHATWG path.
 */
type Env = { Bindings: { incoming?: IncomingMessage }; Variables: { request: AuthenticatedRequest } };

/** Statuses and error codes for the registry's install refusals. */
const REFUSAL_STATUS: Readonly<Record<InstallRefusal, { status: 400 | 409 | 503; error: ErrorResponse['error'] }>> = {
  'duplicate-session': { status: 409, error: 'conflict' },
  'duplicate-ssrc': { status: 409, error: 'conflict' },
  'session-limit': { status: 503, error: 'unavailable' },
  'channel-limit': { status: 503, error: 'unavailable' },
  draining: { status: 503, error: 'unavailable' },
  expired: { status: 400, error: 'bad_request' },
};

const silentLogger: InternalApiLogger = { info() {}, warn() {} };

export function createInternalApi(deps: InternalApiDeps): Hono<Env> {
  assertRelayApiId(deps.relayId, 'relayId');
  assertRelayBootId(deps.bootId, 'bootId');
  const apiKeys = new Map<string, Uint8Array>();
  for (const [keyId, secret] of deps.apiKeys) {
    assertKeyId(keyId);
    assertSigningSecret(secret, 'internal-api: API key secret');
    apiKeys.set(keyId, secret);
  }
  if (apiKeys.size === 0) throw new RangeError('internal-api: at least one API key is required');
  const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxSkewMs = deps.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const { sessions, relayId, bootId } = deps;
  const spentKeys = deps.spentKeys ?? new SpentKeySets();
  const log = deps.logger ?? silentLogger;
  const challenge = authenticateChallenge(INTERNAL_API_REALM);

  const app = new Hono<Env>();

  app.get('/healthz', function healthz(c) {
    // 503 once a worker has died: its shard of channels is gone, and fly's check should show it.
    const ok = sessions.healthy;
    return c.json({ ok, relayId, bootId, draining: sessions.draining, sessions: sessions.size }, ok ? 200 : 503);
  });

  app.use('/v1/*', async function authenticateInternalRequest(c, next) {
    const incoming = c.env?.incoming;
    const body = incoming !== undefined ? await readIncomingCapped(incoming, maxBodyBytes) : await readBodyCapped(c.req.raw, maxBodyBytes);
    if (body === null) {
      log.warn({ event: 'internal_api.body_too_large', method: c.req.method, limit: maxBodyBytes }, 'internal API request body too large');
      return c.json<ErrorResponse>({ error: 'payload_too_large', detail: `body exceeds ${maxBodyBytes} bytes` }, 413);
    }
    const now = deps.now();
    const verdict = verifyRequest(
      { method: c.req.method, url: c.req.url, authorization: authorizationHeader(c, incoming), body },
      { audience: relayId, keys: apiKeys, now, nonces: deps.nonceCache, maxSkewMs },
    );
    if (!verdict.ok) {
      log.warn(
        { event: 'internal_api.unauthorized', reason: verdict.reason, keyId: verdict.keyId, method: c.req.method, path: c.req.path },
        'internal API request refused',
      );
      if (verdict.reason === 'nonce-cache-full') {
        return c.json<ErrorResponse>({ error: 'unavailable', reason: 'nonce-cache-full' }, 503, { 'retry-after': '1' });
      }
      return c.json<ErrorResponse>({ error: 'unauthorized' }, 401, { 'www-authenticate': challenge });
    }
    c.set('request', { body, now, keyId: verdict.keyId });
    return next();
  });

  app.post('/v1/sessions', async function installSession(c) {
    const request = c.get('request');
    const parsed = parseBody(request.body, parseInstallSession);
    if (!parsed.ok) return badRequest(c, parsed.detail);
    const body = parsed.value;
    const keys = openKeys({ relayId, bootId, sessionId: body.sessionId, ssrc: body.ssrc, profile: body.profile }, body.sealedKeys);
    if (!keys.ok) {
      log.warn({ event: 'internal_api.seal_refused', reason: keys.reason, sessionId: body.sessionId, keyId: request.keyId }, 'sealed keys refused');
      return badRequest(c, `sealedKeys could not be opened (${keys.reason})`);
    }
    const claim = spentKeys.claim(body.sessionId, keys.value, body.expiresAt, request.now);
    if (!claim.ok) {
      wipeSessionKeyMaterial(keys.value);
      return keysRefused(c, claim, body.sessionId, request.keyId);
    }
    let placement: SessionPlacement;
    try {
      // The keys are consumed (copied into SRTP contexts, or into the buffer handed to a worker)
      // before install() first awaits, so the wipe below leaves no copy in this thread.
      placement = await sessions.install(
        {
          sessionId: body.sessionId,
          userId: body.userId,
          channelId: body.channelId,
          profile: body.profile,
          ssrc: body.ssrc,
          ...body.permissions,
          expiresAt: body.expiresAt,
          clientToRelay: keys.value.clientToRelay,
          relayToClient: keys.value.relayToClient,
        },
        request.now,
      );
    } catch (error) {
      // Refused before any SRTP context held them: the keys were never used and stay usable.
      // Anything else (a worker that died holding them, a bug) leaves them spent.
      if (error instanceof InstallRefusedError) {
        claim.release();
        return refused(c, error.reason, body.sessionId, request.keyId);
      }
      if (error instanceof WorkerUnavailableError) return workerUnavailable(c, error, body.sessionId, request.keyId);
      throw error;
    } finally {
      wipeSessionKeyMaterial(keys.value);
    }
    log.info(
      {
        event: 'internal_api.session_installed',
        sessionId: body.sessionId,
        channelId: body.channelId,
        ssrc: body.ssrc,
        worker: placement.worker,
        keyId: request.keyId,
      },
      'session installed',
    );
    const { udpPort, udpEndpoint } = placement;
    return c.json<InstallSessionResponse>({ sessionId: body.sessionId, ssrc: body.ssrc, udpPort, udpEndpoint: { host: udpEndpoint.host, port: udpEndpoint.port } }, 201);
  });

  app.get('/v1/sessions', async function listSessions(c) {
    const list: RelaySessionSummary[] = await sessions.list();
    return c.json<SessionListResponse>({ relayId, draining: sessions.draining, sessions: list });
  });

  app.patch('/v1/sessions/:id', async function updateSession(c) {
    const request = c.get('request');
    const sessionId = c.req.param('id');
    if (!isRelayApiId(sessionId) || sessions.profileOf(sessionId) === undefined) return notFound(c);
    const parsed = parseBody(request.body, parseUpdateSession);
    if (!parsed.ok) return badRequest(c, parsed.detail);
    if (parsed.value.expiresAt !== undefined && parsed.value.expiresAt <= request.now) {
      return badRequest(c, 'expiresAt must be in the future (use DELETE to end a session)');
    }
    const state = await sessions.update(sessionId, parsed.value);
    if (state === undefined) return notFound(c);
    // Its keys are remembered as long as the session may use them.
    spentKeys.extend(sessionId, state.expiresAt);
    log.info({ event: 'internal_api.session_updated', sessionId, fields: Object.keys(parsed.value), keyId: request.keyId }, 'session updated');
    return c.json(state);
  });

  app.post('/v1/sessions/:id/rotate', async function rotateSessionKeys(c) {
    const request = c.get('request');
    const sessionId = c.req.param('id');
    const profile = isRelayApiId(sessionId) ? sessions.profileOf(sessionId) : undefined;
    if (profile === undefined) return notFound(c);
    const parsed = parseBody(request.body, parseRotateSession);
    if (!parsed.ok) return badRequest(c, parsed.detail);
    const { ssrc, expiresAt } = parsed.value;
    if (expiresAt !== undefined && expiresAt <= request.now) {
      return badRequest(c, 'expiresAt must be in the future (use DELETE to end a session)');
    }
    const keys = openKeys({ relayId, bootId, sessionId, ssrc, profile }, parsed.value.sealedKeys);
    if (!keys.ok) {
      log.warn({ event: 'internal_api.seal_refused', reason: keys.reason, sessionId, keyId: request.keyId }, 'sealed keys refused');
      return badRequest(c, `sealedKeys could not be opened (${keys.reason})`);
    }
    // Remembered until the session's expiry as installed or last extended (`now` is only a floor).
    const claim = spentKeys.claim(sessionId, keys.value, request.now, request.now);
    if (!claim.ok) {
      wipeSessionKeyMaterial(keys.value);
      return keysRefused(c, claim, sessionId, request.keyId);
    }
    let ssrcs: readonly number[] | undefined;
    try {
      ssrcs = await sessions.rotate(sessionId, { ssrc, ...keys.value }, request.now);
    } catch (error) {
      if (error instanceof InstallRefusedError) {
        claim.release();
        return refused(c, error.reason, sessionId, request.keyId);
      }
      throw error;
    } finally {
      wipeSessionKeyMaterial(keys.value);
    }
    if (ssrcs === undefined) {
      claim.release(); // the session ended meanwhile: nothing holds these keys
      return notFound(c);
    }
    if (expiresAt !== undefined) {
      // The new keys' lifetime, as a PATCH of expiresAt would set it; the spent-key record follows.
      const state = await sessions.update(sessionId, { expiresAt });
      if (state !== undefined) spentKeys.extend(sessionId, state.expiresAt);
    }
    log.info({ event: 'internal_api.session_rotated', sessionId, ssrc, expiresAt: expiresAt ?? null, keyId: request.keyId }, 'session keys rotated');
    return c.json({ sessionId, ssrcs });
  });

  app.delete('/v1/sessions/:id', async function revokeSession(c) {
    const request = c.get('request');
    const sessionId = c.req.param('id');
    if (!isRelayApiId(sessionId) || sessions.profileOf(sessionId) === undefined) return notFound(c);
    const parsed = parseRevokeSession(request.body);
    if (!parsed.ok) return badRequest(c, parsed.detail);
    if (!(await sessions.revoke(sessionId, request.now))) return notFound(c);
    log.info({ event: 'internal_api.session_revoked', sessionId, keyId: request.keyId }, 'session revoked');
    return c.body(null, 204);
  });

  app.notFound(function routeNotFound(c) {
    return c.json<ErrorResponse>({ error: 'not_found' }, 404);
  });

  app.onError(function internalError(error, c) {
    // A worker that died while it held the request: the session's shard is gone.
    if (error instanceof WorkerUnavailableError) {
      log.warn({ event: 'internal_api.worker_unavailable', worker: error.worker, method: c.req.method, path: c.req.path }, 'relay worker unavailable');
      return c.json<ErrorResponse>({ error: 'unavailable', reason: 'worker-unavailable' }, 503);
    }
    // The name only: messages of errors thrown below us are not ours to vouch for.
    log.warn({ event: 'internal_api.error', error: error.name, method: c.req.method, path: c.req.path }, 'internal API error');
    return c.json<ErrorResponse>({ error: 'internal' }, 500);
  });

  function openKeys(
    context: SealContext,
    sealed: unknown,
  ): { ok: true; value: SessionKeyMaterial } | { ok: false; reason: string } {
    try {
      return { ok: true, value: openSessionKeys(deps.sealOpener, context, sealed) };
    } catch (error) {
      if (isSealError(error)) return { ok: false, reason: error.reason };
      throw error;
    }
  }

  function refused(c: Context<Env>, reason: InstallRefusal, sessionId: string, keyId: string): Response {
    const { status, error } = REFUSAL_STATUS[reason];
    log.warn({ event: 'internal_api.session_refused', reason, sessionId, keyId }, 'session refused');
    const detail = reason === 'expired' ? 'expiresAt must be in the future' : undefined;
    return c.json<ErrorResponse>(detail === undefined ? { error, reason } : { error, reason, detail }, status);
  }

  function keysRefused(c: Context<Env>, claim: Extract<KeySetClaim, { ok: false }>, sessionId: string, keyId: string): Response {
    log.warn({ event: 'internal_api.keys_refused', reason: claim.reason, sessionId, keyId }, 'session keys refused');
    if (claim.reason === 'keys-reused') return c.json<ErrorResponse>({ error: 'conflict', reason: 'keys-reused' }, 409);
    return c.json<ErrorResponse>({ error: 'unavailable', reason: 'spent-keys-full' }, 503, { 'retry-after': '60' });
  }

  function workerUnavailable(c: Context<Env>, error: WorkerUnavailableError, sessionId: string, keyId: string): Response {
    log.warn({ event: 'internal_api.session_refused', reason: 'worker-unavailable', worker: error.worker, sessionId, keyId }, 'session refused');
    return c.json<ErrorResponse>({ error: 'unavailable', reason: 'worker-unavailable' }, 503);
  }

  return app;
}

function parseBody<T>(body: Uint8Array, parse: (value: unknown) => { ok: true; value: T } | { ok: false; detail: string }) {
  const json = parseJsonBody(body);
  return json.ok ? parse(json.value) : json;
}

function badRequest(c: Context<Env>, detail: string): Response {
  return c.json<ErrorResponse>({ error: 'bad_request', detail }, 400);
}

function notFound(c: Context<Env>): Response {
  return c.json<ErrorResponse>({ error: 'not_found' }, 404);
}

/** The Authorization header: straight from the Node request when there is one (one header, or null). */
function authorizationHeader(c: Context<Env>, incoming: IncomingMessage | undefined): string | null {
  if (incoming === undefined) return c.req.header('authorization') ?? null;
  const value = incoming.headers.authorization;
  return typeof value === 'string' ? value : null;
}

/**
 * readBodyCapped on a Node request: the whole body, or null once it passes `maxBytes`. Reading
 * stops there; @hono/node-server drains or closes what is left after the answer is sent.
 */
function readIncomingCapped(incoming: IncomingMessage, maxBytes: number): Promise<Uint8Array | null> {
  const declared = incoming.headers['content-length'];
  if (declared !== undefined && !(Number(declared) <= maxBytes)) return Promise.resolve(null);
  if (incoming.readableEnded) return Promise.resolve(new Uint8Array(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const done = (): void => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > maxBytes) {
        done();
        incoming.pause();
        wipeBytes(...chunks);
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      done();
      resolve(chunks.length === 1 ? new Uint8Array(chunks[0]!.buffer, chunks[0]!.byteOffset, chunks[0]!.length) : concatBytes(...chunks));
    };
    const onError = (error: Error): void => {
      done();
      reject(error);
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
  });
}

/**
 * The whole body, or null once it passes `maxBytes` — checked against Content-Length first and
 * then while reading, so a chunked or lying request cannot make the relay buffer more.
 */
async function readBodyCapped(request: Request, maxBytes: number): Promise<Uint8Array | null> {
  const declared = request.headers.get('content-length');
  if (declared !== null && !(Number(declared) <= maxBytes)) return null;
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      wipeBytes(...chunks);
      return null;
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : concatBytes(...chunks);
}
