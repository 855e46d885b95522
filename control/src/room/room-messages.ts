/**
 * Every message of a channel room's WebSocket (docs/protocol.md §5), both directions, as zod
 * schemas and the types inferred from them.
 *
 * The room parses what a client sends with `parseClientMessage`: one text frame, one JSON
 * object, a known `type`, exactly the fields that type has (z.strictObject: an extra field is
 * as wrong as a missing one). A refusal names the field and the rule, never the value, so a
 * token pasted into the wrong field cannot come back in an error. What the room sends is typed
 * by the same module, and its schemas let a client (or a test) check the room's answers.
 *
 * Pure: no sockets, no clock. Runs in workerd (the room) and Node (tests, clients).
 */
import { z } from 'zod';

// ---- field rules ---------------------------------------------------------------------------

/** Longest text frame the room reads (§5.3); longer ones close the socket with 1009. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** A client's request id: echoed as `replyTo` (§5.3). */
const RequestId = z.string().regex(/^[\x21-\x7e]{1,64}$/, { error: 'must be 1..64 visible ASCII characters' });

/**
 * 32 bytes as unpadded base64url (RFC 4648 §5): 43 characters, the last one's two unused bits
 * zero, so each key has exactly one spelling (it is bound into the transcript byte for byte).
 */
const Base64Url32 = z.string().regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/, { error: 'must be 43 base64url characters (32 bytes)' });

/** An access token: a compact JWS (auth/access-tokens.ts refuses anything longer than 8192). */
const AccessToken = z.string().regex(/^[A-Za-z0-9_.-]{1,8192}$/, { error: 'must be an access token (1..8192 characters of base64url and dots)' });

export const PROFILE_NAMES = ['aes128gcm', 'aes256gcm', 'aescm128sha80'] as const;
const Profile = z.enum(PROFILE_NAMES, { error: 'must be one of aes128gcm, aes256gcm, aescm128sha80' });

/** A voice session id the room issued: `vs_` + 26 base32 characters. */
export const VOICE_SESSION_ID_PATTERN = /^vs_[a-z2-7]{26}$/;
const VoiceSessionId = z.string().regex(VOICE_SESSION_ID_PATTERN, { error: 'must be a voice session id (vs_…)' });

/** A subject (§5.3): an account's user id, or an app user's `<appKeyId>:<externalUserId>`. */
const Subject = z.string().regex(/^(?:usr_[a-z2-7]{26}|ak_[a-z2-7]{26}:[\x21-\x7e]{1,200})$/, { error: 'must be a subject (usr_… or ak_…:…)' });

const Reason = z.string().min(1, { error: 'must be 1..200 characters' }).max(200, { error: 'must be 1..200 characters' });
const Bool = z.boolean({ error: 'must be true or false' });

// ---- client → room -------------------------------------------------------------------------

export const AuthenticateMessage = z.strictObject({
  type: z.literal('authenticate'),
  id: RequestId.optional(),
  token: AccessToken,
  resume: z.strictObject({ sessionId: VoiceSessionId, resumeToken: Base64Url32 }).optional(),
});

export const KeyExchangeInitMessage = z.strictObject({
  type: z.literal('key_exchange_init'),
  id: RequestId.optional(),
  clientPublicKey: Base64Url32,
  profile: Profile.optional(),
  /** Join muted or deafened (the default is neither). */
  muted: Bool.optional(),
  deafened: Bool.optional(),
});

export const KeyConfirmationMessage = z.strictObject({
  type: z.literal('key_confirmation'),
  id: RequestId.optional(),
  clientConfirmation: Base64Url32,
});

export const SetStateMessage = z
  .strictObject({ type: z.literal('set_state'), id: RequestId.optional(), muted: Bool.optional(), deafened: Bool.optional() })
  .refine((m) => m.muted !== undefined || m.deafened !== undefined, { error: 'must set muted, deafened or both', path: ['muted'] });

export const SpeakingMessage = z.strictObject({ type: z.literal('speaking'), id: RequestId.optional(), speaking: Bool });

export const MODERATION_ACTIONS = ['server_mute', 'server_unmute', 'kick', 'ban'] as const;
export type ModerationAction = (typeof MODERATION_ACTIONS)[number];

