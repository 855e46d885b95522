/**
 * Moving a channel's sessions to another relay (docs/protocol.md §5.9), inside workerd against
 * real relay processes of the global setup: two failover relays (A, B) in a region only this
 * file registers, and the shared test relay for a session its relay lost.
 *
 * What moves a channel, each through the path production uses: a draining relay's heartbeat
 * (the directory's route forwards it to the room), a relay the directory shows restarted and
 * silent (the room's periodic check, its alarm), and a heartbeat's lostSessions (back onto the
 * same relay). What does not: one client's relay_unreachable while the relay answers the room's
 * probe. The real SIGKILL (probe fails) is test/e2e/voice-failover.test.ts.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { beforeEach, expect, it } from 'vitest';
import { ROOM_CHECK_INTERVAL_MS } from '../../control/src/room/room-alarm.js';
import type { ChannelRoom } from '../../control/src/room/channel-room.js';
import { createTestAccount } from '../support/test-principals.js';
import type { VoiceRoomClient } from '../support/voice-room-client.js';
import { describeWithDatabase, workerConfig, workerDatabase } from './support/control-fixtures.js';
import {
  announceRelay,
  connect,
  createVoiceChannel,
  FAILOVER_REGION,
  failoverRelays,
  registerRelay,
  registerTestRelay,
  relayApi,
  relaySession,
  roomStub,
  shiftRoomClock,
  TEST_RELAY_REGION,
  testRelay,
  type TestRelay,
} from './support/voice.js';
import { channelMembers, channels } from '../../control/src/db/schema.js';
import { permissionBits } from '../../control/src/channels/permissions.js';
import { eq } from 'drizzle-orm';

const db = () => workerDatabase();
const config = () => workerConfig();

async function sessionsOn(relay: TestRelay): Promise<Map<string, readonly number[]>> {
  const list = await relayApi(relay).listSessions();
  return new Map(list.sessions.map((s) => [s.sessionId, s.ssrcs]));
}

/** A channel pinned to the failover region with two members in voice, both on relay A. */
async function twoMembersOnA() {
  const [a] = failoverRelays();
  const alice = await createTestAccount(db(), config());
  const bob = await createTestAccount(db(), config());
  const channelId = await createVoiceChannel(db(), alice.userId, { members: [{ userId: bob.userId }] });
  await db().update(channels).set({ region: FAILOVER_REGION }).where(eq(channels.id, channelId));
  const b = await connect(channelId, bob.token);
  const bobJoined = await b.client.joinVoice({ subject: bob.userId, channelId });
  const al = await connect(channelId, alice.token);
  const aliceJoined = await al.client.joinVoice({ subject: alice.userId, channelId });
  expect(aliceJoined.ready.relayId).toBe(a.relayId);
  expect(bobJoined.ready.relayId).toBe(a.relayId);
  aliceJoined.keys.wipe();
  bobJoined.keys.wipe();
  return { channelId, alice, bob, aliceClient: al.client, bobClient: b.client, aliceJoined, bobJoined };
}

/** Waits until the room has handled what `client` sent before (its messages are handled in order). */
async function settled(client: VoiceRoomClient, id: string): Promise<void> {
  client.send({ type: 'ping', id });
  await client.next('pong');
}

async function finish(channelId: string, clients: VoiceRoomClient[]): Promise<void> {
  for (const client of clients) {
    client.close();
    await client.closed();
  }
  await expect.poll(async () => (await roomStub(channelId).summary()).sockets).toBe(0);
}

