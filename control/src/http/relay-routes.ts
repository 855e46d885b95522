/**
 * POST /internal/relays/register and /internal/relays/heartbeat: relays announce themselves
 * (docs/protocol.md §8.6, the control plane's view in §4.7).
 *
 * In this order, and nothing is written before the last step:
 * 1. read the body's exact bytes (the signature covers them; nothing parses the body before);
 * 2. check the signature for the audience "control" with the keys of RELAY_CONTROL_KEYS:
 *    header, key id, clock skew (60 s either way), MAC (§8.2 steps 1-4,
 *    checkRequestSignature) → 401;
 * 3. require application/json → 415, then parse strictly with the relay's own validator
 *    (parseRelayRegistration) → 400;
 * 4. accept the relay id only with the key issued for it (relayId "*" in development) → 401;
 *    (and, in production, an apiUrl that is not https://);
 * 5. refuse a public key that fails §3.3 (assertUsableRelayPublicKey) → 400;
 * 6. record the nonce and the announcement in one transaction (relays/relay-directory.ts):
 *    a replay → 401, a heartbeat for an unknown relay → 404 (the relay registers again),
 *    a database failure → 503.
 *
 * Then the sessions the relay lists in `rekeyRequested` are passed to their rooms, which rotate
 * them (room/relay-reports.ts); that never changes the answer.
 *
 * Refusals in 2 and 4 are a generic 401 with `WWW-Authenticate: Parley-HMAC-SHA256
 * realm="parley-control"`; the reason and the key id go to the log, never the header.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { decodeBase64Url } from '../../../shared/relay-api/base64url.js';
import { MAX_RELAY_API_ID_LENGTH, RELAY_BOOT_ID_LENGTH } from '../../../shared/relay-api/ids.js';
import { MAX_RELAY_API_URL_LENGTH, MAX_REPORTED_SESSIONS, parseJsonBody, parseRelayRegistration } from '../../../shared/relay-api/messages.js';
import { authenticateChallenge, CONTROL_PLANE_AUDIENCE, checkRequestSignature } from '../../../shared/relay-api/request-signing.js';
import { assertUsableRelayPublicKey } from '../../../shared/relay-api/sealed-keys.js';
import type { RelayControlKey } from '../config.js';
import { recordRelayAnnouncement, RelayDirectoryError, type RelayAnnouncementKind } from '../relays/relay-directory.js';
import { relayStatus } from '../relays/relay-status.js';
import { forwardRekeyRequests, forwardRelayMoves } from '../room/relay-reports.js';
import type { ControlEnv } from './context.js';
import { ApiError, errorResponses } from './errors.js';
import { createRouter } from './router.js';

export const RELAY_CONTROL_REALM = 'parley-control';
export const REGISTER_PATH = '/internal/relays/register';
export const HEARTBEAT_PATH = '/internal/relays/heartbeat';

const EndpointSchema = z.strictObject({
  host: z.string().min(1).max(253).openapi({ example: '203.0.113.7' }),
  port: z.number().int().min(1).max(65535).openapi({ example: 40000 }),
});

/**
 * The body, for the OpenAPI document only: requests are parsed by parseRelayRegistration
 * (shared/relay-api/messages.ts), the relay's own validator, after the signature over the raw
 * bytes verified. A unit test checks that both accept the documented example.
 */
