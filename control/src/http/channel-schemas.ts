/**
 * Request and response schemas of the channel routes (docs/protocol.md §4.4), shared by
 * validation and the OpenAPI document. The rules that need more than a type (the name rule, the
 * configured member limit, known regions) are checked by channels/ and reported the same way:
 * `400 validation_failed` naming the field.
 */
import { z } from '@hono/zod-openapi';
import { isBanSubject, MAX_BAN_SUBJECT_LENGTH } from '../channels/ban-service.js';
import type { ChannelView } from '../channels/channel-service.js';
import type { MemberRecord } from '../channels/member-service.js';
import type { BanRecord } from '../channels/ban-service.js';
import { PERMISSIONS, permissionsFromBits, ROLES } from '../channels/permissions.js';
import { idPattern } from '../ids.js';
import { CursorQuerySchema, encodePageCursor, type PageKey } from './page-cursor.js';

const CHANNEL_ID_EXAMPLE = 'chn_7q2vxk4m3n5p6r7s2t3u4v5w6x';
const USER_ID_EXAMPLE = 'usr_a2b3c4d5e6f7g2h3i4j5k6l7m2';

const channelId = z
  .string()
  .regex(idPattern('chn'), 'must be a channel id (chn_ and 26 of a-z, 2-7)')
  .openapi({ param: { name: 'channelId', in: 'path' }, example: CHANNEL_ID_EXAMPLE });

const userIdParam = z
  .string()
  .regex(idPattern('usr'), 'must be an account id (usr_ and 26 of a-z, 2-7)')
  .openapi({ param: { name: 'userId', in: 'path' }, example: USER_ID_EXAMPLE });

const subjectParam = z
  .string()
  .max(MAX_BAN_SUBJECT_LENGTH)
  .refine(isBanSubject, 'must be an account id (usr_…) or an app user subject <app key id>:<external user id>')
  .openapi({
    param: { name: 'subject', in: 'path' },
    description: 'An account id, or an app user subject `<appKeyId>:<externalUserId>` (percent-encoded in the path).',
    example: USER_ID_EXAMPLE,
  });

export const ChannelParams = z.object({ channelId });
export const MemberParams = z.object({ channelId, userId: userIdParam });
export const BanParams = z.object({ channelId, subject: subjectParam });

const PermissionSchema = z.enum(PERMISSIONS);
const RoleSchema = z.enum(ROLES);
const VisibilitySchema = z.enum(['open', 'private']).openapi({
  description: '`open`: any account may join itself. `private`: members are added by those with `manage`.',
});

const nameField = z.string().openapi({
  description: '1 to 64 characters after NFKC normalisation and trimming; no control, format or line-break characters (docs/protocol.md §4.4).',
  example: 'Team voice',
});
const memberLimitField = z
  .number()
  .int()
  .openapi({ description: 'At most this many members, the owner included; 1 to the deployment maximum (default 500).', example: 25 });
const regionField = z
  .string()
  .max(16)
  .nullable()
  .openapi({ description: 'A relay region code (docs/deploying-relays.md) the channel pins its voice to, or null for the nearest to its members.', example: 'fra' });

export const CreateChannelBody = z
  .strictObject({
    name: nameField,
    visibility: VisibilitySchema.optional().openapi({ description: 'Default `private`.' }),
    memberLimit: memberLimitField.optional(),
    region: regionField.optional(),
  })
  .openapi('CreateChannel', { example: { name: 'Team voice', visibility: 'private', memberLimit: 25 } });