export const ModerateMessage = z.strictObject({
  type: z.literal('moderate'),
  id: RequestId.optional(),
  action: z.enum(MODERATION_ACTIONS, { error: 'must be one of server_mute, server_unmute, kick, ban' }),
  subject: Subject,
  reason: Reason.optional(),
});

export const LeaveMessage = z.strictObject({ type: z.literal('leave'), id: RequestId.optional() });

/** New keys and a new SSRC for the socket's voice session (§5.8): answered with rekey_required. */
export const RequestRekeyMessage = z.strictObject({ type: z.literal('request_rekey'), id: RequestId.optional() });

/**
 * The client's media stopped: no pong from this relay for 2 s (§6.2). The room probes the relay
 * itself and moves the channel only if the probe fails (§5.9); the report alone moves nothing.
 */
export const RelayUnreachableMessage = z.strictObject({ type: z.literal('relay_unreachable'), id: RequestId.optional(), relayId: z.string().min(1).max(200) });

/** `{"type":"ping"}` byte for byte is answered by the runtime; any other spelling reaches the room. */
export const PingMessage = z.strictObject({ type: z.literal('ping'), id: RequestId.optional() });

const CLIENT_SCHEMAS = {
  authenticate: AuthenticateMessage,
  key_exchange_init: KeyExchangeInitMessage,
  key_confirmation: KeyConfirmationMessage,
  set_state: SetStateMessage,
  speaking: SpeakingMessage,
  moderate: ModerateMessage,
  leave: LeaveMessage,
  request_rekey: RequestRekeyMessage,
  relay_unreachable: RelayUnreachableMessage,
  ping: PingMessage,
} as const;

export type ClientMessageType = keyof typeof CLIENT_SCHEMAS;
export type ClientMessage = { [K in ClientMessageType]: z.infer<(typeof CLIENT_SCHEMAS)[K]> }[ClientMessageType];
export type ClientMessageOf<K extends ClientMessageType> = z.infer<(typeof CLIENT_SCHEMAS)[K]>;
export const CLIENT_MESSAGE_TYPES = Object.keys(CLIENT_SCHEMAS) as ClientMessageType[];

export type ClientMessageRefusal = {
  readonly code: 'invalid_message' | 'unknown_type';
  readonly message: string;
  readonly field?: string;
  /** The request id, when the message carried a well-formed one. */
  readonly replyTo?: string;
};

export type ParsedClientMessage = { readonly ok: true; readonly message: ClientMessage } | { readonly ok: false; readonly refusal: ClientMessageRefusal };

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((part) => (typeof part === 'number' ? `[${part}]` : String(part))).join('.').replace(/\.\[/g, '[');
}

function replyToOf(value: Record<string, unknown>): string | undefined {
  const id = value['id'];
  return RequestId.safeParse(id).success ? (id as string) : undefined;
}

/**
 * Parses one text frame from a client (§5.3). Size is the caller's to check first (1009 is a
 * close, not an error message).
 */
export function parseClientMessage(text: string): ParsedClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, refusal: { code: 'invalid_message', message: 'The message is not valid JSON.' } };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, refusal: { code: 'invalid_message', message: 'The message must be a JSON object.' } };
  }
  const object = value as Record<string, unknown>;
  const replyTo = replyToOf(object);
  const withReply = (refusal: Omit<ClientMessageRefusal, 'replyTo'>): ParsedClientMessage => ({
    ok: false,
    refusal: replyTo === undefined ? refusal : { ...refusal, replyTo },
  });
  const type = object['type'];
  if (typeof type !== 'string') return withReply({ code: 'invalid_message', message: 'type: must be a string.', field: 'type' });
  if (!Object.hasOwn(CLIENT_SCHEMAS, type)) {
    return withReply({ code: 'unknown_type', message: 'type: is not a message the room accepts.', field: 'type' });
  }
  const schema = CLIENT_SCHEMAS[type as ClientMessageType] as z.ZodType<ClientMessage>;
  const parsed = schema.safeParse(object);
  if (parsed.success) return { ok: true, message: parsed.data };
  const issue = parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const named = IDENTIFIER.test(key) ? fieldPath([...issue.path, key]) : undefined;
    return withReply({
      code: 'invalid_message',
      message: named === undefined ? 'The message has an unknown field.' : `${named}: is not a field of ${type}.`,
      ...(named === undefined ? {} : { field: named }),
    });
  }
  const field = fieldPath(issue.path);
  // zod's own texts for a missing field say "expected …, received undefined": say it plainly.
  const rule = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
  return withReply({ code: 'invalid_message', message: `${field}: ${rule}.`, field });
}