describeWithDatabase('moving a channel to another relay (§5.9)', () => {
  beforeEach(async () => {
    const [a, b] = failoverRelays();
    // Only A at first, so every channel starts there; B joins the directory when a test needs it.
    await registerRelay(db(), a, FAILOVER_REGION);
    await registerRelay(db(), b, FAILOVER_REGION, { lastSeenAt: 0 });
  });

  it('a draining relay: its heartbeat moves both members to the other relay with a fresh exchange each; listeners learn the new SSRC first; the old sessions are revoked', async () => {
    const [a, b] = failoverRelays();
    const m = await twoMembersOnA();
    await registerRelay(db(), b, FAILOVER_REGION);
    const answer = await announceRelay('heartbeat', a, FAILOVER_REGION, { draining: true });
    expect(answer.status).toBe(200);

    for (const client of [m.aliceClient, m.bobClient]) expect(await client.next('voice_moved')).toEqual({ type: 'voice_moved', reason: 'relay_draining', relayId: b.relayId });
    expect((await roomStub(m.channelId).summary()).sessions.map((s) => s.moving)).toEqual(['relay_draining', 'relay_draining']);

    m.bobClient.drain();
    const aliceMoved = await m.aliceClient.joinVoice({ subject: m.alice.userId, channelId: m.channelId });
    expect(aliceMoved.response).toMatchObject({ purpose: 'move', sessionId: m.aliceJoined.ready.sessionId, relayId: b.relayId });
    expect(aliceMoved.ready).toMatchObject({ purpose: 'move', relayId: b.relayId, udpEndpoint: { port: b.udpPorts[0] } });
    expect(aliceMoved.ready.ssrc).not.toBe(m.aliceJoined.ready.ssrc);
    // Bob was told Alice's new SSRC before Alice got voice_ready (§5.6).
    const update = await m.bobClient.next('member_updated');
    expect(update.member).toMatchObject({ subject: m.alice.userId, ssrc: aliceMoved.ready.ssrc });
    const bobMoved = await m.bobClient.joinVoice({ subject: m.bob.userId, channelId: m.channelId });
    expect(bobMoved.ready).toMatchObject({ purpose: 'move', relayId: b.relayId });
    aliceMoved.keys.wipe();
    bobMoved.keys.wipe();

    // Installed on B with the new SSRCs (sealed for B's run); gone from A.
    const onB = await sessionsOn(b);
    expect(onB.get(m.aliceJoined.ready.sessionId)).toEqual([aliceMoved.ready.ssrc]);
    expect(onB.get(m.bobJoined.ready.sessionId)).toEqual([bobMoved.ready.ssrc]);
    const onA = await sessionsOn(a);
    expect(onA.has(m.aliceJoined.ready.sessionId)).toBe(false);
    expect(onA.has(m.bobJoined.ready.sessionId)).toBe(false);
    const summary = await roomStub(m.channelId).summary();
    expect(summary.relayId).toBe(b.relayId);
    expect(summary.sessions.map((s) => [s.relayId, s.bootId, s.moving])).toEqual([
      [b.relayId, b.bootId, null],
      [b.relayId, b.bootId, null],
    ]);
    // Another draining heartbeat finds nothing of this channel on A.
    expect((await announceRelay('heartbeat', a, FAILOVER_REGION, { draining: true })).status).toBe(200);
    await settled(m.aliceClient, 'after-second-heartbeat');
    expect(m.aliceClient.drain().filter((msg) => msg.type === 'voice_moved')).toEqual([]);
    await finish(m.channelId, [m.aliceClient, m.bobClient]);
  });

  it("one client's relay_unreachable moves nothing while the relay answers the room's probe", async () => {
    const [, b] = failoverRelays();
    const m = await twoMembersOnA();
    await registerRelay(db(), b, FAILOVER_REGION);
    for (let i = 0; i < 5; i++) m.aliceClient.send({ type: 'relay_unreachable', relayId: failoverRelays()[0].relayId });
    // A report about a relay the member is not on is ignored too.
    m.aliceClient.send({ type: 'relay_unreachable', relayId: b.relayId });
    await settled(m.aliceClient, 'reported');
    await settled(m.bobClient, 'bob');
    expect([...m.aliceClient.drain(), ...m.bobClient.drain()].filter((msg) => msg.type === 'voice_moved' || msg.type === 'error')).toEqual([]);
    const summary = await roomStub(m.channelId).summary();
    expect(summary.sessions.map((s) => [s.relayId, s.moving])).toEqual([
      [failoverRelays()[0].relayId, null],
      [failoverRelays()[0].relayId, null],
    ]);
    await finish(m.channelId, [m.aliceClient, m.bobClient]);
  });

  it('the periodic check: a relay the directory shows restarted and silent moves the channel; a member that never starts the move loses its session (move_timeout)', async () => {
    const [a, b] = failoverRelays();
    const m = await twoMembersOnA();
    // The room's clock runs a check interval ahead: B heartbeats up to then, so it is alive there.
    await registerRelay(db(), b, FAILOVER_REGION, { lastSeenAt: Date.now() + ROOM_CHECK_INTERVAL_MS + 1_000 });
    // A restarted (a new boot id) and then went silent: its old run's keys are gone.
    await registerRelay(db(), a, FAILOVER_REGION, { bootId: 'AAAAAAAAAAAAAAAAAAAAAA', lastSeenAt: Date.now() - 3_600_000 });
    await shiftRoomClock(m.channelId, ROOM_CHECK_INTERVAL_MS + 1_000);
    await runDurableObjectAlarm(roomStub(m.channelId));
    for (const client of [m.aliceClient, m.bobClient]) expect(await client.next('voice_moved')).toEqual({ type: 'voice_moved', reason: 'relay_failed', relayId: b.relayId });

    const aliceMoved = await m.aliceClient.joinVoice({ subject: m.alice.userId, channelId: m.channelId });
    expect(aliceMoved.ready).toMatchObject({ purpose: 'move', relayId: b.relayId });
    aliceMoved.keys.wipe();
    expect((await sessionsOn(b)).get(m.aliceJoined.ready.sessionId)).toEqual([aliceMoved.ready.ssrc]);

    // Bob never starts his move: at the rekey timeout his session ends.
    await shiftRoomClock(m.channelId, ROOM_CHECK_INTERVAL_MS + 1_000 + config().voice.rekeyTimeoutMs + 1_000);
    await runDurableObjectAlarm(roomStub(m.channelId));
    expect(await m.bobClient.next('error')).toMatchObject({ code: 'move_timeout' });
    const summary = await roomStub(m.channelId).summary();
    expect(summary.sessions.map((s) => s.sessionId)).toEqual([m.aliceJoined.ready.sessionId]);
    await finish(m.channelId, [m.aliceClient, m.bobClient]);
  });

  it('a join while the directory counts the channel\'s relay dead moves the channel first, and the joiner lands where the others go', async () => {
    const [a, b] = failoverRelays();
    const m = await twoMembersOnA();
    await registerRelay(db(), b, FAILOVER_REGION);
    await registerRelay(db(), a, FAILOVER_REGION, { lastSeenAt: Date.now() - 3_600_000 });
    const carol = await createTestAccount(db(), config());
    await db().insert(channelMembers).values({ channelId: m.channelId, userId: carol.userId, role: 'member', permissions: permissionBits(['speak', 'listen']), joinedAt: Date.now() });
    const c = await connect(m.channelId, carol.token);
    const carolJoined = await c.client.joinVoice({ subject: carol.userId, channelId: m.channelId });
    carolJoined.keys.wipe();
    expect(carolJoined.ready).toMatchObject({ purpose: 'join', relayId: b.relayId });
    for (const client of [m.aliceClient, m.bobClient]) expect(await client.next('voice_moved')).toEqual({ type: 'voice_moved', reason: 'relay_failed', relayId: b.relayId });
    await finish(m.channelId, [m.aliceClient, m.bobClient, c.client]);
  });

  it('keys are sealed for the boot id the directory has: a target whose run is not that one refuses the install (relay_unavailable) and the move stays owed', async () => {
    const [a, b] = failoverRelays();
    const m = await twoMembersOnA();
    // B as the directory would show it just before its restart registered: another run.
    await registerRelay(db(), b, FAILOVER_REGION, { bootId: 'BBBBBBBBBBBBBBBBBBBBBA' });
    expect((await announceRelay('heartbeat', a, FAILOVER_REGION, { draining: true })).status).toBe(200);
    expect(await m.aliceClient.next('voice_moved')).toMatchObject({ reason: 'relay_draining', relayId: b.relayId });
    await expect(m.aliceClient.joinVoice({ subject: m.alice.userId, channelId: m.channelId })).rejects.toThrow('key confirmation refused: relay_unavailable');
    expect((await sessionsOn(b)).has(m.aliceJoined.ready.sessionId)).toBe(false);
    const summary = await roomStub(m.channelId).summary();
    expect(summary.sessions.find((s) => s.sessionId === m.aliceJoined.ready.sessionId)).toMatchObject({ relayId: a.relayId, moving: 'relay_draining' });
    await finish(m.channelId, [m.aliceClient, m.bobClient]);
  });

  it("a heartbeat's lostSessions: the lost member is re-keyed onto the same relay run; the others are not disturbed", async () => {
    await registerTestRelay(db());
    const alice = await createTestAccount(db(), config());
    const bob = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId, { members: [{ userId: bob.userId }] });
    const b = await connect(channelId, bob.token);
    const bobJoined = await b.client.joinVoice({ subject: bob.userId, channelId });
    const al = await connect(channelId, alice.token);
    const aliceJoined = await al.client.joinVoice({ subject: alice.userId, channelId });
    bobJoined.keys.wipe();
    aliceJoined.keys.wipe();
    // The relay lost Alice's session (as a failed worker does), then reports it.
    await relayApi().revokeSession(aliceJoined.ready.sessionId);
    expect((await announceRelay('heartbeat', testRelay(), TEST_RELAY_REGION, { lostSessions: [aliceJoined.ready.sessionId] })).status).toBe(200);
    expect(await al.client.next('voice_moved')).toEqual({ type: 'voice_moved', reason: 'relay_lost_session', relayId: testRelay().relayId });
    const moved = await al.client.joinVoice({ subject: alice.userId, channelId });
    moved.keys.wipe();
    expect(moved.ready).toMatchObject({ purpose: 'move', relayId: testRelay().relayId, sessionId: aliceJoined.ready.sessionId });
    expect((await relaySession(aliceJoined.ready.sessionId))?.ssrcs).toEqual([moved.ready.ssrc]);
    expect((await relaySession(bobJoined.ready.sessionId))?.ssrcs).toEqual([bobJoined.ready.ssrc]);
    await settled(b.client, 'bob');
    expect(b.client.drain().filter((msg) => msg.type === 'voice_moved')).toEqual([]);
    await finish(channelId, [al.client, b.client]);
  });

  it('the revoke on the old relay after a move: not answered, it is tried again with backoff until the relay, back, drops the session', async () => {
    const [a, b] = failoverRelays();
    const m = await twoMembersOnA();
    const aliceSession = m.aliceJoined.ready.sessionId;
    // The path to A loses Alice's revokes twice (A is up, and keeps her keys meanwhile): the
    // room's relay calls go through this; everything else reaches the real relays.
    const lost: string[] = [];
    await runInDurableObject(roomStub(m.channelId), (room: ChannelRoom) => {
      room.relayFetch = async (request) => {
        if (request.method === 'DELETE' && request.url.startsWith(a.apiUrl) && request.url.includes(aliceSession) && lost.length < 2) {
          lost.push(request.url);
          throw new TypeError('Network connection lost.');
        }
        return fetch(request);
      };
    });
    await registerRelay(db(), b, FAILOVER_REGION);
    expect((await announceRelay('heartbeat', a, FAILOVER_REGION, { draining: true })).status).toBe(200);
    expect(await m.aliceClient.next('voice_moved')).toMatchObject({ relayId: b.relayId });
    expect(await m.bobClient.next('voice_moved')).toMatchObject({ relayId: b.relayId });
    const aliceMoved = await m.aliceClient.joinVoice({ subject: m.alice.userId, channelId: m.channelId });
    aliceMoved.keys.wipe();
    await settled(m.aliceClient, 'moved');

    // The one try after the move got no answer: A still holds her old keys, and the room owes it.
    expect(lost).toHaveLength(1);
    expect((await sessionsOn(a)).has(aliceSession)).toBe(true);
    expect((await roomStub(m.channelId).summary()).pendingRevocations).toBe(1);

    // 1 s later (the room's clock): tried again, lost again; still owed.
    await shiftRoomClock(m.channelId, 1_500);
    await runDurableObjectAlarm(roomStub(m.channelId));
    expect(lost).toHaveLength(2);
    expect((await sessionsOn(a)).has(aliceSession)).toBe(true);
    expect((await roomStub(m.channelId).summary()).pendingRevocations).toBe(1);

    // 2 s after that: the path is back; the revoke reaches A, which drops the session.
    await shiftRoomClock(m.channelId, 1_500 + 2_500);
    await runDurableObjectAlarm(roomStub(m.channelId));
    expect((await sessionsOn(a)).has(aliceSession)).toBe(false);
    expect((await sessionsOn(b)).get(aliceSession)).toEqual([aliceMoved.ready.ssrc]);
    expect((await roomStub(m.channelId).summary()).pendingRevocations).toBe(0);
    expect(lost).toHaveLength(2);
    await finish(m.channelId, [m.aliceClient, m.bobClient]);
  });
});
