/**
 * The messages of a channel's voice WebSocket (docs/protocol.md §5) as a client reads and writes
 * them. What the room sends is parsed leniently, as the HTTP answers are
 * (control-api-schemas.ts): objects are not strict and enums the room may add to are strings,
 * so a client built today keeps working when the room adds a field, an error code or a reason.
 * What it relies on is checked: the key exchange's fields byte for byte (they are bound into the
 * transcript), SSRCs as uint32, endpoints as ports. A message whose `type` this client does not
 * know is ignored (`parseRoomMessage` returns null), never an error.
 *
 * Pure: text in, objects out.
 */
import { z } from 'zod';
import type { KnownOr } from './control-api-schemas.js';

const Ssrc = z.number().int().min(0).max(0xffffffff);
const Time = z.number().int();
/** 32 bytes as unpadded base64url (43 characters; the last one's unused bits zero). */
const Base64Url32 = z.string().regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/);
const Profile = z.enum(['aes128gcm', 'aes256gcm', 'aescm128sha80']);
const Purpose = z.enum(['join', 'rotate', 'move']);
const str = <T extends string>() => z.string() as unknown as z.ZodType<KnownOr<T>>;

export const RosterEntrySchema = z.object({
  subject: z.string(),
  name: z.string(),
  ssrc: Ssrc.nullable(),
  muted: z.boolean(),
  deafened: z.boolean(),
  speaking: z.boolean(),
  serverMuted: z.boolean(),
  connection: str<'connected' | 'reconnecting'>(),
});
export type RosterEntry = z.infer<typeof RosterEntrySchema>;

export const UdpEndpointSchema = z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) });

/** A voice session as the client uses it (§5.5 `voice_ready`; §5.10 `authenticated.voice` after a resume). */
const VoiceSessionFields = {
  purpose: Purpose,
  sessionId: z.string().min(1),
  relayId: z.string().min(1),
  udpEndpoint: UdpEndpointSchema,
  ssrc: Ssrc,
  profile: Profile,
  keysExpireAt: Time,
  resumeToken: z.string().min(1),
  resumeWindowMs: z.number().int().positive(),
};
export const ResumedVoiceSchema = z.object(VoiceSessionFields);
export type ResumedVoice = z.infer<typeof ResumedVoiceSchema>;

const replyTo = { replyTo: z.string().optional() };

export const ROOM_MESSAGE_SCHEMAS = {
  authenticated: z.object({
    ...replyTo,
    subject: z.string(),
    name: z.string(),
    channel: z.object({ id: z.string(), name: z.string() }),
    permissions: z.array(str<'speak' | 'listen' | 'moderate' | 'manage'>()),
    tokenExpiresAt: Time,
    resumed: z.boolean(),
    resumeError: str<'unknown_session' | 'expired' | 'mismatch'>().optional(),
    voice: ResumedVoiceSchema.optional(),
    roster: z.array(RosterEntrySchema),
  }),
  key_exchange_response: z.object({
    ...replyTo,
    purpose: Purpose,
    protocolVersion: z.number().int(),
    sessionId: z.string().min(1),
    userId: z.string().min(1),
    channelId: z.string().min(1),
    relayId: z.string().min(1),
    ssrc: Ssrc,
    profile: Profile,
    serverPublicKey: Base64Url32,
    confirmBy: Time,
  }),
  voice_ready: z.object({ ...replyTo, ...VoiceSessionFields, serverConfirmation: Base64Url32 }),
  token_expiring: z.object({ expiresAt: Time }),
  member_joined: z.object({ member: RosterEntrySchema }),
  member_left: z.object({ subject: z.string(), reason: str<'left' | 'disconnected' | 'kicked' | 'banned' | 'logged_out' | 'token_expired' | 'channel_deleted'>() }),
  member_updated: z.object({ ...replyTo, member: RosterEntrySchema }),
  rekey_required: z.object({ ...replyTo, reason: str<'requested' | 'key_age' | 'usage_limit'>().optional() }),
  voice_moved: z.object({ reason: str<'relay_failed' | 'relay_draining' | 'relay_lost_session'>().optional(), relayId: z.string().optional() }),
  moderated: z.object({ ...replyTo, action: z.string(), subject: z.string() }),
  error: z.object({ ...replyTo, code: z.string(), message: z.string(), field: z.string().optional() }),
  pong: z.object({ ...replyTo }),
} as const;

export type RoomMessageType = keyof typeof ROOM_MESSAGE_SCHEMAS;
export type RoomMessageOf<K extends RoomMessageType> = z.infer<(typeof ROOM_MESSAGE_SCHEMAS)[K]> & { readonly type: K };
export type RoomMessage = { [K in RoomMessageType]: RoomMessageOf<K> }[RoomMessageType];

/** Why a room's message was not usable (a bug or an incompatible room; never its content). */
export class RoomMessageError extends Error {
  override name = 'RoomMessageError';
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(message);
    this.field = field;
  }
}

/**
 * Parses one text frame from the room. Null for a type this client does not know (ignore it);
 * RoomMessageError for a frame that is not JSON or a known type with a field it cannot use.
 */
export function parseRoomMessage(text: string): RoomMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RoomMessageError('voice: the room sent a frame that is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RoomMessageError('voice: the room sent a frame that is not a JSON object');
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !Object.hasOwn(ROOM_MESSAGE_SCHEMAS, type)) return null;
  const parsed = ROOM_MESSAGE_SCHEMAS[type as RoomMessageType].safeParse(value);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.map(String).join('.') ?? '';
    throw new RoomMessageError(`voice: the room's ${type} has an unusable field ${field || '(message)'}`, field || undefined);
  }
  return { ...parsed.data, type } as RoomMessage;
}

// ---- client → room (§5.4–5.11) ----------------------------------------------------------------

export type ClientMessage =
  | { readonly type: 'authenticate'; readonly token: string; readonly resume?: { readonly sessionId: string; readonly resumeToken: string } }
  | { readonly type: 'key_exchange_init'; readonly clientPublicKey: string; readonly profile?: 'aes128gcm' | 'aes256gcm' | 'aescm128sha80' }
  | { readonly type: 'key_confirmation'; readonly clientConfirmation: string }
  | { readonly type: 'set_state'; readonly muted?: boolean; readonly deafened?: boolean }
  | { readonly type: 'speaking'; readonly speaking: boolean }
  | { readonly type: 'request_rekey' }
  | { readonly type: 'relay_unreachable'; readonly relayId: string }
  | { readonly type: 'moderate'; readonly action: string; readonly subject: string; readonly reason?: string }
  | { readonly type: 'leave' }
  | { readonly type: 'ping' };

/**
 * One text frame (the room refuses extra fields: only what the message has is written). `id`, a
 * request id of 1..64 visible ASCII characters, comes back as `replyTo` on the answer (§5.3).
 */
export function encodeClientMessage(message: ClientMessage & { readonly id?: string }): string {
  return JSON.stringify(message);
}

/**
 * Close codes after which the voice session has ended and the client must not reconnect by
 * itself (§5.13): token expired, unauthorized, logged out, kicked, banned, channel deleted,
 * moved elsewhere, rate limited, forbidden; 1000 after `leave`, 1008 and 1009 for a client bug.
 */
export function closeEndsSession(code: number): boolean {
  return code === 1000 || code === 1008 || code === 1009 || (code >= 4000 && code <= 4999);
}
