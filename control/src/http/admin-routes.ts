/**
 * /v1/admin: what operators do with an app key of scope `operator` (docs/protocol.md §4.6):
 * create, list and revoke app keys, and look at the relay directory. The first operator key
 * comes from `npm run admin:create-key` (control/dev/create-app-key.ts), which writes to the
 * database directly.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { APP_KEY_SCOPES, issueAppKey, listAppKeys, revokeAppKey } from '../auth/app-keys.js';
import { idPattern } from '../ids.js';
import { listRelayDirectory } from '../relays/relay-directory.js';
import { relayStatus } from '../relays/relay-status.js';
import { requireAppKey } from './authenticate.js';
import { displayNameSchema } from './display-name-schema.js';
import { ApiError, errorResponses } from './errors.js';
import { createRouter } from './router.js';
import { closeEndedLoginSockets } from '../room/channel-rooms.js';

const APP_KEY_ID_EXAMPLE = 'ak_3f5g6h7j2k3m4n5p6q7r2s3t4u';

const CreateAppKeyRequestSchema = z
  .strictObject({
    name: displayNameSchema().openapi({ description: 'What the key is for; NFKC-normalised, 1..64 characters', example: 'chat-app production' }),
    scopes: z
      .array(z.enum(APP_KEY_SCOPES))
      .min(1, { message: 'must list 1 or 2 scopes' })
      .max(APP_KEY_SCOPES.length, { message: 'must list 1 or 2 scopes' })
      .superRefine((list, ctx) => {
        const duplicate = list.findIndex((s, i) => list.indexOf(s) !== i);
        if (duplicate >= 0) ctx.addIssue({ code: 'custom', path: [duplicate], message: 'is listed twice' });
      })
      .openapi({ example: ['tokens:mint'] }),
  })
  .openapi('CreateAppKeyRequest');

const AppKeySchema = z
  .object({
    appKeyId: z.string().openapi({ example: APP_KEY_ID_EXAMPLE }),
    name: z.string().openapi({ example: 'chat-app production' }),
    scopes: z.array(z.enum(APP_KEY_SCOPES)).openapi({ example: ['tokens:mint'] }),
    createdAt: z.number().int().openapi({ example: 1760000000000 }),
    createdBy: z.string().openapi({ description: "The creating key's id, or 'bootstrap'", example: 'ak_2a3b4c5d6e7f2g3h4j5k6m7n2p' }),
    revokedAt: z.number().int().nullable().openapi({ example: null }),
  })
  .openapi('AppKey');

const CreatedAppKeySchema = z
  .object({
    appKeyId: z.string().openapi({ example: APP_KEY_ID_EXAMPLE }),
    name: z.string(),
    scopes: z.array(z.enum(APP_KEY_SCOPES)),
    createdAt: z.number().int(),
    key: z.string().openapi({ description: 'The key, `<appKeyId>.<secret>`: shown this once, never again', example: `${APP_KEY_ID_EXAMPLE}.q8C3…` }),
  })
  .openapi('CreatedAppKey');

const AppKeyIdParamSchema = z.object({
  id: z
    .string()
    .regex(idPattern('ak'), { message: 'must be an app key id (ak_…)' })
    .openapi({ param: { name: 'id', in: 'path' }, example: APP_KEY_ID_EXAMPLE }),
});

const EndpointSchema = z.object({ host: z.string(), port: z.number().int() });

const RelaySchema = z
  .object({
    relayId: z.string().openapi({ example: 'relay-fra-1' }),
    region: z.string().openapi({ example: 'fra' }),
    apiUrl: z
      .string()
      .nullable()
      .openapi({ description: "Where the control plane reaches the relay's internal API, as last announced (docs/protocol.md §8.6); voice rooms use only relays that announced one", example: 'https://relay-fra-1.fly.dev/' }),
    status: z.enum(['alive', 'draining', 'dead']).openapi({ description: 'dead: no heartbeat for longer than RELAY_DEAD_AFTER_SECONDS' }),
    draining: z.boolean(),
    load: z.object({ sessions: z.number().int(), channels: z.number().int() }),
    udpEndpoints: z.array(EndpointSchema).openapi({ example: [{ host: '203.0.113.7', port: 40000 }] }),
    publicKey: z.string().openapi({ description: "base64url of the relay's X25519 public key", example: 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo' }),
    bootId: z.string().openapi({ description: 'The relay\'s current run (16 bytes, base64url), new at every restart; seals name it (docs/protocol.md §8.4)', example: 'AAECAwQFBgcICQoLDA0ODw' }),
    controlKeyId: z.string().openapi({ example: 'relay-fra-1' }),
    registeredAt: z.number().int().openapi({ example: 1760000000000 }),
    lastSeenAt: z.number().int().openapi({ example: 1760000090000 }),
  })
  .openapi('Relay');

const operatorErrors = errorResponses([401, 'unauthorized: missing, unknown or revoked app key'], [403, 'forbidden: the key lacks scope operator']);

const createAppKeyRoute = createRoute({
  method: 'post',
  path: '/v1/admin/app-keys',
  tags: ['admin'],
  summary: 'Create an app key (the key is in this answer only)',
  security: [{ appKey: [] }],
  middleware: [requireAppKey('operator')] as const,
  request: { body: { required: true, content: { 'application/json': { schema: CreateAppKeyRequestSchema } } } },
  responses: {
    201: { description: 'The new key', content: { 'application/json': { schema: CreatedAppKeySchema } } },
    ...operatorErrors,
    ...errorResponses([400, 'validation_failed, invalid_json'], [413, 'payload_too_large'], [415, 'unsupported_media_type']),
  },
});

const listAppKeysRoute = createRoute({
  method: 'get',
  path: '/v1/admin/app-keys',
  tags: ['admin'],
  summary: 'List every app key, revoked ones included (never a secret)',
  security: [{ appKey: [] }],
  middleware: [requireAppKey('operator')] as const,
  responses: {
    200: { description: 'The keys, oldest first', content: { 'application/json': { schema: z.object({ appKeys: z.array(AppKeySchema) }) } } },
    ...operatorErrors,
  },
});

const revokeAppKeyRoute = createRoute({
  method: 'delete',
  path: '/v1/admin/app-keys/{id}',
  tags: ['admin'],
  summary: 'Revoke an app key: it stops authenticating, and the tokens it minted stop verifying, at once',
  security: [{ appKey: [] }],
  middleware: [requireAppKey('operator')] as const,
  request: { params: AppKeyIdParamSchema },
  responses: {
    204: { description: 'Revoked (also when it already was)' },
    ...operatorErrors,
    ...errorResponses([400, 'validation_failed: not an app key id'], [404, 'not_found: no such key']),
  },
});

const listRelaysRoute = createRoute({
  method: 'get',
  path: '/v1/admin/relays',
  tags: ['admin'],
  summary: 'Every relay in the directory with its status (alive, draining, dead), load and endpoints',
  security: [{ appKey: [] }],
  middleware: [requireAppKey('operator')] as const,
  responses: {
    200: {
      description: 'The directory, by region then relay id',
      content: { 'application/json': { schema: z.object({ relays: z.array(RelaySchema), deadAfterSeconds: z.number().int().openapi({ example: 30 }) }) } },
    },
    ...operatorErrors,
  },
});

export function adminRoutes() {
  return createRouter()
    .openapi(createAppKeyRoute, async function createAppKey(c) {
      const body = c.req.valid('json');
      const issued = await issueAppKey(c.var.db, {
        name: body.name.normalize('NFKC'),
        scopes: body.scopes,
        createdBy: c.var.appKey.appKeyId,
        now: Date.now(),
      });
      c.var.log.write('info', 'app_key_created', { appKeyId: issued.appKeyId, createdBy: c.var.appKey.appKeyId, scopes: issued.scopes });
      c.header('Cache-Control', 'no-store');
      return c.json({ appKeyId: issued.appKeyId, name: issued.name, scopes: [...issued.scopes], createdAt: issued.createdAt, key: issued.key }, 201);
    })
    .openapi(listAppKeysRoute, async function listKeys(c) {
      const keys = await listAppKeys(c.var.db);
      c.header('Cache-Control', 'no-store');
      return c.json({ appKeys: keys.map((k) => ({ ...k, scopes: [...k.scopes] })) }, 200);
    })
    .openapi(revokeAppKeyRoute, async function revokeKey(c) {
      const { id } = c.req.valid('param');
      const result = await revokeAppKey(c.var.db, id, Date.now());
      if (!result.found) throw new ApiError('not_found');
      c.var.log.write('info', 'app_key_revoked', { appKeyId: id, revokedBy: c.var.appKey.appKeyId });
      // Tokens it minted carry it as their sid: their voice sockets close (4003).
      await closeEndedLoginSockets(c.env, c.var.db, c.var.log, result.endedSessionIds);
      return c.body(null, 204);
    })
    .openapi(listRelaysRoute, async function listRelays(c) {
      const now = Date.now();
      const { deadAfterMs } = c.var.config.relays;
      const entries = await listRelayDirectory(c.var.db);
      c.header('Cache-Control', 'no-store');
      return c.json(
        {
          relays: entries.map((e) => ({
            relayId: e.relayId,
            region: e.region,
            apiUrl: e.apiUrl,
            status: relayStatus(e, now, deadAfterMs),
            draining: e.draining,
            load: { sessions: e.load.sessions, channels: e.load.channels },
            udpEndpoints: e.udpEndpoints.map((u) => ({ host: u.host, port: u.port })),
            publicKey: e.publicKey,
            bootId: e.bootId,
            controlKeyId: e.controlKeyId,
            registeredAt: e.registeredAt,
            lastSeenAt: e.lastSeenAt,
          })),
          deadAfterSeconds: Math.round(deadAfterMs / 1000),
        },
        200,
      );
    });
}
