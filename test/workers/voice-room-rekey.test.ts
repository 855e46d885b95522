/**
 * Rotation the room asks for itself (docs/protocol.md §5.8), against the real relay of the
 * global setup: at the keys' rotation age (`key_age`), and when the relay's heartbeat lists the
 * session in `rekeyRequested` (`usage_limit`, a signed heartbeat through the directory's own
 * route); the client's rotate exchange installs a new SSRC on the relay; a client that does not
 * start the rotation by the deadline loses the session (`rekey_timeout`, revoked on the relay).
 *
 * Deadlines are reached by moving the room's clock (shiftRoomClock) by the configured
 * intervals and running its alarm, never by waiting. A member kept past its access token's
 * lifetime sends a fresh token first, as a real client does.
 */
import { runDurableObjectAlarm } from 'cloudflare:test';
import { beforeEach, expect, it } from 'vitest';
import { accessTokenKeys, signAccessToken } from '../../control/src/auth/access-tokens.js';
import { createTestAccount } from '../support/test-principals.js';
import type { VoiceRoomClient } from '../support/voice-room-client.js';
import { describeWithDatabase, workerConfig, workerDatabase } from './support/control-fixtures.js';
import { announceRelay, connect, createVoiceChannel, registerTestRelay, relaySession, roomStub, shiftRoomClock, TEST_RELAY_REGION, testRelay } from './support/voice.js';

const db = () => workerDatabase();
const config = () => workerConfig();

type Account = Awaited<ReturnType<typeof createTestAccount>>;

/** Moves the room's clock to `at` (ms, room time) and runs its alarm; each member first sends a fresh token, which keeps its socket. */
async function advanceRoomTo(channelId: string, at: number, members: ReadonlyArray<readonly [VoiceRoomClient, Account]>): Promise<void> {
  await shiftRoomClock(channelId, at - Date.now());
  const keys = await accessTokenKeys(config());
  for (const [client, account] of members) {
    const fresh = await signAccessToken(keys, { kind: 'account', subject: account.userId, sessionId: account.sessionId, tokenId: `t${at}`, issuedAt: at - 1_000, name: account.username });
    await client.authenticate(fresh.token);
  }
  await runDurableObjectAlarm(roomStub(channelId));
}

/** A heartbeat of the test relay through the directory's route. */
function heartbeat(rekeyRequested: string[]): Promise<Response> {
  return announceRelay('heartbeat', testRelay(), TEST_RELAY_REGION, { rekeyRequested });
}

async function finish(channelId: string, clients: VoiceRoomClient[]): Promise<void> {
  for (const client of clients) {
    client.close();
    await client.closed();
  }
  await expect.poll(async () => (await roomStub(channelId).summary()).sockets).toBe(0);
}

