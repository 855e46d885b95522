/**
 * /v1/auth: register, login, refresh, logout (docs/protocol.md §4.3). The handlers parse and
 * shape; auth/accounts.ts decides.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { accessTokenKeys } from '../auth/access-tokens.js';
import { logIn, logOut, refreshLogin, registerAccount, RefreshRefused, type AccountServices } from '../auth/accounts.js';
import {
  checkNewPassword,
  isPasswordTooLong,
  PASSWORD_MAX_INPUT_LENGTH,
  PASSWORD_PROBLEM_MESSAGES,
  PASSWORD_TOO_LONG_MESSAGE,
} from '../auth/passwords.js';
import { clientAddressKey, CredentialThrottle } from '../auth/throttle.js';
import { durableObjectThrottleBuckets } from '../auth/throttle-object.js';
import type { TokenPair } from '../auth/token-pairs.js';
import { checkUsername, USERNAME_MAX_INPUT_LENGTH, USERNAME_PROBLEM_MESSAGES } from '../auth/usernames.js';
import { requireAccessToken } from './authenticate.js';
import type { ControlEnv } from './context.js';
import { ApiError, errorResponses } from './errors.js';
import { createRouter } from './router.js';
import { closeEndedLoginSockets } from '../room/channel-rooms.js';

/** The services of auth/accounts.ts for this request: its database, configuration, hasher and throttle. */
export async function accountServices(c: Context<ControlEnv>): Promise<AccountServices> {
  const namespace = c.env.AUTH_THROTTLE;
  if (namespace === undefined) {
    c.var.log.write('error', 'misconfigured', { problem: 'AUTH_THROTTLE binding missing' });
    throw new ApiError('misconfigured');
  }
  return {
    db: c.var.db,
    config: c.var.config,
    keys: await accessTokenKeys(c.var.config),
    hasher: c.var.passwordHasher,
    throttle: new CredentialThrottle(durableObjectThrottleBuckets(namespace), c.var.config.throttles),
    now: Date.now,
  };
}

// Field schemas. The rule each states is the rule auth/ enforces; the cheap length bound comes
// first and aborts, so a megabyte is refused before anything normalises it.

export const UsernameField = z
  .string()
  .max(USERNAME_MAX_INPUT_LENGTH, { error: USERNAME_PROBLEM_MESSAGES.length, abort: true })
  .superRefine((value, ctx) => {
    const check = checkUsername(value);
    if (!check.ok) ctx.addIssue({ code: 'custom', message: check.message });
  })
  .openapi({ description: '3 to 32 characters after NFKC: letters, marks, digits and _ - . (docs/protocol.md §4.3)', example: 'alice' });

const LoginUsernameField = z
  .string()
  .min(1, { error: 'is required' })
  .max(USERNAME_MAX_INPUT_LENGTH, { error: `must be at most ${USERNAME_MAX_INPUT_LENGTH} characters` })
  .openapi({ description: 'The username as registered; compared case- and width-insensitively', example: 'Alice' });

export const NewPasswordField = z
  .string()
  .max(PASSWORD_MAX_INPUT_LENGTH, { error: PASSWORD_PROBLEM_MESSAGES.length, abort: true })
  .superRefine((value, ctx) => {
    const check = checkNewPassword(value);
    if (!check.ok) ctx.addIssue({ code: 'custom', message: check.message });
  })
  .openapi({ description: '15 to 256 characters (Unicode code points after normalisation)', example: 'correct horse battery staple' });

export const PasswordField = z
  .string()
  .min(1, { error: 'is required', abort: true })
  .max(PASSWORD_MAX_INPUT_LENGTH, { error: PASSWORD_TOO_LONG_MESSAGE, abort: true })
  .refine((value) => !isPasswordTooLong(value), { error: PASSWORD_TOO_LONG_MESSAGE })
  .openapi({ description: 'At most 256 characters', example: 'correct horse battery staple' });

const AccountSchema = z
  .object({
    id: z.string().openapi({ example: 'usr_x5bq3tmh2kd7rw4jpzv6ncfyle' }),
    username: z.string().openapi({ example: 'Alice' }),
    createdAt: z.number().int().openapi({ example: 1767225600000 }),
  })
  .openapi('Account');

export const TokenPairSchema = z
  .object({
    tokenType: z.literal('Bearer'),
    accessToken: z.string().openapi({ description: 'JWT (EdDSA), sent as Authorization: Bearer', example: 'eyJhbGciOiJFZERTQSIs…' }),
    accessTokenExpiresAt: z.number().int().openapi({ example: 1767226500000 }),
    refreshToken: z.string().openapi({ description: '43 characters of base64url; used once', example: 'm1K2vN8pQ4rS6tU0wX3yZ5aB7cD9eF1gH2iJ4kL6mNo' }),
    refreshTokenExpiresAt: z.number().int().openapi({ example: 1769817600000 }),
    sessionId: z.string().openapi({ description: 'The login; the access token’s sid', example: 'ses_7hq2mzk4xw3vb5nd6rc8tyjpfa' }),
    user: AccountSchema,
  })
  .openapi('TokenPair');