// ---- room → client -------------------------------------------------------------------------

export const ROOM_ERROR_CODES = [
  'invalid_message',
  'unknown_type',
  'rate_limited',
  'forbidden',
  'not_in_voice',
  'already_in_voice',
  'bad_public_key',
  'key_confirmation_failed',
  'exchange_timeout',
  'keys_expired',
  'rekey_timeout',
  'move_timeout',
  'no_exchange',
  'no_relay_available',
  'relay_unavailable',
  'subject_not_found',
  'unavailable',
  'internal_error',
] as const;
export type RoomErrorCode = (typeof ROOM_ERROR_CODES)[number];

/** Close codes (§5.13). 1000-1011 are RFC 6455 §7.4.1; 4000-4999 are the application's. */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  tokenExpired: 4001,
  unauthorized: 4002,
  loggedOut: 4003,
  kicked: 4004,
  banned: 4005,
  channelDeleted: 4006,
  moved: 4007,
  rateLimited: 4008,
  forbidden: 4009,
} as const;
export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

const Ssrc = z.number().int().min(0).max(0xffffffff);
const Time = z.number().int().positive();

export const RosterEntry = z.strictObject({
  subject: z.string(),
  name: z.string(),
  ssrc: Ssrc.nullable(),
  muted: z.boolean(),
  deafened: z.boolean(),
  speaking: z.boolean(),
  serverMuted: z.boolean(),
  connection: z.enum(['connected', 'reconnecting']),
});
export type RosterEntry = z.infer<typeof RosterEntry>;

const UdpEndpoint = z.strictObject({ host: z.string(), port: z.number().int().min(1).max(65535) });

/** A voice session as the client uses it: in `voice_ready`, and in `authenticated` after a resume. */
const VoiceSessionFields = {
  purpose: z.enum(['join', 'rotate', 'move']),
  sessionId: z.string(),
  relayId: z.string(),
  udpEndpoint: UdpEndpoint,
  ssrc: Ssrc,
  profile: Profile,
  keysExpireAt: Time,
  resumeToken: Base64Url32,
  resumeWindowMs: z.number().int().positive(),
};

export const ResumedVoice = z.strictObject(VoiceSessionFields);
export type ResumedVoice = z.infer<typeof ResumedVoice>;

const ReplyTo = { replyTo: z.string().optional() };

export const AuthenticatedMessage = z.strictObject({
  type: z.literal('authenticated'),
  ...ReplyTo,
  subject: z.string(),
  name: z.string(),
  channel: z.strictObject({ id: z.string(), name: z.string() }),
  permissions: z.array(z.enum(['speak', 'listen', 'moderate', 'manage'])),
  tokenExpiresAt: Time,
  resumed: z.boolean(),
  resumeError: z.enum(['unknown_session', 'expired', 'mismatch']).optional(),
  voice: ResumedVoice.optional(),
  roster: z.array(RosterEntry),
});

export const KeyExchangeResponseMessage = z.strictObject({
  type: z.literal('key_exchange_response'),
  ...ReplyTo,
  purpose: z.enum(['join', 'rotate', 'move']),
  protocolVersion: z.number().int(),
  sessionId: z.string(),
  userId: z.string(),
  channelId: z.string(),
  relayId: z.string(),
  ssrc: Ssrc,
  profile: Profile,
  serverPublicKey: Base64Url32,
  confirmBy: Time,
});

export const VoiceReadyMessage = z.strictObject({
  type: z.literal('voice_ready'),
  ...ReplyTo,
  ...VoiceSessionFields,
  serverConfirmation: Base64Url32,
});

export const TokenExpiringMessage = z.strictObject({ type: z.literal('token_expiring'), expiresAt: Time });

/**
 * Why the room wants a rotation (§5.8): `requested` answers the client's request_rekey;
 * `key_age`, the keys reached VOICE_KEY_ROTATION_PERCENT of their maximum age; `usage_limit`,
 * the relay reported the soft key-usage limit (§2.8, §8.6).
 */
