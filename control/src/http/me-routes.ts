/**
 * /v1/me: who the access token belongs to, and the account's password change
 * (docs/protocol.md §4.3).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { accountView, changePassword } from '../auth/accounts.js';
import { PERMISSIONS } from '../channels/permissions.js';
import { accountServices, NewPasswordField, PasswordField } from './auth-routes.js';
import { requireAccessToken } from './authenticate.js';
import { ApiError, errorResponses } from './errors.js';
import { createRouter } from './router.js';
import { closeEndedLoginSockets } from '../room/channel-rooms.js';

const AccountMeSchema = z
  .object({
    kind: z.literal('account'),
    user: z.object({ id: z.string(), username: z.string(), createdAt: z.number().int() }),
    sessionId: z.string().openapi({ example: 'ses_7hq2mzk4xw3vb5nd6rc8tyjpfa' }),
    accessTokenExpiresAt: z.number().int(),
  })
  .openapi('AccountMe');

const AppUserMeSchema = z
  .object({
    kind: z.literal('app_user'),
    subject: z.string().openapi({ example: 'ak_3v7k2m5q9x4z6w8y2b4n6p8r3t:user-42' }),
    appKeyId: z.string(),
    externalUserId: z.string().openapi({ example: 'user-42' }),
    displayName: z.string().openapi({ example: 'Grace' }),
    grants: z.array(z.object({ channelId: z.string(), permissions: z.array(z.enum(PERMISSIONS)) })),
    sessionId: z.string(),
    accessTokenExpiresAt: z.number().int(),
  })
  .openapi('AppUserMe');

const MeSchema = z.discriminatedUnion('kind', [AccountMeSchema, AppUserMeSchema]).openapi('Me');

const PasswordChangeBody = z
  .strictObject({ currentPassword: PasswordField, newPassword: NewPasswordField })
  .openapi('PasswordChangeRequest');

const PasswordChangedSchema = z
  .object({ endedLogins: z.number().int().openapi({ description: 'How many other logins were ended', example: 2 }) })
  .openapi('PasswordChanged');

const meRoute = createRoute({
  method: 'get',
  path: '/v1/me',
  tags: ['accounts'],
  summary: 'The account or app user the access token belongs to',
  security: [{ accessToken: [] }],
  middleware: [requireAccessToken()] as const,
  responses: {
    200: { description: 'Who you are', content: { 'application/json': { schema: MeSchema } } },
    ...errorResponses([401, 'unauthorized']),
  },
});

const passwordRoute = createRoute({
  method: 'post',
  path: '/v1/me/password',
  tags: ['accounts'],
  summary: 'Change the password; every other login of the account ends',
  security: [{ accessToken: [] }],
  middleware: [requireAccessToken()] as const,
  request: { body: { required: true, content: { 'application/json': { schema: PasswordChangeBody } } } },
  responses: {
    200: { description: 'Changed; this login stays, the others are ended', content: { 'application/json': { schema: PasswordChangedSchema } } },
    ...errorResponses(
      [400, 'validation_failed (field named) or invalid_json'],
      [401, 'unauthorized, or invalid_credentials (field currentPassword)'],
      [403, 'forbidden (an app user has no password)'],
      [413, 'payload_too_large'],
      [415, 'unsupported_media_type'],
      [429, 'too_many_requests (per account)'],
    ),
  },
});

export function meRoutes() {
  return createRouter()
    .openapi(meRoute, async function me(c) {
      const principal = c.var.principal;
      c.header('Cache-Control', 'no-store');
      if (principal.kind === 'app_user') {
        return c.json(
          {
            kind: 'app_user' as const,
            subject: principal.subject,
            appKeyId: principal.appKeyId,
            externalUserId: principal.externalUserId,
            displayName: principal.displayName,
            grants: principal.grants.map((g) => ({ channelId: g.channelId, permissions: [...g.permissions] })),
            sessionId: principal.sessionId,
            accessTokenExpiresAt: principal.expiresAt,
          },
          200,
        );
      }
      const user = await accountView(c.var.db, principal.userId);
      if (user === undefined) throw new ApiError('unauthorized');
      return c.json({ kind: 'account' as const, user, sessionId: principal.sessionId, accessTokenExpiresAt: principal.expiresAt }, 200);
    })
    .openapi(passwordRoute, async function password(c) {
      const principal = c.var.principal;
      if (principal.kind !== 'account') throw new ApiError('forbidden');
      const ended = await changePassword(await accountServices(c), principal, c.req.valid('json'));
      // endedSessionIds: the other logins, whose live sockets the voice rooms close.
      c.var.log.write('info', 'password_changed', { userId: principal.userId, endedSessionIds: ended });
      await closeEndedLoginSockets(c.env, c.var.db, c.var.log, ended);
      c.header('Cache-Control', 'no-store');
      return c.json({ endedLogins: ended.length }, 200);
    });
}
