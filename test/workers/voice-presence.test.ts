/**
 * Presence and moderation in a channel room (docs/protocol.md §5.6, §5.7), against the real
 * relay: what the relay holds after each action is read back from its own session list.
 */
import { beforeEach, expect, it } from 'vitest';
import { api, describeWithDatabase, workerConfig, workerDatabase } from './support/control-api.js';
import { connect, createVoiceChannel, registerTestRelay, relaySession, roomStub } from './support/voice.js';
import { createTestAccount, createTestAppUser } from '../support/test-principals.js';
import { CLOSE_CODES, type RosterEntry } from '../../control/src/room/room-messages.js';
import type { VoiceRoomClient } from '../support/voice-room-client.js';

const db = () => workerDatabase();
const config = () => workerConfig();

async function memberUpdate(client: VoiceRoomClient, subject: string, predicate: (m: RosterEntry) => boolean): Promise<RosterEntry> {
  for (;;) {
    const event = await client.next('member_updated');
    if (event.member.subject === subject && predicate(event.member)) return event.member;
  }
}

describeWithDatabase('presence (§5.6)', () => {
  beforeEach(async () => {
    await registerTestRelay(db());
  });

  it('a newcomer gets the roster; others get member_joined, the SSRC before voice_ready, member_left', async () => {
    const alice = await createTestAccount(db(), config());
    const bob = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId, { members: [{ userId: bob.userId }] });
    const a = await connect(channelId, alice.token);
    const b = await connect(channelId, bob.token);
    expect(b.authenticated.roster.map((m) => m.subject).sort()).toEqual([alice.userId, bob.userId].sort());
    expect(await a.client.next('member_joined')).toMatchObject({ member: { subject: bob.userId, ssrc: null, connection: 'connected' } });
    // Bob must not get his own join.
    const joined = await b.client.joinVoice({ subject: bob.userId, channelId });
    const announced = await a.client.next('member_updated');
    expect(announced.member).toMatchObject({ subject: bob.userId, ssrc: joined.ready.ssrc });
    // On Bob's own socket the announcement came before voice_ready.
    const bobsOrder = b.client.received.map((m) => (m.type === 'member_updated' ? `updated:${m.member.ssrc}` : m.type));
    expect(bobsOrder.indexOf(`updated:${joined.ready.ssrc}`)).toBeLessThan(bobsOrder.indexOf('voice_ready'));
    expect(b.client.received.filter((m) => m.type === 'member_joined')).toEqual([]);

    b.client.send({ type: 'leave' });
    expect(await a.client.next('member_left')).toEqual({ type: 'member_left', subject: bob.userId, reason: 'left' });
    joined.keys.wipe();
    a.client.close();
  });

  it('self mute and deafen reach the relay before member_updated goes out', async () => {
    const alice = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId);
    const { client } = await connect(channelId, alice.token);
    client.send({ type: 'set_state', id: 'early', muted: true });
    expect(await client.next('error')).toMatchObject({ code: 'not_in_voice', replyTo: 'early' });
    const joined = await client.joinVoice({ subject: alice.userId, channelId });
    client.drain();
    client.send({ type: 'set_state', id: 's1', muted: true, deafened: true });
    const updated = await client.next('member_updated');
    expect(updated).toMatchObject({ replyTo: 's1', member: { subject: alice.userId, muted: true, deafened: true } });
    expect(await relaySession(joined.ready.sessionId)).toMatchObject({ muted: true, deafened: true });
    client.send({ type: 'set_state', id: 's2', muted: false });
    expect(await client.next('member_updated')).toMatchObject({ replyTo: 's2', member: { muted: false, deafened: true } });
    expect(await relaySession(joined.ready.sessionId)).toMatchObject({ muted: false, deafened: true });
    joined.keys.wipe();
    client.close();
  });

  it('joins muted when asked, and the relay installs the session muted', async () => {
    const alice = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId);
    const { client } = await connect(channelId, alice.token);
    const joined = await client.joinVoice({ subject: alice.userId, channelId }, { muted: true });
    expect(await relaySession(joined.ready.sessionId)).toMatchObject({ muted: true });
    joined.keys.wipe();
    client.close();
  });

  it('speaking is forwarded at most 5 times a second, the last value always arriving', async () => {
    const alice = await createTestAccount(db(), config());
    const bob = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId, { members: [{ userId: bob.userId }] });
    const a = await connect(channelId, alice.token);
    const b = await connect(channelId, bob.token);
    const joined = await b.client.joinVoice({ subject: bob.userId, channelId });
    for (let i = 0; i < 20; i++) b.client.send({ type: 'speaking', speaking: i % 2 === 0 });
    b.client.send({ type: 'speaking', speaking: true });
    // A ping queues behind the speaking changes: its pong says the room has read them all.
    b.client.send({ type: 'ping', id: 'barrier' });
    await b.client.next('pong');
    // The final value arrives (coalesced: within 200 ms of the cap), and far fewer than 21 changes went out.
    const speakingEvents = () => a.client.received.filter((m) => m.type === 'member_updated' && m.member.subject === bob.userId && m.member.ssrc !== null);
    await expect.poll(() => { const last = speakingEvents().at(-1); return last?.type === 'member_updated' && last.member.speaking; }, { timeout: 3_000 }).toBe(true);
    // 21 changes sent at once: the first goes out, the rest coalesce into a few.
    expect(speakingEvents().length).toBeLessThanOrEqual(5);
    joined.keys.wipe();
    a.client.close();
    b.client.close();
  });
});