export const UpdateChannelBody = z
  .strictObject({
    name: nameField.optional(),
    visibility: VisibilitySchema.optional(),
    memberLimit: memberLimitField.optional(),
    region: regionField.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'must change at least one field')
  .openapi('UpdateChannel', { example: { name: 'Team voice (EU)', region: 'ams' } });

const limitQuery = (max: number, fallback: number) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(max)
    .default(fallback)
    .openapi({ description: `Page size, 1 to ${max} (default ${fallback}).`, example: fallback });

export const ListChannelsQuery = z.object({
  membership: z
    .enum(['member', 'open', 'all'])
    .default('all')
    .openapi({ description: '`member`: channels you belong to; `open`: open channels; `all` (default): both.' }),
  limit: limitQuery(100, 50),
  cursor: CursorQuerySchema,
});

export const AdminListChannelsQuery = z.object({ limit: limitQuery(100, 50), cursor: CursorQuerySchema });
export const ListMembersQuery = z.object({ limit: limitQuery(500, 100), cursor: CursorQuerySchema });
export const ListBansQuery = z.object({ limit: limitQuery(100, 50), cursor: CursorQuerySchema });

export const PutMemberBody = z
  .strictObject({
    role: z.enum(['admin', 'member']).optional().openapi({ description: 'Default: `member` for a new member, the current role otherwise.' }),
    permissions: z
      .array(PermissionSchema)
      .max(PERMISSIONS.length * 2)
      .optional()
      .openapi({ description: "Default: the role's defaults for a new member or a changed role; else unchanged." }),
  })
  .openapi('PutMember', { example: { role: 'member', permissions: ['listen'] } });

export const TransferOwnershipBody = z
  .strictObject({ userId: z.string().regex(idPattern('usr'), 'must be an account id (usr_ and 26 of a-z, 2-7)').openapi({ example: USER_ID_EXAMPLE }) })
  .openapi('TransferOwnership');

export const PutBanBody = z
  .strictObject({
    reason: z.string().nullable().optional().openapi({ description: '1 to 256 characters, the same character rule as names.', example: 'Spamming the channel' }),
  })
  .openapi('PutBan', { example: { reason: 'Spamming the channel' } });

export const YouSchema = z
  .object({
    role: RoleSchema.nullable().openapi({ description: 'Your role, or null if you are not a member.' }),
    permissions: z.array(PermissionSchema).openapi({ description: 'What you may do: your membership\'s permissions, or an app user\'s granted ones; none when banned.' }),
    banned: z.boolean(),
  })
  .openapi('ChannelStanding');

const ChannelFields = {
  id: z.string().openapi({ example: CHANNEL_ID_EXAMPLE }),
  name: z.string().openapi({ example: 'Team voice' }),
  visibility: VisibilitySchema,
  memberLimit: z.number().int().openapi({ example: 25 }),
  region: z.string().nullable().openapi({ example: null }),
  ownerId: z.string().nullable().openapi({ description: 'The owner account, or null for a channel an operator created.', example: USER_ID_EXAMPLE }),
  memberCount: z.number().int().openapi({ example: 3 }),
  createdAt: z.number().int().openapi({ example: 1764592000000 }),
  updatedAt: z.number().int().openapi({ example: 1764592000000 }),
};

export const ChannelSchema = z.object({ ...ChannelFields, you: YouSchema }).openapi('Channel');
export const AdminChannelSchema = z.object(ChannelFields).openapi('AdminChannel');
export const ChannelListSchema = z.object({ channels: z.array(ChannelSchema), nextCursor: z.string().nullable() }).openapi('ChannelList');
export const AdminChannelListSchema = z.object({ channels: z.array(AdminChannelSchema), nextCursor: z.string().nullable() }).openapi('AdminChannelList');

export const MemberSchema = z
  .object({
    userId: z.string().openapi({ example: USER_ID_EXAMPLE }),
    username: z.string().openapi({ example: 'alice' }),
    role: RoleSchema,
    permissions: z.array(PermissionSchema).openapi({ example: ['speak', 'listen'] }),
    joinedAt: z.number().int().openapi({ example: 1764592000000 }),
  })
  .openapi('ChannelMember');
export const MemberListSchema = z.object({ members: z.array(MemberSchema), nextCursor: z.string().nullable() }).openapi('ChannelMemberList');

export const BanSchema = z
  .object({
    subject: z.string().openapi({ example: USER_ID_EXAMPLE }),
    reason: z.string().nullable().openapi({ example: 'Spamming the channel' }),
    bannedBy: z.string().openapi({ description: 'The subject (or operator app key id) that banned.', example: 'usr_m2n3o4p5q6r7s2t3u4v5w6x7y2' }),
    createdAt: z.number().int().openapi({ example: 1764592000000 }),
  })
  .openapi('ChannelBan');
export const BanListSchema = z.object({ bans: z.array(BanSchema), nextCursor: z.string().nullable() }).openapi('ChannelBanList');

// ---- shaping answers ---------------------------------------------------------------------

type Channel = z.infer<typeof ChannelSchema>;
type AdminChannel = z.infer<typeof AdminChannelSchema>;

export function adminChannelBody(view: ChannelView): AdminChannel {
  return {
    id: view.id,
    name: view.name,
    visibility: view.visibility,
    memberLimit: view.memberLimit,
    region: view.region,
    ownerId: view.ownerId,
    memberCount: view.memberCount,
    createdAt: view.createdAt,
    updatedAt: view.updatedAt,
  };
}

export function channelBody(view: ChannelView): Channel {
  const you = view.you;
  return {
    ...adminChannelBody(view),
    you: you === null ? { role: null, permissions: [], banned: false } : { role: you.role, permissions: permissionsFromBits(you.permissions), banned: you.banned },
  };
}

export function memberBody(member: MemberRecord): z.infer<typeof MemberSchema> {
  return { userId: member.userId, username: member.username, role: member.role, permissions: [...member.permissions], joinedAt: member.joinedAt };
}

export function banBody(ban: BanRecord): z.infer<typeof BanSchema> {
  return { subject: ban.subject, reason: ban.reason, bannedBy: ban.bannedBy, createdAt: ban.createdAt };
}

export function nextCursor(next: PageKey | null): string | null {
  return next === null ? null : encodePageCursor(next);
}
