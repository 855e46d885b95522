/**
 * Case 21 of the abuse cases, inside workerd, and the other ways a login ends mid-call
 * (docs/protocol.md §5.2-§5.4, §5.13): every socket of an ended login closes at once with
 * 4003, through the real /v1/auth, /v1/me and /v1/admin routes.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { runDurableObjectAlarm } from 'cloudflare:test';
import { CLOSE_CODES, MAX_MESSAGE_BYTES } from '../../control/src/room/room-messages.js';
import { MESSAGE_RATE_LIMIT } from '../../control/src/room/message-rate-limit.js';
import { voiceLogins } from '../../control/src/db/schema.js';
import { inArray } from 'drizzle-orm';
import { createTestAccount, createTestAppUser, createTestOperatorKey } from '../support/test-principals.js';
import { registerAccount, send, worker, PASSWORD, type TokenPairBody } from './support/accounts.js';
import { api, describeWithDatabase, workerConfig, workerDatabase } from './support/control-api.js';
import { connect, createVoiceChannel, openVoiceSocket, registerTestRelay, relaySession, roomStub, shiftRoomClock } from './support/voice.js';

const db = () => workerDatabase();
const config = () => workerConfig();

describeWithDatabase('case 21: WebSocket abuse', () => {
  beforeEach(async () => {
    await registerTestRelay(db());
  });

  it('case 21: a foreign Origin is refused before any socket exists', async () => {
    const alice = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId);
    const opened = await openVoiceSocket(channelId, { origin: 'https://attacker.example' });
    expect(opened.status).toBe(403);
    expect(opened.client).toBeNull();
    expect(JSON.parse(opened.body)).toEqual({ error: 'forbidden', message: 'This origin may not open voice sockets.' });
  });

  it('case 21: no token → 1008 (nothing within 5 s, or another first message)', async () => {
    const alice = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId);
    const silent = await openVoiceSocket(channelId);
    const chatty = await openVoiceSocket(channelId);
    chatty.client!.send({ type: 'key_exchange_init', clientPublicKey: 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo' });
    expect((await chatty.client!.closed()).code).toBe(CLOSE_CODES.policyViolation);
    const tokenless = await openVoiceSocket(channelId);
    tokenless.client!.send({ type: 'authenticate' });
    expect((await tokenless.client!.closed()).code).toBe(CLOSE_CODES.policyViolation);
    await shiftRoomClock(channelId, 5_001);
    await runDurableObjectAlarm(roomStub(channelId));
    expect((await silent.client!.closed()).code).toBe(CLOSE_CODES.policyViolation);
    expect(silent.client!.received).toEqual([]);
  });

  it('case 21: a token expiring mid-call closes with 4001 and revokes the relay session', async () => {
    const alice = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId);
    const { client, authenticated } = await connect(channelId, alice.token);
    const joined = await client.joinVoice({ subject: alice.userId, channelId });
    await shiftRoomClock(channelId, authenticated.tokenExpiresAt - Date.now() + 1);
    await runDurableObjectAlarm(roomStub(channelId));
    const closed = await client.closed();
    expect(closed).toEqual({ code: CLOSE_CODES.tokenExpired, reason: 'token expired' });
    expect(await relaySession(joined.ready.sessionId)).toBeUndefined();
    joined.keys.wipe();
  });

  it('case 21: logout closes that login\'s sockets with 4003 at once and revokes its voice; other logins stay', async () => {
    const alice = await createTestAccount(db(), config());
    const bob = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId, { members: [{ userId: bob.userId }] });
    const a = await connect(channelId, alice.token);
    const b = await connect(channelId, bob.token);
    const joined = await a.client.joinVoice({ subject: alice.userId, channelId });
    expect((await api('POST', '/v1/auth/logout', { token: alice.token })).status).toBe(204);
    // Closed before logout answered, not at the token's expiry.
    expect(a.client.isClosed).toBe(true);
    expect((await a.client.closed()).code).toBe(CLOSE_CODES.loggedOut);
    expect(await relaySession(joined.ready.sessionId)).toBeUndefined();
    expect(await b.client.next('member_left')).toEqual({ type: 'member_left', subject: alice.userId, reason: 'logged_out' });
    expect(b.client.isClosed).toBe(false);
    expect(await db().select().from(voiceLogins).where(inArray(voiceLogins.loginId, [alice.sessionId]))).toEqual([]);
    joined.keys.wipe();
    b.client.close();
  });

  it('case 21: a message over 64 KiB closes with 1009; one just under is read', async () => {
    const alice = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId);
    const { client } = await connect(channelId, alice.token);
    const under = JSON.stringify({ type: 'ping', id: 'x' }).replace('}', `,"pad":"${'a'.repeat(MAX_MESSAGE_BYTES - 40)}"}`);
    expect(under.length).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    client.sendRaw(under);
    expect(await client.next('error')).toMatchObject({ code: 'invalid_message', field: 'pad' });
    client.sendRaw(`{"type":"ping","pad":"${'a'.repeat(MAX_MESSAGE_BYTES)}"}`);
    expect((await client.closed()).code).toBe(CLOSE_CODES.messageTooBig);
  });

  it('case 21: a flood is throttled (rate_limited), then closed with 4008', async () => {
    const alice = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId);
    const { client } = await connect(channelId, alice.token);
    const joined = await client.joinVoice({ subject: alice.userId, channelId });
    for (let i = 0; i < 300 && !client.isClosed; i++) client.send({ type: 'ping', id: `f${i}` });
    expect(await client.next('error')).toMatchObject({ code: 'rate_limited' });
    expect((await client.closed()).code).toBe(CLOSE_CODES.rateLimited);
    const pongs = client.received.filter((m) => m.type === 'pong').length;
    // The bucket starts full (burst) and this socket already spent 3 messages (authenticate,
    // key_exchange_init, key_confirmation); refill during the flood only adds to it.
    expect(pongs).toBeGreaterThanOrEqual(MESSAGE_RATE_LIMIT.burst - 3);
    expect(pongs).toBeLessThan(300);
    expect(await relaySession(joined.ready.sessionId)).toBeUndefined();
    joined.keys.wipe();
  });

  it('case 21: binary frames and malformed messages are answered, not obeyed (case 22 on the socket)', async () => {
    const alice = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId);
    const { client } = await connect(channelId, alice.token);
    client.sendRaw(new Uint8Array([1, 2, 3]));
    expect(await client.next('error')).toMatchObject({ code: 'invalid_message' });
    client.sendRaw('{"type":"moderate","action":"kick","subject":"usr_\u202eevil"}');
    expect(await client.next('error')).toMatchObject({ code: 'invalid_message', field: 'subject' });
    client.sendRaw('{"type":"teleport","id":"t"}');
    expect(await client.next('error')).toMatchObject({ code: 'unknown_type', replyTo: 't' });
    expect(client.isClosed).toBe(false);
    client.close();
  });
});

describeWithDatabase('ending a login closes its voice sockets (4003)', () => {
  beforeEach(async () => {
    await registerTestRelay(db());
  });

  async function login(username: string): Promise<TokenPairBody> {
    const response = await send<TokenPairBody>(worker, 'POST', '/v1/auth/login', { body: { username, password: PASSWORD } });
    if (response.status !== 200) throw new Error(`login: ${response.status} ${response.text}`);
    return response.body;
  }

  it('a password change closes the sockets of every other login of the account, not its own', async () => {
    const registered = await registerAccount();
    const other = await login(registered.user.username);
    const channelId = await createVoiceChannel(db(), registered.user.id);
    const mine = await connect(channelId, registered.accessToken);
    const theirs = await connect(channelId, other.accessToken);
    const joined = await theirs.client.joinVoice({ subject: registered.user.id, channelId });
    const changed = await send(worker, 'POST', '/v1/me/password', { token: registered.accessToken, body: { currentPassword: PASSWORD, newPassword: 'another correct horse battery' } });
    expect(changed.status).toBe(200);
    expect((await theirs.client.closed()).code).toBe(CLOSE_CODES.loggedOut);
    expect(await relaySession(joined.ready.sessionId)).toBeUndefined();
    expect(mine.client.isClosed).toBe(false);
    joined.keys.wipe();
    mine.client.close();
  });

  it('a refresh token used twice ends its login, and the login\'s sockets close', async () => {
    const registered = await registerAccount();
    const channelId = await createVoiceChannel(db(), registered.user.id);
    const first = await send<TokenPairBody>(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: registered.refreshToken } });
    expect(first.status).toBe(200);
    const { client } = await connect(channelId, first.body.accessToken);
    const successor = await send<TokenPairBody>(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: first.body.refreshToken } });
    expect(successor.status).toBe(200);
    // The first token again, after its successor was used: reuse.
    const reused = await send(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: registered.refreshToken } });
    expect(reused.status).toBe(401);
    expect((await client.closed()).code).toBe(CLOSE_CODES.loggedOut);
  });

  it('revoking an app key closes the sockets of every token it minted', async () => {
    const channelId = await createVoiceChannel(db(), null, { visibility: 'private' });
    const user = await createTestAppUser(db(), config(), [{ channelId, permissions: ['speak', 'listen'] }]);
    const operator = await createTestOperatorKey(db());
    const { client } = await connect(channelId, user.token);
    const joined = await client.joinVoice({ subject: user.subject, channelId });
    const revoked = await send(worker, 'DELETE', `/v1/admin/app-keys/${user.appKeyId}`, { token: operator.key });
    expect(revoked.status).toBe(204);
    expect((await client.closed()).code).toBe(CLOSE_CODES.loggedOut);
    expect(await relaySession(joined.ready.sessionId)).toBeUndefined();
    joined.keys.wipe();
  });
});

describe('the voice socket in the OpenAPI document', () => {
  it('documents the upgrade with its refusals and no security scheme (the token is the first message)', async () => {
    const document = (await api('GET', '/v1/openapi.json')).body as { paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>> };
    const operation = document.paths['/v1/channels/{channelId}/voice']?.['get'];
    expect(operation).toBeDefined();
    expect(Object.keys(operation!.responses).sort()).toEqual(['101', '400', '403', '426']);
    expect(operation!.security).toBeUndefined();
  });
});