describeWithDatabase('moderation (§5.7)', () => {
  beforeEach(async () => {
    await registerTestRelay(db());
  });

  it('server mute reaches the relay and the roster; a member cannot unmute it', async () => {
    const owner = await createTestAccount(db(), config());
    const bob = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), owner.userId, { members: [{ userId: bob.userId }] });
    const o = await connect(channelId, owner.token);
    const b = await connect(channelId, bob.token);
    const joined = await b.client.joinVoice({ subject: bob.userId, channelId });
    b.client.drain();
    o.client.send({ type: 'moderate', id: 'm1', action: 'server_mute', subject: bob.userId });
    expect(await o.client.next('moderated')).toEqual({ type: 'moderated', replyTo: 'm1', action: 'server_mute', subject: bob.userId });
    expect(await relaySession(joined.ready.sessionId)).toMatchObject({ muted: true });
    expect(await memberUpdate(b.client, bob.userId, (m) => m.serverMuted)).toMatchObject({ serverMuted: true, muted: false });
    // Self-unmuting keeps the relay muted while server-muted.
    b.client.drain();
    b.client.send({ type: 'set_state', id: 'self', muted: false });
    expect(await b.client.next('member_updated')).toMatchObject({ replyTo: 'self' });
    expect(await relaySession(joined.ready.sessionId)).toMatchObject({ muted: true });
    // A member without moderate cannot lift it.
    b.client.send({ type: 'moderate', id: 'm2', action: 'server_unmute', subject: bob.userId });
    expect(await b.client.next('error')).toMatchObject({ code: 'forbidden', replyTo: 'm2' });
    o.client.send({ type: 'moderate', action: 'server_unmute', subject: bob.userId });
    await o.client.next('moderated');
    expect(await relaySession(joined.ready.sessionId)).toMatchObject({ muted: false });
    joined.keys.wipe();
    o.client.close();
    b.client.close();
  });

  it('kick closes the target with 4004 and revokes its relay session before `moderated`', async () => {
    const owner = await createTestAccount(db(), config());
    const bob = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), owner.userId, { members: [{ userId: bob.userId }] });
    const o = await connect(channelId, owner.token);
    const b = await connect(channelId, bob.token);
    const joined = await b.client.joinVoice({ subject: bob.userId, channelId });
    o.client.send({ type: 'moderate', action: 'kick', subject: bob.userId, reason: 'spam' });
    await o.client.next('moderated');
    expect(await relaySession(joined.ready.sessionId)).toBeUndefined();
    expect((await b.client.closed()).code).toBe(CLOSE_CODES.kicked);
    expect(await o.client.next('member_left')).toEqual({ type: 'member_left', subject: bob.userId, reason: 'kicked' });
    // A kick is not a ban: Bob may come back.
    const back = await connect(channelId, bob.token);
    expect(back.authenticated.subject).toBe(bob.userId);
    joined.keys.wipe();
    o.client.close();
    back.client.close();
  });

  it('ban adds a channel ban, closes with 4005, revokes on the relay; the banned member cannot come back', async () => {
    const owner = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), owner.userId);
    const appUser = await createTestAppUser(db(), config(), [{ channelId, permissions: ['speak', 'listen'] }]);
    const o = await connect(channelId, owner.token);
    const u = await connect(channelId, appUser.token);
    const joined = await u.client.joinVoice({ subject: appUser.subject, channelId });
    o.client.send({ type: 'moderate', action: 'ban', subject: appUser.subject, reason: 'abuse' });
    await o.client.next('moderated');
    expect(await relaySession(joined.ready.sessionId)).toBeUndefined();
    expect((await u.client.closed()).code).toBe(CLOSE_CODES.banned);
    const bans = await api('GET', `/v1/channels/${channelId}/bans`, { token: owner.token });
    expect(bans.body.bans).toEqual([expect.objectContaining({ subject: appUser.subject, reason: 'abuse' })]);
    const again = await connect(channelId, appUser.token).catch((e: Error) => e);
    expect(again).toBeInstanceOf(Error);
    joined.keys.wipe();
    o.client.close();
  });

  it('nobody moderates the owner or an admin without being the owner; unknown targets are subject_not_found', async () => {
    const owner = await createTestAccount(db(), config());
    const admin = await createTestAccount(db(), config());
    const moderator = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), owner.userId, {
      members: [
        { userId: admin.userId, role: 'admin', permissions: ['speak', 'listen', 'moderate', 'manage'] },
        { userId: moderator.userId, permissions: ['speak', 'listen', 'moderate'] },
      ],
    });
    const o = await connect(channelId, owner.token);
    const a = await connect(channelId, admin.token);
    const m = await connect(channelId, moderator.token);
    for (const target of [owner.userId, admin.userId]) {
      m.client.send({ type: 'moderate', action: 'kick', subject: target });
      expect(await m.client.next('error')).toMatchObject({ code: 'forbidden' });
    }
    a.client.send({ type: 'moderate', action: 'kick', subject: owner.userId });
    expect(await a.client.next('error')).toMatchObject({ code: 'forbidden' });
    m.client.send({ type: 'moderate', action: 'kick', subject: 'usr_aaaaaaaaaaaaaaaaaaaaaaaaaa' });
    expect(await m.client.next('error')).toMatchObject({ code: 'subject_not_found', field: 'subject' });
    o.client.send({ type: 'moderate', action: 'kick', subject: admin.userId });
    await o.client.next('moderated');
    expect((await a.client.closed()).code).toBe(CLOSE_CODES.kicked);
    o.client.close();
    m.client.close();
  });

  it('the HTTP API reaches the room: a ban closes with 4005, a removal with 4009, deleting the channel with 4006', async () => {
    const owner = await createTestAccount(db(), config());
    const bob = await createTestAccount(db(), config());
    const carol = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), owner.userId, { members: [{ userId: bob.userId }, { userId: carol.userId }] });
    const o = await connect(channelId, owner.token);
    const b = await connect(channelId, bob.token);
    const c = await connect(channelId, carol.token);
    const joined = await b.client.joinVoice({ subject: bob.userId, channelId });
    expect((await api('PUT', `/v1/channels/${channelId}/bans/${bob.userId}`, { token: owner.token, json: {} })).status).toBe(201);
    expect((await b.client.closed()).code).toBe(CLOSE_CODES.banned);
    expect(await relaySession(joined.ready.sessionId)).toBeUndefined();
    expect((await api('DELETE', `/v1/channels/${channelId}/members/${carol.userId}`, { token: owner.token })).status).toBe(204);
    expect((await c.client.closed()).code).toBe(CLOSE_CODES.forbidden);
    const ownerJoined = await o.client.joinVoice({ subject: owner.userId, channelId });
    expect((await api('DELETE', `/v1/channels/${channelId}`, { token: owner.token })).status).toBe(204);
    expect((await o.client.closed()).code).toBe(CLOSE_CODES.channelDeleted);
    expect(await relaySession(ownerJoined.ready.sessionId)).toBeUndefined();
    expect(await roomStub(channelId).summary()).toMatchObject({ channelId: null, sessions: [] });
    joined.keys.wipe();
    ownerJoined.keys.wipe();
  });
});
