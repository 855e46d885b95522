/**
 * Mounts every router and the OpenAPI 3.1 document generated from their schemas.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { accessTokenKeys } from '../auth/access-tokens.js';
import { CONTROL_VERSION } from '../service.js';
import type { ControlEnv } from './context.js';
import { adminRoutes } from './admin-routes.js';
import { authRoutes } from './auth-routes.js';
import { adminChannelRoutes, channelRoutes } from './channel-routes.js';
import { healthRoutes } from './health-routes.js';
import { meRoutes } from './me-routes.js';
import { relayRoutes } from './relay-routes.js';
import { createRouter } from './router.js';
import { tokenRoutes } from './token-routes.js';
import { voiceRoutes } from './voice-routes.js';

export const OPENAPI_PATH = '/v1/openapi.json';

const JwksSchema = z
  .object({
    keys: z.array(
      z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), kid: z.string(), alg: z.literal('EdDSA'), use: z.literal('sig') }),
    ),
  })
  .openapi('JsonWebKeySet');

const jwksRoute = createRoute({
  method: 'get',
  path: '/.well-known/jwks.json',
  tags: ['tokens'],
  summary: 'Public keys that verify Parley access tokens (RFC 7517), the current one first',
  responses: { 200: { description: 'The key set', content: { 'application/json': { schema: JwksSchema } } } },
});

function jwksRoutes() {
  return createRouter().openapi(jwksRoute, async function jwks(c) {
    const keys = await accessTokenKeys(c.var.config);
    c.header('Cache-Control', 'public, max-age=300');
    return c.json({ keys: keys.publicJwks as z.infer<typeof JwksSchema>['keys'] }, 200);
  });
}

export function mountRoutes(app: OpenAPIHono<ControlEnv>): void {
  app.route('/', healthRoutes());
  app.route('/', jwksRoutes());
  app.route('/', authRoutes());
  app.route('/', meRoutes());
  app.route('/', channelRoutes());
  app.route('/', adminChannelRoutes());
  app.route('/', tokenRoutes());
  app.route('/', adminRoutes());
  app.route('/', relayRoutes());
  app.route('/', voiceRoutes());

  app.openAPIRegistry.registerComponent('securitySchemes', 'accessToken', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An access token from /v1/auth/login, /v1/auth/register, /v1/auth/refresh or /v1/tokens.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'appKey', {
    type: 'http',
    scheme: 'bearer',
    description: 'An app key (`ak_….…`), for servers: scope tokens:mint for /v1/tokens, operator for /v1/admin.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'relaySignature', {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description: 'Parley-HMAC-SHA256 request signature with a relay control key (docs/protocol.md §8.2, §8.6).',
  });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: OPENAPI_PATH,
    tags: ['health'],
    summary: 'This document',
    responses: { 200: { description: 'The OpenAPI 3.1 document', content: { 'application/json': { schema: z.object({}).passthrough() } } } },
  });
  app.doc31(OPENAPI_PATH, {
    openapi: '3.1.0',
    info: {
      title: 'Parley control plane',
      version: CONTROL_VERSION,
      description: 'Accounts, tokens, channels and the relay directory. Prose, examples and error codes: docs/protocol.md §4.',
      license: { name: 'Apache-2.0' },
    },
  });
}
