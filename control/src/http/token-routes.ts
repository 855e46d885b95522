/**
 * POST /v1/tokens: an app's server mints a Parley access token for one of its users
 * (auth/app-tokens.ts; docs/protocol.md §4.5). Authenticated with an app key of scope
 * `tokens:mint` (or `operator`).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { accessTokenKeys } from '../auth/access-tokens.js';
import { EXTERNAL_USER_ID_PATTERN, MAX_GRANTS, MIN_APP_TOKEN_TTL_SECONDS, mintAppUserToken } from '../auth/app-tokens.js';
import { checkDisplayName } from '../auth/display-names.js';
import { PERMISSIONS } from '../channels/permissions.js';
import { requireAppKey } from './authenticate.js';
import { displayNameSchema } from './display-name-schema.js';
import { ApiError, errorResponses } from './errors.js';
import { createRouter } from './router.js';

const SECOND = 1000;

const GrantSchema = z
  .strictObject({
    channelId: z
      .string()
      .regex(/^(\*|chn_[a-z2-7]{26})$/, { message: 'must be a channel id (chn_…) or "*"' })
      .openapi({ description: 'A channel id, or "*" for every channel', example: 'chn_7q2xk4m5n6p7r2s3t4u5v6w7xy' }),
    permissions: z
      .array(z.enum(PERMISSIONS))
      .min(1, { message: 'must list 1 to 4 permissions' })
      .max(PERMISSIONS.length, { message: 'must list 1 to 4 permissions' })
      .superRefine((list, ctx) => {
        const duplicate = list.findIndex((p, i) => list.indexOf(p) !== i);
        if (duplicate >= 0) ctx.addIssue({ code: 'custom', path: [duplicate], message: 'is listed twice' });
      })
      .openapi({ example: ['speak', 'listen'] }),
  })
  .openapi('ChannelGrant');

export const MintTokenRequestSchema = z
  .strictObject({
    userId: z
      .string()
      .regex(EXTERNAL_USER_ID_PATTERN, { message: 'must be 1 to 64 characters of A-Z a-z 0-9 . _ @ -' })
      .openapi({ description: "The app's own id for the user", example: 'user-4821' }),
    displayName: displayNameSchema().openapi({ description: 'Shown to the other members; NFKC-normalised, 1..64 characters', example: 'Ada Lovelace' }),
    grants: z
      .array(GrantSchema)
      .min(1, { message: `must list 1 to ${MAX_GRANTS} grants` })
      .max(MAX_GRANTS, { message: `must list 1 to ${MAX_GRANTS} grants` })
      .superRefine((grants, ctx) => {
        const seen = new Set<string>();
        grants.forEach((grant, i) => {
          if (seen.has(grant.channelId)) ctx.addIssue({ code: 'custom', path: [i, 'channelId'], message: 'is granted twice' });
          seen.add(grant.channelId);
        });
      }),
    ttlSeconds: z
      .number()
      .int({ message: 'must be a whole number of seconds' })
      .min(MIN_APP_TOKEN_TTL_SECONDS, { message: `must be at least ${MIN_APP_TOKEN_TTL_SECONDS}` })
      .optional()
      .openapi({ description: 'Lifetime; at most the deployment maximum (APP_TOKEN_MAX_TTL_SECONDS). Default: the access token lifetime, capped at that maximum.', example: 900 }),
  })
  .openapi('MintTokenRequest');

const MintTokenResponseSchema = z
  .object({
    accessToken: z.string().openapi({ example: 'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.…' }),
    tokenType: z.literal('Bearer'),
    expiresAt: z.number().int().openapi({ description: 'ms since the Unix epoch', example: 1760000900000 }),
    expiresIn: z.number().int().openapi({ description: 'seconds', example: 900 }),
  })
  .openapi('MintTokenResponse');

const mintRoute = createRoute({
  method: 'post',
  path: '/v1/tokens',
  tags: ['tokens'],
  summary: "Mint an access token for one of an app's users (app key with scope tokens:mint)",
  security: [{ appKey: [] }],
  middleware: [requireAppKey('tokens:mint')] as const,
  request: { body: { required: true, content: { 'application/json': { schema: MintTokenRequestSchema } } } },
  responses: {
    201: { description: 'The token', content: { 'application/json': { schema: MintTokenResponseSchema } } },
    ...errorResponses(
      [400, 'validation_failed (the field is named), invalid_json'],
      [401, 'unauthorized: missing, unknown or revoked app key'],
      [403, 'forbidden: the key lacks scope tokens:mint'],
      [413, 'payload_too_large'],
      [415, 'unsupported_media_type'],
    ),
  },
});

export function tokenRoutes() {
  return createRouter().openapi(mintRoute, async function mintToken(c) {
    const body = c.req.valid('json');
    const { config } = c.var;
    const maxTtlSeconds = Math.floor(config.appTokens.maxTtlMs / SECOND);
    if (body.ttlSeconds !== undefined && body.ttlSeconds > maxTtlSeconds) {
      throw new ApiError('validation_failed', { field: 'ttlSeconds', message: `ttlSeconds: must be at most ${maxTtlSeconds}.` });
    }
    const ttlMs = body.ttlSeconds !== undefined ? body.ttlSeconds * SECOND : Math.min(config.accessTokens.ttlMs, config.appTokens.maxTtlMs);
    const displayName = checkDisplayName(body.displayName);
    // The schema has already refused a bad name; this only takes the normalised form.
    if (!displayName.ok) throw new ApiError('validation_failed', { field: 'displayName', message: `displayName: ${displayName.problem}.` });
    const appKeyId = c.var.appKey.appKeyId;
    const now = Date.now();
    const signed = await mintAppUserToken(c.var.db, await accessTokenKeys(config), {
      appKeyId,
      externalUserId: body.userId,
      displayName: displayName.value,
      grants: body.grants,
      ttlMs,
      now,
    });
    c.var.log.write('info', 'app_token_minted', { appKeyId, grants: body.grants.length, ttlSeconds: ttlMs / SECOND });
    c.header('Cache-Control', 'no-store');
    return c.json({ accessToken: signed.token, tokenType: 'Bearer' as const, expiresAt: signed.expiresAt, expiresIn: Math.floor(ttlMs / SECOND) }, 201);
  });
}