const CredentialsBody = z.strictObject({ username: UsernameField, password: NewPasswordField }).openapi('RegisterRequest');
const LoginBody = z.strictObject({ username: LoginUsernameField, password: PasswordField }).openapi('LoginRequest');
const RefreshBody = z
  .strictObject({
    refreshToken: z
      .string()
      .min(1, { error: 'is required' })
      .max(256, { error: 'must be at most 256 characters' })
      .openapi({ example: 'm1K2vN8pQ4rS6tU0wX3yZ5aB7cD9eF1gH2iJ4kL6mNo' }),
  })
  .openapi('RefreshRequest');

const jsonBody = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });
const tokenPairResponse = (description: string) => ({ description, content: { 'application/json': { schema: TokenPairSchema } } });
const bodyErrors = [
  [400, 'validation_failed (field named) or invalid_json'],
  [413, 'payload_too_large'],
  [415, 'unsupported_media_type'],
] as const;

const registerRoute = createRoute({
  method: 'post',
  path: '/v1/auth/register',
  tags: ['accounts'],
  summary: 'Create an account and log it in',
  request: { body: jsonBody(CredentialsBody) },
  responses: {
    201: tokenPairResponse('The account, logged in'),
    ...errorResponses(...bodyErrors, [409, 'username_taken'], [429, 'too_many_requests (per address)'], [503, 'misconfigured']),
  },
});

const loginRoute = createRoute({
  method: 'post',
  path: '/v1/auth/login',
  tags: ['accounts'],
  summary: 'Log in with username and password',
  request: { body: jsonBody(LoginBody) },
  responses: {
    200: tokenPairResponse('Logged in'),
    ...errorResponses(...bodyErrors, [401, 'invalid_credentials'], [429, 'too_many_requests (per account or address)'], [503, 'misconfigured']),
  },
});

const refreshRoute = createRoute({
  method: 'post',
  path: '/v1/auth/refresh',
  tags: ['accounts'],
  summary: 'Trade a refresh token for a new pair (rotation)',
  request: { body: jsonBody(RefreshBody) },
  responses: {
    200: tokenPairResponse('The new pair (the same one for a retry within the grace period)'),
    ...errorResponses(...bodyErrors, [401, 'invalid_refresh_token'], [503, 'misconfigured']),
  },
});

const logoutRoute = createRoute({
  method: 'post',
  path: '/v1/auth/logout',
  tags: ['accounts'],
  summary: 'End the login the access token belongs to',
  security: [{ accessToken: [] }],
  middleware: [requireAccessToken()] as const,
  responses: {
    204: { description: 'Logged out (also when the login had already ended by other means)' },
    ...errorResponses([401, 'unauthorized'], [403, 'forbidden (an app user’s token: it has no login to end)']),
  },
});

function tokenPairAnswer(c: Context<ControlEnv>, pair: TokenPair) {
  // RFC 6749 §5.1: token responses are never cached.
  c.header('Cache-Control', 'no-store');
  c.header('Pragma', 'no-cache');
  return pair;
}

function credentialsOf(c: Context<ControlEnv>, body: { username: string; password: string }) {
  return {
    username: body.username,
    password: body.password,
    clientAddress: clientAddressKey(c.req.header('CF-Connecting-IP')),
    userAgent: c.req.header('User-Agent'),
  };
}

export function authRoutes() {
  return createRouter()
    .openapi(registerRoute, async function register(c) {
      const pair = await registerAccount(await accountServices(c), credentialsOf(c, c.req.valid('json')));
      c.var.log.write('info', 'account_registered', { userId: pair.user.id, sessionId: pair.sessionId });
      return c.json(tokenPairAnswer(c, pair), 201);
    })
    .openapi(loginRoute, async function login(c) {
      try {
        const pair = await logIn(await accountServices(c), credentialsOf(c, c.req.valid('json')));
        c.var.log.write('info', 'logged_in', { userId: pair.user.id, sessionId: pair.sessionId });
        return c.json(tokenPairAnswer(c, pair), 200);
      } catch (error) {
        if (error instanceof ApiError && (error.code === 'invalid_credentials' || error.code === 'too_many_requests')) {
          c.var.log.write('info', 'login_refused', { code: error.code });
        }
        throw error;
      }
    })
    .openapi(refreshRoute, async function refresh(c) {
      try {
        const pair = await refreshLogin(await accountServices(c), c.req.valid('json').refreshToken);
        return c.json(tokenPairAnswer(c, pair), 200);
      } catch (error) {
        if (error instanceof RefreshRefused) {
          // endedSessionIds: the logins a reuse ended; their voice sockets close (4003).
          c.var.log.write(error.reason === 'reused' ? 'warn' : 'info', 'refresh_refused', { reason: error.reason, endedSessionIds: error.endedSessionIds });
          await closeEndedLoginSockets(c.env, c.var.db, c.var.log, error.endedSessionIds);
        }
        throw error;
      }
    })
    .openapi(logoutRoute, async function logout(c) {
      const principal = c.var.principal;
      if (principal.kind !== 'account') throw new ApiError('forbidden');
      const ended = await logOut(await accountServices(c), principal);
      c.var.log.write('info', 'logged_out', { endedSessionIds: ended });
      await closeEndedLoginSockets(c.env, c.var.db, c.var.log, ended);
      return c.body(null, 204);
    });
}