describeWithDatabase('rotation asked for by the room (§5.8)', () => {
  beforeEach(async () => {
    await registerTestRelay(db());
  });

  it('at the rotation age: rekey_required key_age, then the rotate exchange puts a new SSRC on the relay, and the next rotation is due from then', async () => {
    const voice = config().voice;
    expect(voice.keyRotateAfterMs).toBeLessThan(voice.keyMaxAgeMs);
    const alice = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId);
    const { client } = await connect(channelId, alice.token);
    const joinedAt = Date.now();
    const joined = await client.joinVoice({ subject: alice.userId, channelId });

    // Just before the rotation age nothing is asked; at it, rekey_required.
    await advanceRoomTo(channelId, joinedAt + voice.keyRotateAfterMs - 5_000, [[client, alice]]);
    expect(client.drain().filter((m) => m.type === 'rekey_required')).toEqual([]);
    await advanceRoomTo(channelId, joinedAt + voice.keyRotateAfterMs + 1_000, [[client, alice]]);
    expect(await client.next('rekey_required')).toEqual({ type: 'rekey_required', reason: 'key_age' });

    const rotated = await client.joinVoice({ subject: alice.userId, channelId });
    expect(rotated.response).toMatchObject({ purpose: 'rotate', sessionId: joined.ready.sessionId });
    expect(rotated.ready.ssrc).not.toBe(joined.ready.ssrc);
    expect((await relaySession(joined.ready.sessionId))?.ssrcs).toContain(rotated.ready.ssrc);
    // Asked once: another alarm right away asks nothing more, and the session stays.
    client.drain();
    await runDurableObjectAlarm(roomStub(channelId));
    const summary = await roomStub(channelId).summary();
    expect(summary.sessions).toMatchObject([{ sessionId: joined.ready.sessionId, ssrc: rotated.ready.ssrc }]);
    // The next rotation is due at the new keys' rotation age.
    const rotatedAt = joinedAt + voice.keyRotateAfterMs + 1_000;
    await advanceRoomTo(channelId, rotatedAt + voice.keyRotateAfterMs - 5_000, [[client, alice]]);
    expect(client.drain().filter((m) => m.type === 'rekey_required')).toEqual([]);
    await advanceRoomTo(channelId, rotatedAt + voice.keyRotateAfterMs + 5_000, [[client, alice]]);
    expect(await client.next('rekey_required')).toEqual({ type: 'rekey_required', reason: 'key_age' });
    joined.keys.wipe();
    rotated.keys.wipe();
    await finish(channelId, [client]);
  });

  it('a client that does not start the rotation by the deadline loses its session: error rekey_timeout, revoked on the relay', async () => {
    const voice = config().voice;
    const alice = await createTestAccount(db(), config());
    const bob = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId, { members: [{ userId: bob.userId }] });
    const b = await connect(channelId, bob.token);
    const a = await connect(channelId, alice.token);
    const joinedAt = Date.now();
    const joined = await a.client.joinVoice({ subject: alice.userId, channelId });
    const askedAt = joinedAt + voice.keyRotateAfterMs + 1_000;
    await advanceRoomTo(channelId, askedAt, [
      [a.client, alice],
      [b.client, bob],
    ]);
    expect(await a.client.next('rekey_required')).toMatchObject({ reason: 'key_age' });

    // Not yet at the deadline: still in voice.
    await shiftRoomClock(channelId, askedAt + voice.rekeyTimeoutMs - 1_000 - Date.now());
    await runDurableObjectAlarm(roomStub(channelId));
    expect(await relaySession(joined.ready.sessionId)).toBeDefined();
    // Past it (the room asked a few ms after askedAt, its clock running on): the session ends;
    // the socket stays open and may join again.
    await shiftRoomClock(channelId, askedAt + voice.rekeyTimeoutMs + 5_000 - Date.now());
    await runDurableObjectAlarm(roomStub(channelId));
    expect(await a.client.next('error')).toMatchObject({ code: 'rekey_timeout' });
    expect(await relaySession(joined.ready.sessionId)).toBeUndefined();
    expect((await roomStub(channelId).summary()).sessions).toEqual([]);
    await expect.poll(() => b.client.received.some((m) => m.type === 'member_updated' && m.member.subject === alice.userId && m.member.ssrc === null)).toBe(true);
    joined.keys.wipe();
    await finish(channelId, [a.client, b.client]);
  });

  it("the relay's heartbeat lists the session in rekeyRequested: rekey_required usage_limit, and the rotation clears it", async () => {
    const alice = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId);
    const { client } = await connect(channelId, alice.token);
    const joined = await client.joinVoice({ subject: alice.userId, channelId });
    // A report about keys installed a moment ago is about the keys before them: ignored.
    expect((await heartbeat([joined.ready.sessionId])).status).toBe(200);
    await runDurableObjectAlarm(roomStub(channelId));
    expect(client.drain().filter((m) => m.type === 'rekey_required')).toEqual([]);

    // Later (room time), the same report asks for a rotation; sessions of no room ask nothing.
    await shiftRoomClock(channelId, 60_000);
    expect((await heartbeat([joined.ready.sessionId, 'vs_not_a_session_anywhere'])).status).toBe(200);
    expect(await client.next('rekey_required')).toEqual({ type: 'rekey_required', reason: 'usage_limit' });
    // The relay keeps listing it until it is rotated: asked once only.
    expect((await heartbeat([joined.ready.sessionId])).status).toBe(200);
    const rotated = await client.joinVoice({ subject: alice.userId, channelId });
    expect(rotated.response).toMatchObject({ purpose: 'rotate', sessionId: joined.ready.sessionId });
    expect(client.received.filter((m) => m.type === 'rekey_required')).toHaveLength(1);
    expect((await relaySession(joined.ready.sessionId))?.ssrcs[0]).toBe(rotated.ready.ssrc);
    // A stale report right after the rotation is ignored.
    expect((await heartbeat([joined.ready.sessionId])).status).toBe(200);
    await runDurableObjectAlarm(roomStub(channelId));
    expect(client.drain().filter((m) => m.type === 'rekey_required')).toEqual([]);
    joined.keys.wipe();
    rotated.keys.wipe();
    await finish(channelId, [client]);
  });
});
