/**
 * What a client reads from the control plane's HTTP API (docs/protocol.md §4): the answers of
 * the routes a client calls, as zod schemas and their types.
 *
 * These check what a client relies on and let everything else through: objects are not strict
 * and enums of values the server may add to (roles, permissions, error codes) are plain
 * strings, because the API only ever adds fields and codes (§4.2) and a client built today must
 * keep working against tomorrow's server. Pure: no I/O.
 */
import { z } from 'zod';

export const PERMISSIONS = ['speak', 'listen', 'moderate', 'manage'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** One of `T`, or a value a later server added (kept as a string, never refused). */
export type KnownOr<T extends string> = T | (string & {});

/** A permission; unknown ones (added later) are kept as strings. */
const PermissionName = z.string() as unknown as z.ZodType<KnownOr<Permission>>;
const Time = z.number().int();

export const UserSchema = z.object({ id: z.string(), username: z.string(), createdAt: Time });
export type User = z.infer<typeof UserSchema>;

/** §4.3.3: the answer of register, login and refresh. */
export const TokenPairSchema = z.object({
  tokenType: z.literal('Bearer'),
  accessToken: z.string().min(1),
  accessTokenExpiresAt: Time,
  refreshToken: z.string().min(1),
  refreshTokenExpiresAt: Time,
  sessionId: z.string(),
  user: UserSchema,
});
export type TokenPair = z.infer<typeof TokenPairSchema>;

export const GrantSchema = z.object({ channelId: z.string(), permissions: z.array(PermissionName) });
export type Grant = z.infer<typeof GrantSchema>;

/** §4.3.10 `GET /v1/me`. */
export const MeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('account'), user: UserSchema, sessionId: z.string(), accessTokenExpiresAt: Time }),
  z.object({
    kind: z.literal('app_user'),
    subject: z.string(),
    appKeyId: z.string(),
    externalUserId: z.string(),
    displayName: z.string(),
    grants: z.array(GrantSchema),
    sessionId: z.string(),
    accessTokenExpiresAt: Time,
  }),
]);
export type Me = z.infer<typeof MeSchema>;

/** §4.5 `POST /v1/tokens` (an app's server calls it; a client may too, in tests). */
export const MintedTokenSchema = z.object({ accessToken: z.string().min(1), tokenType: z.literal('Bearer'), expiresAt: Time, expiresIn: z.number().int() });
export type MintedToken = z.infer<typeof MintedTokenSchema>;

export const ChannelStandingSchema = z.object({ role: (z.string() as unknown as z.ZodType<KnownOr<'owner' | 'admin' | 'member'>>).nullable(), permissions: z.array(PermissionName), banned: z.boolean() });
export type ChannelStanding = z.infer<typeof ChannelStandingSchema>;

/** §4.4 channel fields. `you` is absent on operator routes. */
export const ChannelSchema = z.object({
  id: z.string(),
  name: z.string(),
  visibility: z.string() as unknown as z.ZodType<KnownOr<'open' | 'private'>>,
  memberLimit: z.number().int(),
  region: z.string().nullable(),
  ownerId: z.string().nullable(),
  memberCount: z.number().int(),
  createdAt: Time,
  updatedAt: Time,
  you: ChannelStandingSchema.optional(),
});
export type Channel = z.infer<typeof ChannelSchema>;

export const ChannelPageSchema = z.object({ channels: z.array(ChannelSchema), nextCursor: z.string().nullable() });
export type ChannelPage = z.infer<typeof ChannelPageSchema>;

export const MemberSchema = z.object({
  userId: z.string(),
  username: z.string(),
  role: z.string() as unknown as z.ZodType<KnownOr<'owner' | 'admin' | 'member'>>,
  permissions: z.array(PermissionName),
  joinedAt: Time,
});
export type Member = z.infer<typeof MemberSchema>;

export const MemberPageSchema = z.object({ members: z.array(MemberSchema), nextCursor: z.string().nullable() });
export type MemberPage = z.infer<typeof MemberPageSchema>;

/** §4.2: every error answer. */
export const ApiErrorBodySchema = z.object({
  error: z.string(),
  message: z.string(),
  field: z.string().optional(),
  retryAfterSeconds: z.number().optional(),
});
export type ApiErrorBody = z.infer<typeof ApiErrorBodySchema>;

/** The §4.2 codes a client branches on (more may come; compare as strings). */
export const API_ERROR_CODES = [
  'validation_failed',
  'invalid_json',
  'bad_request',
  'unauthorized',
  'invalid_credentials',
  'invalid_refresh_token',
  'forbidden',
  'banned',
  'not_found',
  'username_taken',
  'conflict',
  'channel_full',
  'payload_too_large',
  'unsupported_media_type',
  'too_many_requests',
  'internal_error',
  'misconfigured',
  'unavailable',
  'no_relay_available',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];
