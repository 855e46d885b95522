/**
 * Channel routes (docs/protocol.md §4.4): `/v1/channels…` for accounts and `/v1/admin/channels…`
 * for operators. Each route authenticates, validates, calls channels/ (which decides access
 * through channels/access.ts) and shapes the answer.
 *
 * App users (minted tokens) may only read a channel they hold a grant for
 * (`GET /v1/channels/{channelId}`); every other channel route is for accounts and answers them
 * 403 forbidden, whatever the channel, so it says nothing about which channels exist.
 */
import { createRoute, type z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { AccountPrincipal } from '../auth/principal.js';
import type { ChannelActor, OperatorActor } from '../channels/access.js';
import { banSubject, listBans, unbanSubject } from '../channels/ban-service.js';
import { createChannel, deleteChannel, getChannel, listAllChannels, listChannels, updateChannel } from '../channels/channel-service.js';
import { joinChannel, leaveChannel, listMembers, putMember, removeMember, transferOwnership } from '../channels/member-service.js';
import { requireAccessToken, requireAppKey } from './authenticate.js';
import {
  AdminChannelListSchema,
  AdminChannelSchema,
  AdminListChannelsQuery,
  adminChannelBody,
  BanListSchema,
  BanParams,
  BanSchema,
  banBody,
  ChannelListSchema,
  ChannelParams,
  ChannelSchema,
  channelBody,
  CreateChannelBody,
  ListBansQuery,
  ListChannelsQuery,
  ListMembersQuery,
  MemberListSchema,
  MemberParams,
  MemberSchema,
  memberBody,
  nextCursor,
  PutBanBody,
  PutMemberBody,
  TransferOwnershipBody,
  UpdateChannelBody,
} from './channel-schemas.js';
import type { ControlEnv } from './context.js';
import { ApiError, errorResponses } from './errors.js';
import { decodePageCursor } from './page-cursor.js';
import { createRouter } from './router.js';
import { channelRoom } from '../room/channel-rooms.js';

const ACCOUNT_SECURITY = [{ accessToken: [] }];
const OPERATOR_SECURITY = [{ appKey: [] }];

/** After requireAccessToken: app users are refused (403) on every account-only channel route. */
function requireAccount(): MiddlewareHandler<ControlEnv> {
  return async function accountsOnly(c, next) {
    if (c.var.principal.kind !== 'account') {
      throw new ApiError('forbidden', { message: 'This route is for accounts; app users may only read channels they hold a grant for.' });
    }
    await next();
  };
}

const accountOnly = (): MiddlewareHandler<ControlEnv>[] => [requireAccessToken(), requireAccount()];
const anyPrincipal = (): MiddlewareHandler<ControlEnv>[] => [requireAccessToken()];
const operatorOnly = (): MiddlewareHandler<ControlEnv>[] => [requireAppKey('operator')];

function accountOf(c: Context<ControlEnv>): AccountPrincipal {
  const principal = c.var.principal;
  // requireAccount ran first; this only narrows the type.
  if (principal.kind !== 'account') throw new ApiError('forbidden');
  return principal;
}

function operatorOf(c: Context<ControlEnv>): OperatorActor {
  return { kind: 'operator', appKeyId: c.var.appKey.appKeyId };
}

function json<S extends z.ZodType>(schema: S, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

const noContent = (description: string) => ({ description });

// Error entries, worded once.
const E400 = [400, 'validation_failed naming the field (or invalid_json)'] as const;
const E401 = [401, 'unauthorized: missing, invalid, expired or revoked access token'] as const;
const E401_KEY = [401, 'unauthorized: missing, invalid or revoked app key'] as const;
const E403_ACCOUNT = [403, 'forbidden: app users may not use this route'] as const;
const E403_KEY = [403, 'forbidden: the app key lacks the operator scope'] as const;
const E404 = [404, 'not_found: no such channel, or a private channel you are not a member of'] as const;
const E404_ADMIN = [404, 'not_found: no such channel'] as const;

/**
 * Tells the channel's voice room about a change that ends someone's place in it (a ban, a
 * removal, the channel deleted), so their sockets close at once (docs/protocol.md §5.13). The
 * change is made already; a room that cannot be reached is logged, and it refuses the sockets
 * the next time they authenticate.
 */
async function tellRoom(c: Context<ControlEnv>, channelId: string, call: (room: ReturnType<typeof channelRoom>) => Promise<number>): Promise<void> {
  try {
    await call(channelRoom(c.env, channelId));
  } catch (error) {
    c.var.log.write('error', 'voice_room_unreachable', { error: error instanceof Error ? error.name : 'unknown' });
  }
}

function channelPath(prefix: string, rest = ''): string {
  return `${prefix}/{channelId}${rest}`;
}

// ---- account routes ----------------------------------------------------------------------

const createChannelRoute = createRoute({
  method: 'post',
  path: '/v1/channels',
  tags: ['channels'],
  summary: 'Create a channel; you become its owner and first member',
  security: ACCOUNT_SECURITY,
  middleware: accountOnly(),
  request: { body: { required: true, content: { 'application/json': { schema: CreateChannelBody } } } },
  responses: {
    201: json(ChannelSchema, 'The channel'),
    ...errorResponses(E400, E401, E403_ACCOUNT),
  },
});

const listChannelsRoute = createRoute({
  method: 'get',
  path: '/v1/channels',
  tags: ['channels'],
  summary: 'Your channels and/or the open channels, oldest first, a page at a time',
  security: ACCOUNT_SECURITY,
  middleware: accountOnly(),
  request: { query: ListChannelsQuery },
  responses: {
    200: json(ChannelListSchema, 'A page of channels; nextCursor is null on the last page'),
    ...errorResponses(E400, E401, E403_ACCOUNT),
  },
});

const getChannelRoute = createRoute({
  method: 'get',
  path: channelPath('/v1/channels'),
  tags: ['channels'],
  summary: 'A channel, with your standing in it (accounts: open channels and your own; app users: granted channels)',
  security: ACCOUNT_SECURITY,
  middleware: anyPrincipal(),
  request: { params: ChannelParams },
  responses: {
    200: json(ChannelSchema, 'The channel'),
    ...errorResponses(E400, E401, [404, 'not_found: no such channel, or one you may not see (private and not a member; no grant)']),
  },
});

const updateChannelRoute = createRoute({
  method: 'patch',
  path: channelPath('/v1/channels'),
  tags: ['channels'],
  summary: 'Rename or reconfigure a channel (manage)',
  security: ACCOUNT_SECURITY,
  middleware: accountOnly(),
  request: { params: ChannelParams, body: { required: true, content: { 'application/json': { schema: UpdateChannelBody } } } },
  responses: {
    200: json(ChannelSchema, 'The updated channel'),
    ...errorResponses(
      E400,
      E401,
      [403, 'forbidden: without manage, or an app user; banned: you are banned from it'],
      E404,
      [409, 'conflict (field memberLimit): below the current member count'],
    ),
  },
});

const deleteChannelRoute = createRoute({
  method: 'delete',
  path: channelPath('/v1/channels'),
  tags: ['channels'],
  summary: 'Delete a channel with its members and bans (owner only)',
  security: ACCOUNT_SECURITY,
  middleware: accountOnly(),
  request: { params: ChannelParams },
  responses: {
    204: noContent('Deleted'),
    ...errorResponses(E400, E401, [403, 'forbidden: not the owner, or an app user'], E404),
  },
});

const listMembersRoute = createRoute({
  method: 'get',
  path: channelPath('/v1/channels', '/members'),
  tags: ['channels'],
  summary: 'Members in the order they joined (members only)',
  security: ACCOUNT_SECURITY,
  middleware: accountOnly(),
  request: { params: ChannelParams, query: ListMembersQuery },
  responses: {
    200: json(MemberListSchema, 'A page of members'),
    ...errorResponses(E400, E401, [403, 'forbidden: not a member, or an app user; banned: you are banned from it'], E404),
  },
});

const putMemberRoute = createRoute({
  method: 'put',
  path: channelPath('/v1/channels', '/members/{userId}'),
  tags: ['channels'],
  summary: "Add an account to the channel, or change a member's role and permissions (manage)",
  security: ACCOUNT_SECURITY,
  middleware: accountOnly(),
  request: { params: MemberParams, body: { required: false, content: { 'application/json': { schema: PutMemberBody } } } },
  responses: {
    200: json(MemberSchema, 'The member, changed'),
    201: json(MemberSchema, 'The member, added'),
    ...errorResponses(
      E400,
      E401,
      [403, 'forbidden: the rules of §4.4 refuse it (manage, owner, admins, yourself, permissions you lack), or an app user; banned: the account (or you) is banned'],
      [404, 'not_found: no such channel (or not visible to you), or (field userId) no such account'],
      [409, 'channel_full: at its member limit; conflict: the member changed meanwhile'],
    ),
  },
});

const removeMemberRoute = createRoute({
  method: 'delete',
  path: channelPath('/v1/channels', '/members/{userId}'),
  tags: ['channels'],
  summary: 'Remove a member (manage); your own id means leave',
  security: ACCOUNT_SECURITY,
  middleware: accountOnly(),
  request: { params: MemberParams },
  responses: {
    204: noContent('Removed'),
    ...errorResponses(
      E400,
      E401,
      [403, 'forbidden: the rules of §4.4 refuse it, or an app user; banned: you are banned'],
      [404, 'not_found: no such channel (or not visible to you), or no such member'],
      [409, 'conflict: the owner cannot leave; or the member changed meanwhile'],
    ),
  },
});

const joinRoute = createRoute({
  method: 'post',
  path: channelPath('/v1/channels', '/join'),
  tags: ['channels'],
  summary: 'Join an open channel yourself (idempotent)',
  security: ACCOUNT_SECURITY,
  middleware: accountOnly(),
  request: { params: ChannelParams },
  responses: {
    200: json(MemberSchema, 'Already a member'),
    201: json(MemberSchema, 'Joined'),
    ...errorResponses(E400, E401, [403, 'banned: you are banned; forbidden: an app user'], E404, [409, 'channel_full: at its member limit']),
  },
});

const leaveRoute = createRoute({
  method: 'post',
  path: channelPath('/v1/channels', '/leave'),
  tags: ['channels'],
  summary: 'Leave a channel (the owner transfers ownership first)',
  security: ACCOUNT_SECURITY,
  middleware: accountOnly(),
  request: { params: ChannelParams },
  responses: {
    204: noContent('Left'),
    ...errorResponses(E400, E401, E403_ACCOUNT, [404, 'not_found: no such channel (or not visible to you), or you are not a member'], [409, 'conflict: the owner cannot leave']),
  },
});

const transferRoute = createRoute({
  method: 'put',
  path: channelPath('/v1/channels', '/owner'),
  tags: ['channels'],
  summary: 'Hand the channel to another member (owner only); you stay as an admin',
  security: ACCOUNT_SECURITY,
  middleware: accountOnly(),
  request: { params: ChannelParams, body: { required: true, content: { 'application/json': { schema: TransferOwnershipBody } } } },
  responses: {
    200: json(ChannelSchema, 'The channel with its new owner'),
    ...errorResponses(E400, E401, [403, 'forbidden: not the owner, or an app user'], E404, [409, 'conflict (field userId): not a member, or already the owner']),
  },
});

const listBansRoute = createRoute({
  method: 'get',
  path: channelPath('/v1/channels', '/bans'),
  tags: ['channels'],
  summary: 'Bans, oldest first (moderate)',
  security: ACCOUNT_SECURITY,
  middleware: accountOnly(),
  request: { params: ChannelParams, query: ListBansQuery },
  responses: {
    200: json(BanListSchema, 'A page of bans'),
    ...errorResponses(E400, E401, [403, 'forbidden: without moderate, or an app user; banned: you are banned'], E404),
  },
});

const putBanRoute = createRoute({
  method: 'put',
  path: channelPath('/v1/channels', '/bans/{subject}'),
  tags: ['channels'],
  summary: 'Ban an account or app user and end its membership (moderate); again: replace the reason',
  security: ACCOUNT_SECURITY,
  middleware: accountOnly(),
  request: { params: BanParams, body: { required: false, content: { 'application/json': { schema: PutBanBody } } } },
  responses: {
    200: json(BanSchema, 'Was already banned; the reason is replaced'),
    201: json(BanSchema, 'Banned'),
    ...errorResponses(
      E400,
      E401,
      [403, 'forbidden: without moderate, the owner, yourself, an admin (unless you are the owner), or an app user; banned: you are banned'],
      E404,
      [409, 'conflict: the subject was promoted meanwhile'],
    ),
  },
});

const deleteBanRoute = createRoute({
  method: 'delete',
  path: channelPath('/v1/channels', '/bans/{subject}'),
  tags: ['channels'],
  summary: 'Lift a ban (moderate)',
  security: ACCOUNT_SECURITY,
  middleware: accountOnly(),
  request: { params: BanParams },
  responses: {
    204: noContent('Unbanned'),
    ...errorResponses(E400, E401, [403, 'forbidden: without moderate, or an app user; banned: you are banned'], [404, 'not_found: no such channel (or not visible to you), or the subject is not banned']),
  },
});

// ---- operator routes ---------------------------------------------------------------------

const adminCreateRoute = createRoute({
  method: 'post',
  path: '/v1/admin/channels',
  tags: ['admin'],
  summary: 'Create a channel without an owner, for an app whose users come with minted tokens',
  security: OPERATOR_SECURITY,
  middleware: operatorOnly(),
  request: { body: { required: true, content: { 'application/json': { schema: CreateChannelBody } } } },
  responses: { 201: json(AdminChannelSchema, 'The channel'), ...errorResponses(E400, E401_KEY, E403_KEY) },
});

const adminListRoute = createRoute({
  method: 'get',
  path: '/v1/admin/channels',
  tags: ['admin'],
  summary: 'Every channel, oldest first, a page at a time',
  security: OPERATOR_SECURITY,
  middleware: operatorOnly(),
  request: { query: AdminListChannelsQuery },
  responses: { 200: json(AdminChannelListSchema, 'A page of channels'), ...errorResponses(E400, E401_KEY, E403_KEY) },
});

const adminGetRoute = createRoute({
  method: 'get',
  path: channelPath('/v1/admin/channels'),
  tags: ['admin'],
  summary: 'Any channel',
  security: OPERATOR_SECURITY,
  middleware: operatorOnly(),
  request: { params: ChannelParams },
  responses: { 200: json(AdminChannelSchema, 'The channel'), ...errorResponses(E400, E401_KEY, E403_KEY, E404_ADMIN) },
});

const adminUpdateRoute = createRoute({
  method: 'patch',
  path: channelPath('/v1/admin/channels'),
  tags: ['admin'],
  summary: 'Rename or reconfigure any channel',
  security: OPERATOR_SECURITY,
  middleware: operatorOnly(),
  request: { params: ChannelParams, body: { required: true, content: { 'application/json': { schema: UpdateChannelBody } } } },
  responses: {
    200: json(AdminChannelSchema, 'The updated channel'),
    ...errorResponses(E400, E401_KEY, E403_KEY, E404_ADMIN, [409, 'conflict (field memberLimit): below the current member count']),
  },
});

const adminDeleteRoute = createRoute({
  method: 'delete',
  path: channelPath('/v1/admin/channels'),
  tags: ['admin'],
  summary: 'Delete any channel with its members and bans',
  security: OPERATOR_SECURITY,
  middleware: operatorOnly(),
  request: { params: ChannelParams },
  responses: { 204: noContent('Deleted'), ...errorResponses(E400, E401_KEY, E403_KEY, E404_ADMIN) },
});

const adminListMembersRoute = createRoute({
  method: 'get',
  path: channelPath('/v1/admin/channels', '/members'),
  tags: ['admin'],
  summary: "Any channel's members",
  security: OPERATOR_SECURITY,
  middleware: operatorOnly(),
  request: { params: ChannelParams, query: ListMembersQuery },
  responses: { 200: json(MemberListSchema, 'A page of members'), ...errorResponses(E400, E401_KEY, E403_KEY, E404_ADMIN) },
});

const adminPutMemberRoute = createRoute({
  method: 'put',
  path: channelPath('/v1/admin/channels', '/members/{userId}'),
  tags: ['admin'],
  summary: 'Add an account to any channel (any role but owner), or change a member',
  security: OPERATOR_SECURITY,
  middleware: operatorOnly(),
  request: { params: MemberParams, body: { required: false, content: { 'application/json': { schema: PutMemberBody } } } },
  responses: {
    200: json(MemberSchema, 'The member, changed'),
    201: json(MemberSchema, 'The member, added'),
    ...errorResponses(
      E400,
      E401_KEY,
      [403, 'forbidden: the owner cannot be changed, or the key lacks the operator scope; banned: the account is banned'],
      [404, 'not_found: no such channel, or (field userId) no such account'],
      [409, 'channel_full: at its member limit; conflict: the member changed meanwhile'],
    ),
  },
});

const adminRemoveMemberRoute = createRoute({
  method: 'delete',
  path: channelPath('/v1/admin/channels', '/members/{userId}'),
  tags: ['admin'],
  summary: 'Remove a member from any channel (not its owner)',
  security: OPERATOR_SECURITY,
  middleware: operatorOnly(),
  request: { params: MemberParams },
  responses: {
    204: noContent('Removed'),
    ...errorResponses(E400, E401_KEY, [403, 'forbidden: the owner cannot be removed, or the key lacks the operator scope'], [404, 'not_found: no such channel or member'], [409, 'conflict: the member changed meanwhile']),
  },
});

const adminListBansRoute = createRoute({
  method: 'get',
  path: channelPath('/v1/admin/channels', '/bans'),
  tags: ['admin'],
  summary: "Any channel's bans",
  security: OPERATOR_SECURITY,
  middleware: operatorOnly(),
  request: { params: ChannelParams, query: ListBansQuery },
  responses: { 200: json(BanListSchema, 'A page of bans'), ...errorResponses(E400, E401_KEY, E403_KEY, E404_ADMIN) },
});

const adminPutBanRoute = createRoute({
  method: 'put',
  path: channelPath('/v1/admin/channels', '/bans/{subject}'),
  tags: ['admin'],
  summary: 'Ban an account or app user from any channel (not its owner)',
  security: OPERATOR_SECURITY,
  middleware: operatorOnly(),
  request: { params: BanParams, body: { required: false, content: { 'application/json': { schema: PutBanBody } } } },
  responses: {
    200: json(BanSchema, 'Was already banned; the reason is replaced'),
    201: json(BanSchema, 'Banned'),
    ...errorResponses(E400, E401_KEY, [403, 'forbidden: the owner cannot be banned, or the key lacks the operator scope'], E404_ADMIN, [409, 'conflict: changed meanwhile']),
  },
});

const adminDeleteBanRoute = createRoute({
  method: 'delete',
  path: channelPath('/v1/admin/channels', '/bans/{subject}'),
  tags: ['admin'],
  summary: 'Lift a ban in any channel',
  security: OPERATOR_SECURITY,
  middleware: operatorOnly(),
  request: { params: BanParams },
  responses: { 204: noContent('Unbanned'), ...errorResponses(E400, E401_KEY, E403_KEY, [404, 'not_found: no such channel, or the subject is not banned']) },
});

// ---- handlers ----------------------------------------------------------------------------

function noStore(c: Context<ControlEnv>): void {
  c.header('Cache-Control', 'no-store');
}

/** The account routes under /v1/channels. */
export function channelRoutes() {
  const router = createRouter();
  router.use('/v1/channels', noStoreMiddleware);
  router.use('/v1/channels/*', noStoreMiddleware);

  router.openapi(createChannelRoute, async function createChannelHandler(c) {
    const view = await createChannel(c.var.db, c.var.config.channels, accountOf(c), c.req.valid('json'), Date.now());
    c.header('Location', `/v1/channels/${view.id}`);
    return c.json(channelBody(view), 201);
  });

  router.openapi(listChannelsRoute, async function listChannelsHandler(c) {
    const query = c.req.valid('query');
    const page = await listChannels(c.var.db, accountOf(c), query.membership, { after: decodePageCursor(query.cursor), limit: query.limit });
    return c.json({ channels: page.items.map(channelBody), nextCursor: nextCursor(page.next) }, 200);
  });

  router.openapi(getChannelRoute, async function getChannelHandler(c) {
    return c.json(channelBody(await getChannel(c.var.db, c.var.principal, c.req.valid('param').channelId)), 200);
  });

  router.openapi(updateChannelRoute, async function updateChannelHandler(c) {
    const view = await updateChannel(c.var.db, c.var.config.channels, accountOf(c), c.req.valid('param').channelId, c.req.valid('json'), Date.now());
    return c.json(channelBody(view), 200);
  });

  router.openapi(deleteChannelRoute, async function deleteChannelHandler(c) {
    const { channelId } = c.req.valid('param');
    await deleteChannel(c.var.db, accountOf(c), channelId);
    await tellRoom(c, channelId, (room) => room.channelDeleted());
    return c.body(null, 204);
  });

  router.openapi(listMembersRoute, async function listMembersHandler(c) {
    return c.json(await membersPage(c, accountOf(c), c.req.valid('param').channelId, c.req.valid('query')), 200);
  });

  router.openapi(putMemberRoute, async function putMemberHandler(c) {
    const { channelId, userId } = c.req.valid('param');
    const result = await putMember(c.var.db, accountOf(c), channelId, userId, c.req.valid('json'), Date.now());
    return result.created ? c.json(memberBody(result.member), 201) : c.json(memberBody(result.member), 200);
  });

  router.openapi(removeMemberRoute, async function removeMemberHandler(c) {
    const { channelId, userId } = c.req.valid('param');
    await removeMember(c.var.db, accountOf(c), channelId, userId);
    await tellRoom(c, channelId, (room) => room.membershipEnded(userId));
    return c.body(null, 204);
  });

  router.openapi(joinRoute, async function joinHandler(c) {
    const result = await joinChannel(c.var.db, accountOf(c), c.req.valid('param').channelId, Date.now());
    return result.created ? c.json(memberBody(result.member), 201) : c.json(memberBody(result.member), 200);
  });

  router.openapi(leaveRoute, async function leaveHandler(c) {
    const { channelId } = c.req.valid('param');
    const principal = accountOf(c);
    await leaveChannel(c.var.db, principal, channelId);
    await tellRoom(c, channelId, (room) => room.membershipEnded(principal.userId));
    return c.body(null, 204);
  });

  router.openapi(transferRoute, async function transferHandler(c) {
    const view = await transferOwnership(c.var.db, accountOf(c), c.req.valid('param').channelId, c.req.valid('json').userId, Date.now());
    return c.json(channelBody(view), 200);
  });

  router.openapi(listBansRoute, async function listBansHandler(c) {
    return c.json(await bansPage(c, accountOf(c), c.req.valid('param').channelId, c.req.valid('query')), 200);
  });

  router.openapi(putBanRoute, async function putBanHandler(c) {
    const { channelId, subject } = c.req.valid('param');
    const result = await banSubject(c.var.db, accountOf(c), channelId, subject, c.req.valid('json').reason, Date.now());
    await tellRoom(c, channelId, (room) => room.subjectBanned(subject));
    return result.created ? c.json(banBody(result.ban), 201) : c.json(banBody(result.ban), 200);
  });

  router.openapi(deleteBanRoute, async function deleteBanHandler(c) {
    const { channelId, subject } = c.req.valid('param');
    await unbanSubject(c.var.db, accountOf(c), channelId, subject);
    return c.body(null, 204);
  });

  return router;
}

/** The operator routes under /v1/admin/channels. */
export function adminChannelRoutes() {
  const router = createRouter();
  router.use('/v1/admin/channels', noStoreMiddleware);
  router.use('/v1/admin/channels/*', noStoreMiddleware);

  router.openapi(adminCreateRoute, async function adminCreateChannel(c) {
    const view = await createChannel(c.var.db, c.var.config.channels, operatorOf(c), c.req.valid('json'), Date.now());
    c.header('Location', `/v1/admin/channels/${view.id}`);
    return c.json(adminChannelBody(view), 201);
  });

  router.openapi(adminListRoute, async function adminListChannels(c) {
    const query = c.req.valid('query');
    const page = await listAllChannels(c.var.db, { after: decodePageCursor(query.cursor), limit: query.limit });
    return c.json({ channels: page.items.map(adminChannelBody), nextCursor: nextCursor(page.next) }, 200);
  });

  router.openapi(adminGetRoute, async function adminGetChannel(c) {
    return c.json(adminChannelBody(await getChannel(c.var.db, operatorOf(c), c.req.valid('param').channelId)), 200);
  });

  router.openapi(adminUpdateRoute, async function adminUpdateChannel(c) {
    const view = await updateChannel(c.var.db, c.var.config.channels, operatorOf(c), c.req.valid('param').channelId, c.req.valid('json'), Date.now());
    return c.json(adminChannelBody(view), 200);
  });

  router.openapi(adminDeleteRoute, async function adminDeleteChannel(c) {
    const { channelId } = c.req.valid('param');
    await deleteChannel(c.var.db, operatorOf(c), channelId);
    await tellRoom(c, channelId, (room) => room.channelDeleted());
    return c.body(null, 204);
  });

  router.openapi(adminListMembersRoute, async function adminListMembers(c) {
    return c.json(await membersPage(c, operatorOf(c), c.req.valid('param').channelId, c.req.valid('query')), 200);
  });

  router.openapi(adminPutMemberRoute, async function adminPutMember(c) {
    const { channelId, userId } = c.req.valid('param');
    const result = await putMember(c.var.db, operatorOf(c), channelId, userId, c.req.valid('json'), Date.now());
    return result.created ? c.json(memberBody(result.member), 201) : c.json(memberBody(result.member), 200);
  });

  router.openapi(adminRemoveMemberRoute, async function adminRemoveMember(c) {
    const { channelId, userId } = c.req.valid('param');
    await removeMember(c.var.db, operatorOf(c), channelId, userId);
    await tellRoom(c, channelId, (room) => room.membershipEnded(userId));
    return c.body(null, 204);
  });

  router.openapi(adminListBansRoute, async function adminListBans(c) {
    return c.json(await bansPage(c, operatorOf(c), c.req.valid('param').channelId, c.req.valid('query')), 200);
  });

  router.openapi(adminPutBanRoute, async function adminPutBan(c) {
    const { channelId, subject } = c.req.valid('param');
    const result = await banSubject(c.var.db, operatorOf(c), channelId, subject, c.req.valid('json').reason, Date.now());
    await tellRoom(c, channelId, (room) => room.subjectBanned(subject));
    return result.created ? c.json(banBody(result.ban), 201) : c.json(banBody(result.ban), 200);
  });

  router.openapi(adminDeleteBanRoute, async function adminDeleteBan(c) {
    const { channelId, subject } = c.req.valid('param');
    await unbanSubject(c.var.db, operatorOf(c), channelId, subject);
    return c.body(null, 204);
  });

  return router;
}

async function noStoreMiddleware(c: Context<ControlEnv>, next: () => Promise<void>): Promise<void> {
  await next();
  noStore(c);
}

async function membersPage(c: Context<ControlEnv>, actor: ChannelActor, channelId: string, query: { limit: number; cursor?: string | undefined }) {
  const page = await listMembers(c.var.db, actor, channelId, { after: decodePageCursor(query.cursor), limit: query.limit });
  return { members: page.items.map(memberBody), nextCursor: nextCursor(page.next) };
}

async function bansPage(c: Context<ControlEnv>, actor: ChannelActor, channelId: string, query: { limit: number; cursor?: string | undefined }) {
  const page = await listBans(c.var.db, actor, channelId, { after: decodePageCursor(query.cursor), limit: query.limit });
  return { bans: page.items.map(banBody), nextCursor: nextCursor(page.next) };
}