export const REKEY_REASONS = ['requested', 'key_age', 'usage_limit'] as const;
export type RekeyReason = (typeof REKEY_REASONS)[number];
export const RekeyRequiredMessage = z.strictObject({ type: z.literal('rekey_required'), ...ReplyTo, reason: z.enum(REKEY_REASONS) });

/**
 * Why the room moves a session to another relay (§5.9): `relay_failed`, the relay does not
 * answer the room's probe, the directory counts it dead, or it restarted (a new boot id);
 * `relay_draining`, it is shutting down; `relay_lost_session`, it lost this session (a worker
 * failed, its heartbeat's lostSessions).
 */
export const MOVE_REASONS = ['relay_failed', 'relay_draining', 'relay_lost_session'] as const;
export type MoveReason = (typeof MOVE_REASONS)[number];
export const VoiceMovedMessage = z.strictObject({ type: z.literal('voice_moved'), reason: z.enum(MOVE_REASONS), relayId: z.string() });

export const MEMBER_LEFT_REASONS = ['left', 'disconnected', 'kicked', 'banned', 'removed', 'logged_out', 'token_expired', 'channel_deleted'] as const;
export type MemberLeftReason = (typeof MEMBER_LEFT_REASONS)[number];

export const MemberJoinedMessage = z.strictObject({ type: z.literal('member_joined'), member: RosterEntry });
export const MemberLeftMessage = z.strictObject({ type: z.literal('member_left'), subject: z.string(), reason: z.enum(MEMBER_LEFT_REASONS) });
export const MemberUpdatedMessage = z.strictObject({ type: z.literal('member_updated'), ...ReplyTo, member: RosterEntry });

export const ModeratedMessage = z.strictObject({
  type: z.literal('moderated'),
  ...ReplyTo,
  action: z.enum(MODERATION_ACTIONS),
  subject: z.string(),
});

export const ErrorMessage = z.strictObject({
  type: z.literal('error'),
  ...ReplyTo,
  code: z.enum(ROOM_ERROR_CODES),
  message: z.string(),
  field: z.string().optional(),
});

export const PongMessage = z.strictObject({ type: z.literal('pong'), ...ReplyTo });

export const RoomMessage = z.discriminatedUnion('type', [
  AuthenticatedMessage,
  KeyExchangeResponseMessage,
  VoiceReadyMessage,
  TokenExpiringMessage,
  RekeyRequiredMessage,
  VoiceMovedMessage,
  MemberJoinedMessage,
  MemberLeftMessage,
  MemberUpdatedMessage,
  ModeratedMessage,
  ErrorMessage,
  PongMessage,
]);
export type RoomMessage = z.infer<typeof RoomMessage>;
export type RoomMessageOf<K extends RoomMessage['type']> = Extract<RoomMessage, { type: K }>;

/** Fixed texts for each error code; a message may say more (naming a field, never a value). */
export const ROOM_ERROR_MESSAGES: Record<RoomErrorCode, string> = {
  invalid_message: 'The message is not valid.',
  unknown_type: 'The room does not accept this message type.',
  rate_limited: 'Too many messages; some were dropped.',
  forbidden: 'You are not allowed to do this.',
  not_in_voice: 'This needs a voice session; join voice first.',
  already_in_voice: 'This socket already has a voice session.',
  bad_public_key: 'clientPublicKey is not a usable X25519 public key.',
  key_confirmation_failed: 'The key confirmation does not match; start the exchange again.',
  exchange_timeout: 'The key exchange was not confirmed in time; start it again.',
  keys_expired: 'Your voice session ended: its keys expired. Join voice again.',
  rekey_timeout: 'Your voice session ended: new keys were required and no rotation started in time. Join voice again.',
  move_timeout: 'Your voice session ended: it was moved to another relay and no exchange started in time. Join voice again.',
  no_exchange: 'There is no key exchange to confirm.',
  no_relay_available: 'No voice relay is available for this channel.',
  relay_unavailable: 'The voice relay did not accept the session; try again.',
  subject_not_found: 'That member is not in this room.',
  unavailable: 'The service is unavailable right now; try again in a few seconds.',
  internal_error: 'Something went wrong on our side.',
};