export const RelayRegistrationDocSchema = z
  .strictObject({
    relayId: z.string().min(1).max(MAX_RELAY_API_ID_LENGTH).openapi({ description: '1..128 visible ASCII characters', example: 'relay-fra-1' }),
    bootId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{21}[AQgw]$/)
      .openapi({ description: `This run of the relay: ${RELAY_BOOT_ID_LENGTH} base64url characters (16 random bytes), new at every start; seals name it (§8.4)`, example: 'AAECAwQFBgcICQoLDA0ODw' }),
    region: z.string().min(1).max(MAX_RELAY_API_ID_LENGTH).openapi({ description: 'fly.io region code (docs/deploying-relays.md)', example: 'fra' }),
    apiUrl: z
      .string()
      .min(1)
      .max(MAX_RELAY_API_URL_LENGTH)
      .openapi({
        description: "Base URL of the relay's internal API (§8.1): http(s), no credentials, query or fragment; https:// in production",
        example: 'https://relay-fra-1.fly.dev/',
      }),
    udpEndpoint: EndpointSchema.openapi({ description: 'Equal to udpEndpoints[0]' }),
    udpEndpoints: z.array(EndpointSchema).min(1).max(64).openapi({ description: "Worker i's public endpoint at index i" }),
    publicKey: z.string().length(43).openapi({ description: "base64url of the relay's X25519 public key (32 bytes)", example: 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo' }),
    load: z.strictObject({ sessions: z.number().int().min(0), channels: z.number().int().min(0) }),
    draining: z.boolean(),
    rekeyRequested: z
      .array(z.string().min(1).max(MAX_RELAY_API_ID_LENGTH))
      .max(MAX_REPORTED_SESSIONS)
      .openapi({ description: 'Sessions whose keys reached the soft key-usage limit: rotate them (§8.6)' }),
    lostSessions: z
      .array(z.string().min(1).max(MAX_RELAY_API_ID_LENGTH))
      .max(MAX_REPORTED_SESSIONS)
      .openapi({ description: 'Sessions the relay lost with a worker: re-key them (§8.6)' }),
  })
  .openapi('RelayRegistration', {
    example: {
      relayId: 'relay-fra-1',
      bootId: 'AAECAwQFBgcICQoLDA0ODw',
      region: 'fra',
      apiUrl: 'https://relay-fra-1.fly.dev/',
      udpEndpoint: { host: '203.0.113.7', port: 40000 },
      udpEndpoints: [
        { host: '203.0.113.7', port: 40000 },
        { host: '203.0.113.7', port: 40001 },
      ],
      publicKey: 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo',
      load: { sessions: 12, channels: 3 },
      draining: false,
      rekeyRequested: [],
      lostSessions: [],
    },
  });

const AnnouncementResponseSchema = z
  .object({
    relayId: z.string().openapi({ example: 'relay-fra-1' }),
    status: z.enum(['alive', 'draining']),
    lastSeenAt: z.number().int().openapi({ example: 1760000000000 }),
  })
  .openapi('RelayAnnouncementAccepted');

function announcementRoute(kind: RelayAnnouncementKind) {
  return createRoute({
    method: 'post',
    path: kind === 'register' ? REGISTER_PATH : HEARTBEAT_PATH,
    tags: ['relays'],
    summary:
      kind === 'register'
        ? 'A relay registers (signed with its control key; docs/protocol.md §8.6)'
        : 'A relay heartbeats with its current load and draining flag (signed; 404 → register again)',
    security: [{ relaySignature: [] }],
    request: {
      // A reference, not a zod schema: the route reads the raw bytes itself (module comment).
      body: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/RelayRegistration' } } } },
    },
    responses: {
      200: { description: 'Recorded', content: { 'application/json': { schema: AnnouncementResponseSchema } } },
      ...errorResponses(
        [400, 'validation_failed (body, field named), invalid_json, or a public key that fails §3.3'],
        [401, 'unauthorized: signature, key, skew, replayed nonce, or a key not issued for this relay id'],
        ...(kind === 'heartbeat' ? ([[404, 'not_found: unknown relay; register again']] as const) : []),
        [413, 'payload_too_large'],
        [415, 'unsupported_media_type'],
        [503, 'unavailable: the directory could not be written; retry'],
      ),
    },
  });
}

function refuseSignature(c: Context<ControlEnv>, reason: string, keyId: string | undefined) {
  c.var.log.write('info', 'relay_request_refused', { reason, keyId });
  c.header('WWW-Authenticate', authenticateChallenge(RELAY_CONTROL_REALM));
  c.header('Cache-Control', 'no-store');
  return c.json(new ApiError('unauthorized', { message: 'The request signature is missing, invalid or replayed.' }).toBody(), 401);
}

/** The verifier's map keyId → secret. Built once per configuration. */
const secretsByKeys = new WeakMap<ReadonlyMap<string, RelayControlKey>, ReadonlyMap<string, Uint8Array>>();
function controlSecrets(keys: ReadonlyMap<string, RelayControlKey>): ReadonlyMap<string, Uint8Array> {
  let secrets = secretsByKeys.get(keys);
  if (secrets === undefined) {
    secrets = new Map([...keys].map(([keyId, key]) => [keyId, key.secret]));
    secretsByKeys.set(keys, secrets);
  }
  return secrets;
}

/** "udpEndpoints[0].port must be …" → "udpEndpoints[0].port"; "body …" → "body". */
function fieldOf(detail: string): string {
  const match = /^([A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s/.exec(detail);
  return match?.[1] ?? 'body';
}

async function handleAnnouncement(c: Context<ControlEnv>, kind: RelayAnnouncementKind) {
  const { config } = c.var;
  const body = new Uint8Array(await c.req.arrayBuffer());
  const now = Date.now();
  const checked = checkRequestSignature(
    { method: c.req.method, url: c.req.url, authorization: c.req.header('Authorization') ?? null, body },
    { audience: CONTROL_PLANE_AUDIENCE, keys: controlSecrets(config.relays.controlKeys), now },
  );
  if (!checked.ok) return refuseSignature(c, checked.reason, checked.keyId);

  if (!/^application\/json(\s*;|$)/i.test(c.req.header('Content-Type') ?? '')) throw new ApiError('unsupported_media_type');
  const json = parseJsonBody(body);
  if (!json.ok) throw new ApiError('invalid_json');
  const parsed = parseRelayRegistration(json.value);
  if (!parsed.ok) {
    // The detail names the field and the rule and never repeats a value (messages.ts).
    throw new ApiError('validation_failed', { field: fieldOf(parsed.detail), message: `${parsed.detail}.` });
  }
  const registration = parsed.value;
  // Production sends session keys' seals and signed requests only over TLS (§8.6).
  if (config.environment === 'production' && !registration.apiUrl.startsWith('https://')) {
    throw new ApiError('validation_failed', { field: 'apiUrl', message: 'apiUrl: must be https:// in production.' });
  }

  const key = config.relays.controlKeys.get(checked.keyId)!;
  if (key.relayId !== '*' && key.relayId !== registration.relayId) {
    return refuseSignature(c, 'key-not-issued-for-relay', checked.keyId);
  }

  try {
    assertUsableRelayPublicKey(decodeBase64Url(registration.publicKey)!);
  } catch {
    throw new ApiError('validation_failed', { field: 'publicKey', message: 'publicKey: must be a usable X25519 public key (docs/protocol.md §3.3).' });
  }

  let outcome;
  try {
    outcome = await recordRelayAnnouncement(c.var.db, {
      kind,
      registration,
      controlKeyId: checked.keyId,
      nonce: checked.nonce,
      nonceExpiresAt: checked.nonceExpiresAt,
      now,
    });
  } catch (error) {
    if (error instanceof RelayDirectoryError) throw new ApiError('unavailable', { cause: error });
    throw error;
  }
  if (outcome === 'replayed') return refuseSignature(c, 'replayed-nonce', checked.keyId);
  if (outcome === 'unknown-relay') {
    c.var.log.write('info', 'relay_heartbeat_unknown', { relayId: registration.relayId, keyId: checked.keyId });
    throw new ApiError('not_found', { message: 'Unknown relay; register again.' });
  }
  if (kind === 'register') {
    c.var.log.write('info', 'relay_registered', { relayId: registration.relayId, region: registration.region, keyId: checked.keyId, workers: registration.udpEndpoints.length });
  }
  // Sessions at the soft key-usage limit: their rooms rotate them (§5.8). Never fails the answer.
  await forwardRekeyRequests(c.env, c.var.db, c.var.log, registration);
  // Lost sessions, a draining relay, a relay that restarted: their rooms move them (§5.9).
  await forwardRelayMoves(c.env, c.var.db, c.var.log, kind, registration);
  c.header('Cache-Control', 'no-store');
  const status = relayStatus({ draining: registration.draining, lastSeenAt: now }, now, config.relays.deadAfterMs) as 'alive' | 'draining';
  return c.json({ relayId: registration.relayId, status, lastSeenAt: now }, 200);
}

export function relayRoutes() {
  const router = createRouter();
  router.openAPIRegistry.register('RelayRegistration', RelayRegistrationDocSchema);
  return router
    .openapi(announcementRoute('register'), function registerRelay(c) {
      return handleAnnouncement(c, 'register');
    })
    .openapi(announcementRoute('heartbeat'), function relayHeartbeat(c) {
      return handleAnnouncement(c, 'heartbeat');
    });
}
