/**
 * The channel room inside workerd (docs/protocol.md §5): the upgrade, authentication with its
 * refusals, the key exchange against the real relay process, presence, leaving. Against the
 * local libSQL server and the relay of the global setup.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { channelBans } from '../../control/src/db/schema.js';
import { CLOSE_CODES } from '../../control/src/room/room-messages.js';
import type { ChannelRoom } from '../../control/src/room/channel-room.js';
import { encodeBase64Url } from '../../shared/relay-api/base64url.js';
import { generateEphemeralKeyPair } from '../../shared/keys/index.js';
import { accessTokenKeys, signAccessToken } from '../../control/src/auth/access-tokens.js';
import { loginSessions } from '../../control/src/db/schema.js';
import { eq } from 'drizzle-orm';
import { createTestAccount, createTestAppUser } from '../support/test-principals.js';
import { describeWithDatabase, workerConfig, workerDatabase } from './support/control-api.js';
import { connect, createVoiceChannel, openVoiceSocket, registerTestRelay, relaySession, roomStub, shiftRoomClock } from './support/voice.js';

const db = () => workerDatabase();
const config = () => workerConfig();

describe('GET /v1/channels/{channelId}/voice before the socket', () => {
  it('refuses a malformed channel id with validation_failed naming it', async () => {
    const opened = await openVoiceSocket('chn_nope');
    expect(opened.status).toBe(400);
    expect(JSON.parse(opened.body)).toMatchObject({ error: 'validation_failed', field: 'channelId' });
  });

  it('answers a request that is not an upgrade with 426 upgrade_required', async () => {
    const opened = await openVoiceSocket('chn_aaaaaaaaaaaaaaaaaaaaaaaaaa', { upgrade: false });
    expect(opened.status).toBe(426);
    expect(JSON.parse(opened.body)).toMatchObject({ error: 'upgrade_required' });
  });

  it('refuses a foreign browser origin with 403, allows loopback origins and native clients', async () => {
    const foreign = await openVoiceSocket('chn_aaaaaaaaaaaaaaaaaaaaaaaaaa', { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body)).toMatchObject({ error: 'forbidden' });
    const local = await openVoiceSocket('chn_aaaaaaaaaaaaaaaaaaaaaaaaaa', { origin: 'http://localhost:5173' });
    expect(local.status).toBe(101);
    local.client!.close();
    const native = await openVoiceSocket('chn_aaaaaaaaaaaaaaaaaaaaaaaaaa');
    expect(native.status).toBe(101);
    native.client!.close();
  });
});

describeWithDatabase('channel room', () => {
  beforeEach(async () => {
    await registerTestRelay(db());
  });

  describe('authentication (§5.4)', () => {
    it('admits an account of an open channel and answers with channel, permissions and roster', async () => {
      const alice = await createTestAccount(db(), config());
      const channelId = await createVoiceChannel(db(), alice.userId);
      const { client, authenticated } = await connect(channelId, alice.token, { id: 'a1' });
      expect(authenticated).toMatchObject({
        replyTo: 'a1',
        subject: alice.userId,
        name: alice.username,
        channel: { id: channelId },
        permissions: ['speak', 'listen', 'moderate', 'manage'],
        resumed: false,
        roster: [{ subject: alice.userId, name: alice.username, ssrc: null, connection: 'connected', muted: false, serverMuted: false }],
      });
      expect(client.invalid).toEqual([]);
      client.close();
    });

    it('closes with 1008 when the first message is not authenticate', async () => {
      const alice = await createTestAccount(db(), config());
      const channelId = await createVoiceChannel(db(), alice.userId);
      const { client } = await openVoiceSocket(channelId);
      client!.send({ type: 'leave' });
      expect((await client!.closed()).code).toBe(CLOSE_CODES.policyViolation);
    });

    it('closes with 1008 when nothing authenticates within 5 s (the alarm)', async () => {
      const alice = await createTestAccount(db(), config());
      const channelId = await createVoiceChannel(db(), alice.userId);
      const { client } = await openVoiceSocket(channelId);
      await shiftRoomClock(channelId, 5_001);
      expect(await runDurableObjectAlarm(roomStub(channelId))).toBe(true);
      expect((await client!.closed()).code).toBe(CLOSE_CODES.policyViolation);
    });

    it('refuses a token that does not verify (4002), an expired one (4001), an ended login (4003)', async () => {
      const alice = await createTestAccount(db(), config());
      const channelId = await createVoiceChannel(db(), alice.userId);

      const forged = await openVoiceSocket(channelId);
      forged.client!.send({ type: 'authenticate', token: `${alice.token.slice(0, -4)}AAAA` });
      expect((await forged.client!.closed()).code).toBe(CLOSE_CODES.unauthorized);

      const keys = await accessTokenKeys(config());
      const old = await signAccessToken(keys, { kind: 'account', subject: alice.userId, sessionId: alice.sessionId, tokenId: 'old', issuedAt: Date.now() - 3_600_000, name: alice.username });
      const expired = await openVoiceSocket(channelId);
      expired.client!.send({ type: 'authenticate', token: old.token });
      expect((await expired.client!.closed()).code).toBe(CLOSE_CODES.tokenExpired);

      await db().update(loginSessions).set({ revokedAt: Date.now(), revokeReason: 'logout' }).where(eq(loginSessions.id, alice.sessionId));
      const ended = await openVoiceSocket(channelId);
      ended.client!.send({ type: 'authenticate', token: alice.token });
      expect((await ended.client!.closed()).code).toBe(CLOSE_CODES.loggedOut);
    });

    it('refuses a private channel to a non-member (4009) and a banned member (4005)', async () => {
      const owner = await createTestAccount(db(), config());
      const stranger = await createTestAccount(db(), config());
      const member = await createTestAccount(db(), config());
      const channelId = await createVoiceChannel(db(), owner.userId, { visibility: 'private', members: [{ userId: member.userId }] });
      const outsider = await openVoiceSocket(channelId);
      outsider.client!.send({ type: 'authenticate', token: stranger.token });
      expect((await outsider.client!.closed()).code).toBe(CLOSE_CODES.forbidden);

      await db().insert(channelBans).values({ channelId, subject: member.userId, bannedBy: owner.userId, reason: null, createdAt: Date.now() });
      const banned = await openVoiceSocket(channelId);
      banned.client!.send({ type: 'authenticate', token: member.token });
      expect((await banned.client!.closed()).code).toBe(CLOSE_CODES.banned);
    });

    it('admits an app user by its minted token and grant', async () => {
      const channelId = await createVoiceChannel(db(), null, { visibility: 'private' });
      const appUser = await createTestAppUser(db(), config(), [{ channelId, permissions: ['speak', 'listen'] }]);
      const { client, authenticated } = await connect(channelId, appUser.token);
      expect(authenticated).toMatchObject({ subject: appUser.subject, permissions: ['speak', 'listen'] });
      client.close();
    });

    it('takes a fresh token on the same socket; one for another subject closes it with 4002', async () => {
      const alice = await createTestAccount(db(), config());
      const bob = await createTestAccount(db(), config());
      const channelId = await createVoiceChannel(db(), alice.userId);
      const { client, authenticated } = await connect(channelId, alice.token);
      const keys = await accessTokenKeys(config());
      const fresh = await signAccessToken(keys, { kind: 'account', subject: alice.userId, sessionId: alice.sessionId, tokenId: 'fresh', issuedAt: Date.now() + 2_000, name: alice.username });
      const again = await client.authenticate(fresh.token, { id: 'r' });
      expect(again).toMatchObject({ replyTo: 'r', resumed: false, subject: alice.userId });
      expect(again.tokenExpiresAt).toBeGreaterThan(authenticated.tokenExpiresAt);
      client.send({ type: 'authenticate', token: bob.token });
      expect((await client.closed()).code).toBe(CLOSE_CODES.unauthorized);
    });

    it('warns 60 s before the token expires and closes with 4001 at expiry, ending the voice session at once', async () => {
      const alice = await createTestAccount(db(), config());
      const channelId = await createVoiceChannel(db(), alice.userId);
      const { client, authenticated } = await connect(channelId, alice.token);
      const joined = await client.joinVoice({ subject: alice.userId, channelId });
      expect(await relaySession(joined.ready.sessionId)).toBeDefined();
      const untilExpiry = authenticated.tokenExpiresAt - Date.now();
      await shiftRoomClock(channelId, untilExpiry - 59_000);
      await runDurableObjectAlarm(roomStub(channelId));
      expect(await client.next('token_expiring')).toEqual({ type: 'token_expiring', expiresAt: authenticated.tokenExpiresAt });
      await shiftRoomClock(channelId, untilExpiry + 1);
      await runDurableObjectAlarm(roomStub(channelId));
      expect((await client.closed()).code).toBe(CLOSE_CODES.tokenExpired);
      expect(await relaySession(joined.ready.sessionId)).toBeUndefined();
      joined.keys.wipe();
    });
  });

  describe('the key exchange (§5.5)', () => {
    it('joins voice: response without confirmation, voice_ready after the install, the relay holds the session', async () => {
      const alice = await createTestAccount(db(), config());
      const channelId = await createVoiceChannel(db(), alice.userId);
      const { client } = await connect(channelId, alice.token);
      const joined = await client.joinVoice({ subject: alice.userId, channelId });
      expect(joined.response).toMatchObject({ purpose: 'join', protocolVersion: 1, userId: alice.userId, channelId, profile: 'aes128gcm' });
      expect(joined.response).not.toHaveProperty('serverConfirmation');
      expect(joined.ready).toMatchObject({ purpose: 'join', sessionId: joined.response.sessionId, ssrc: joined.response.ssrc, resumeWindowMs: 30_000 });
      const onRelay = await relaySession(joined.ready.sessionId);
      expect(onRelay).toMatchObject({ userId: alice.userId, channelId, ssrcs: [joined.response.ssrc], canSpeak: true, canListen: true, muted: false });
      const summary = await roomStub(channelId).summary();
      expect(summary.pendingExchanges).toBe(0);
      expect(summary.sessions).toEqual([expect.objectContaining({ sessionId: joined.ready.sessionId, installed: true })]);
      joined.keys.wipe();
      client.close();
    });

    it('refuses a low-order public key, a wrong confirmation, a confirmation without exchange', async () => {
      const alice = await createTestAccount(db(), config());
      const channelId = await createVoiceChannel(db(), alice.userId);
      const { client } = await connect(channelId, alice.token);
      client.send({ type: 'key_exchange_init', id: 'k', clientPublicKey: encodeBase64Url(new Uint8Array(32)) });
      expect(await client.next('error')).toMatchObject({ code: 'bad_public_key', field: 'clientPublicKey', replyTo: 'k' });

      client.send({ type: 'key_confirmation', clientConfirmation: encodeBase64Url(new Uint8Array(32)) });
      expect(await client.next('error')).toMatchObject({ code: 'no_exchange' });

      client.send({ type: 'key_exchange_init', clientPublicKey: encodeBase64Url(generateEphemeralKeyPair().publicKey) });
      const response = await client.next('key_exchange_response');
      client.send({ type: 'key_confirmation', clientConfirmation: encodeBase64Url(new Uint8Array(32).fill(7)) });
      expect(await client.next('error')).toMatchObject({ code: 'key_confirmation_failed' });
      expect(await relaySession(response.sessionId)).toBeUndefined();
      expect((await roomStub(channelId).summary()).pendingExchanges).toBe(0);
      client.close();
    });

    it('a second init replaces the pending one; an exchange not confirmed by confirmBy times out', async () => {
      const alice = await createTestAccount(db(), config());
      const channelId = await createVoiceChannel(db(), alice.userId);
      const { client } = await connect(channelId, alice.token);
      client.send({ type: 'key_exchange_init', clientPublicKey: encodeBase64Url(generateEphemeralKeyPair().publicKey) });
      const first = await client.next('key_exchange_response');
      client.send({ type: 'key_exchange_init', clientPublicKey: encodeBase64Url(generateEphemeralKeyPair().publicKey) });
      const second = await client.next('key_exchange_response');
      expect(second.sessionId).not.toBe(first.sessionId);
      expect((await roomStub(channelId).summary()).pendingExchanges).toBe(1);
      await shiftRoomClock(channelId, second.confirmBy - Date.now() + 1);
      await runDurableObjectAlarm(roomStub(channelId));
      expect(await client.next('error')).toMatchObject({ code: 'exchange_timeout' });
      expect((await roomStub(channelId).summary()).pendingExchanges).toBe(0);
      client.close();
    });

    it('forgets a pending exchange when its socket goes', async () => {
      const alice = await createTestAccount(db(), config());
      const channelId = await createVoiceChannel(db(), alice.userId);
      const { client } = await connect(channelId, alice.token);
      client.send({ type: 'key_exchange_init', clientPublicKey: encodeBase64Url(generateEphemeralKeyPair().publicKey) });
      await client.next('key_exchange_response');
      client.close();
      await client.closed();
      await expect.poll(async () => (await roomStub(channelId).summary()).pendingExchanges).toBe(0);
    });

    it('refuses a second join on a socket already in voice', async () => {
      const alice = await createTestAccount(db(), config());
      const channelId = await createVoiceChannel(db(), alice.userId);
      const { client } = await connect(channelId, alice.token);
      const joined = await client.joinVoice({ subject: alice.userId, channelId });
      client.send({ type: 'key_exchange_init', clientPublicKey: encodeBase64Url(generateEphemeralKeyPair().publicKey) });
      expect(await client.next('error')).toMatchObject({ code: 'already_in_voice' });
      joined.keys.wipe();
      client.close();
    });
  });

  describe('leaving (§5.11)', () => {
    it('leave revokes the relay session at once and closes with 1000', async () => {
      const alice = await createTestAccount(db(), config());
      const channelId = await createVoiceChannel(db(), alice.userId);
      const { client } = await connect(channelId, alice.token);
      const joined = await client.joinVoice({ subject: alice.userId, channelId });
      client.send({ type: 'leave' });
      expect((await client.closed()).code).toBe(CLOSE_CODES.normal);
      expect(await relaySession(joined.ready.sessionId)).toBeUndefined();
      expect((await roomStub(channelId).summary()).sessions).toEqual([]);
      joined.keys.wipe();
    });
  });

  it('runs in the Durable Object named by the channel id', async () => {
    const alice = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId);
    const { client } = await connect(channelId, alice.token);
    const summary = await runInDurableObject(roomStub(channelId), (room: ChannelRoom) => room.summary());
    expect(summary).toMatchObject({ channelId, sockets: 1 });
    client.close();
  });
});
