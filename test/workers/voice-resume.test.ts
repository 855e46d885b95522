/**
 * Resuming voice after a dropped socket, and rooms that restart (docs/protocol.md §5.10):
 * the relay session outlives its socket for the resume window, a reconnect with the resume
 * token takes it over without a new exchange, the alarm revokes it after the window; a room
 * instance rebuilt from storage (as after a restart, which closes its sockets) finds the
 * sessions whose socket is gone and gives them their resume window.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeEach, expect, it } from 'vitest';
import { ChannelRoom } from '../../control/src/room/channel-room.js';
import { STORAGE_KEYS, type VoiceSessionRecord } from '../../control/src/room/room-state.js';
import { CLOSE_CODES } from '../../control/src/room/room-messages.js';
import { createTestAccount } from '../support/test-principals.js';
import { describeWithDatabase, workerConfig, workerDatabase } from './support/control-api.js';
import { connect, createVoiceChannel, registerTestRelay, relaySession, roomStub, shiftRoomClock } from './support/voice.js';

const db = () => workerDatabase();
const config = () => workerConfig();

async function twoMembers() {
  const alice = await createTestAccount(db(), config());
  const bob = await createTestAccount(db(), config());
  const channelId = await createVoiceChannel(db(), alice.userId, { members: [{ userId: bob.userId }] });
  const a = await connect(channelId, alice.token);
  const b = await connect(channelId, bob.token);
  const joined = await b.client.joinVoice({ subject: bob.userId, channelId });
  await a.client.next('member_joined');
  await a.client.next('member_updated');
  return { alice, bob, channelId, a, b, joined };
}

describeWithDatabase('resume (§5.10)', () => {
  beforeEach(async () => {
    await registerTestRelay(db());
  });

  it('a dropped socket keeps its relay session; a reconnect resumes it with no new exchange', async () => {
    const { bob, channelId, a, b, joined } = await twoMembers();
    b.client.close(4999);
    expect(await a.client.next('member_updated')).toMatchObject({ member: { subject: bob.userId, connection: 'reconnecting', ssrc: joined.ready.ssrc } });
    expect(await relaySession(joined.ready.sessionId)).toBeDefined();

    const back = await connect(channelId, bob.token, { resume: { sessionId: joined.ready.sessionId, resumeToken: joined.ready.resumeToken } });
    expect(back.authenticated).toMatchObject({
      resumed: true,
      voice: { purpose: 'join', sessionId: joined.ready.sessionId, ssrc: joined.ready.ssrc, udpEndpoint: joined.ready.udpEndpoint, profile: 'aes128gcm', keysExpireAt: joined.ready.keysExpireAt },
    });
    expect(back.authenticated.voice?.resumeToken).not.toBe(joined.ready.resumeToken);
    expect(back.authenticated).not.toHaveProperty('voice.serverConfirmation');
    expect(back.client.received.some((m) => m.type === 'key_exchange_response')).toBe(false);
    expect(await a.client.next('member_updated')).toMatchObject({ member: { subject: bob.userId, connection: 'connected', ssrc: joined.ready.ssrc } });
    expect((await relaySession(joined.ready.sessionId))?.ssrcs).toEqual([joined.ready.ssrc]);

    // The resume token was good once.
    back.client.close(4999);
    await a.client.next('member_updated');
    const replay = await connect(channelId, bob.token, { resume: { sessionId: joined.ready.sessionId, resumeToken: joined.ready.resumeToken } });
    expect(replay.authenticated).toMatchObject({ resumed: false, resumeError: 'mismatch' });
    joined.keys.wipe();
    a.client.close();
    replay.client.close();
  });

  it('refuses to resume an unknown session, someone else\'s, or one past its window', async () => {
    const { alice, bob, channelId, a, b, joined } = await twoMembers();
    const unknown = await connect(channelId, bob.token, { resume: { sessionId: 'vs_aaaaaaaaaaaaaaaaaaaaaaaaaa', resumeToken: joined.ready.resumeToken } });
    expect(unknown.authenticated).toMatchObject({ resumed: false, resumeError: 'unknown_session' });
    unknown.client.close();
    b.client.close(4999);
    const thief = await connect(channelId, alice.token, { resume: { sessionId: joined.ready.sessionId, resumeToken: joined.ready.resumeToken } });
    expect(thief.authenticated).toMatchObject({ resumed: false, resumeError: 'mismatch' });
    thief.client.close();
    await expect.poll(async () => (await roomStub(channelId).summary()).sessions[0]?.resumableUntil ?? null).not.toBeNull();
    await shiftRoomClock(channelId, 30_001);
    const late = await connect(channelId, bob.token, { resume: { sessionId: joined.ready.sessionId, resumeToken: joined.ready.resumeToken } });
    expect(late.authenticated).toMatchObject({ resumed: false, resumeError: 'expired' });
    expect(await relaySession(joined.ready.sessionId)).toBeUndefined();
    joined.keys.wipe();
    a.client.close();
    late.client.close();
  });

  it('after the window the alarm revokes the relay session and the member leaves (disconnected)', async () => {
    const { bob, channelId, a, b, joined } = await twoMembers();
    b.client.close(4999);
    await a.client.next('member_updated');
    await shiftRoomClock(channelId, 30_001);
    await runDurableObjectAlarm(roomStub(channelId));
    expect(await a.client.next('member_left')).toEqual({ type: 'member_left', subject: bob.userId, reason: 'disconnected' });
    expect(await relaySession(joined.ready.sessionId)).toBeUndefined();
    expect((await roomStub(channelId).summary()).sessions).toEqual([]);
    joined.keys.wipe();
    a.client.close();
  });

  it('a second socket of the member that joins voice takes the session over: the first closes with 4007', async () => {
    const alice = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId);
    const first = await connect(channelId, alice.token);
    const one = await first.client.joinVoice({ subject: alice.userId, channelId });
    const second = await connect(channelId, alice.token);
    const two = await second.client.joinVoice({ subject: alice.userId, channelId });
    expect((await first.client.closed()).code).toBe(CLOSE_CODES.moved);
    expect(await relaySession(one.ready.sessionId)).toBeUndefined();
    expect(await relaySession(two.ready.sessionId)).toBeDefined();
    expect((await roomStub(channelId).summary()).sessions.map((s) => s.sessionId)).toEqual([two.ready.sessionId]);
    one.keys.wipe();
    two.keys.wipe();
    second.client.close();
  });
});

describeWithDatabase('rooms that restart', () => {
  beforeEach(async () => {
    await registerTestRelay(db());
  });

  // A restart is a new instance over the same storage. abortAllDurableObjects() would be the
  // faithful way, but with a voice session installed it leaves vitest-pool-workers 0.15 unable
  // to finish the run, so the test builds the second instance itself.
  it('an instance rebuilt from storage keeps a hibernated socket\'s session, and makes one whose socket is gone resumable', async () => {
    const { bob, channelId, a, joined } = await twoMembers();
    a.client.send({ type: 'moderate', action: 'server_mute', subject: bob.userId });
    await a.client.next('moderated');
    const rebuilt = await runInDurableObject(roomStub(channelId), async (_room: ChannelRoom, state) => {
      // Hibernation: every socket is still there, nothing is orphaned.
      const woken = new ChannelRoom(state, env as never);
      await woken.loaded;
      const hibernated = await woken.summary();
      // A restart that lost Bob's socket: his record names a socket the runtime no longer has.
      const key = `${STORAGE_KEYS.sessionPrefix}${joined.ready.sessionId}`;
      const record = (await state.storage.get<VoiceSessionRecord>(key))!;
      await state.storage.put(key, { ...record, socketId: 'gone' });
      const restarted = new ChannelRoom(state, env as never);
      await restarted.loaded;
      return { hibernated, restarted: await restarted.summary() };
    });
    expect(rebuilt.hibernated.sessions).toEqual([expect.objectContaining({ sessionId: joined.ready.sessionId, socketId: expect.any(String), resumableUntil: null, installed: true })]);
    expect(rebuilt.restarted.sessions).toEqual([expect.objectContaining({ sessionId: joined.ready.sessionId, socketId: null, installed: true })]);
    expect(rebuilt.restarted.sessions[0]?.resumableUntil).toBeGreaterThan(Date.now());
    // The relay session was left alone, still server-muted.
    expect(await relaySession(joined.ready.sessionId)).toMatchObject({ muted: true });
    joined.keys.wipe();
    a.client.close();
  });
});
