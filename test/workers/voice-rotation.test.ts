/**
 * Rotation on a client's request (docs/protocol.md §5.8): request_rekey, rekey_required, a
 * fresh exchange with purpose `rotate` under the same session id and a new SSRC, installed on
 * the real relay as a rotation (its session list shows the new SSRC), announced to listeners
 * before the member is told to use it.
 */
import { beforeEach, expect, it } from 'vitest';
import { createTestAccount } from '../support/test-principals.js';
import { describeWithDatabase, workerConfig, workerDatabase } from './support/control-api.js';
import { connect, createVoiceChannel, registerTestRelay, relaySession, roomStub } from './support/voice.js';

const db = () => workerDatabase();
const config = () => workerConfig();

describeWithDatabase('rotation (§5.8)', () => {
  beforeEach(async () => {
    await registerTestRelay(db());
  });

  it('request_rekey, then a rotate exchange: same session, a new SSRC on the relay, listeners told first', async () => {
    const alice = await createTestAccount(db(), config());
    const bob = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId, { members: [{ userId: bob.userId }] });
    const a = await connect(channelId, alice.token);
    const b = await connect(channelId, bob.token);
    b.client.send({ type: 'request_rekey', id: 'early' });
    expect(await b.client.next('error')).toMatchObject({ code: 'not_in_voice', replyTo: 'early' });
    const joined = await b.client.joinVoice({ subject: bob.userId, channelId });
    await a.client.next('member_joined');
    await a.client.next('member_updated');

    b.client.send({ type: 'request_rekey', id: 'r1' });
    expect(await b.client.next('rekey_required')).toEqual({ type: 'rekey_required', replyTo: 'r1', reason: 'requested' });
    // The profile is the session's: a rotation cannot change it.
    b.client.send({ type: 'key_exchange_init', id: 'p', clientPublicKey: 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo', profile: 'aes256gcm' });
    expect(await b.client.next('error')).toMatchObject({ code: 'invalid_message', field: 'profile', replyTo: 'p' });
    b.client.drain();
    const rotated = await b.client.joinVoice({ subject: bob.userId, channelId });
    expect(rotated.response).toMatchObject({ purpose: 'rotate', sessionId: joined.ready.sessionId, relayId: joined.ready.relayId, profile: joined.ready.profile });
    expect(rotated.ready).toMatchObject({ purpose: 'rotate', sessionId: joined.ready.sessionId, udpEndpoint: joined.ready.udpEndpoint, ssrc: rotated.response.ssrc });
    expect(rotated.ready.ssrc).not.toBe(joined.ready.ssrc);
    expect(rotated.ready.keysExpireAt).toBeGreaterThanOrEqual(joined.ready.keysExpireAt);
    expect(rotated.transcriptHash).not.toBe(joined.transcriptHash);

    // The relay holds the session under the new SSRC (the old one may overlap for a while, §6.5).
    const onRelay = await relaySession(joined.ready.sessionId);
    expect(onRelay?.ssrcs).toContain(rotated.ready.ssrc);
    // …and with the new keys' expiry, set by the rotate request itself (§8.5: one signed request).
    expect(onRelay?.expiresAt).toBe(rotated.ready.keysExpireAt);
    // Alice learns the new SSRC; on Bob's socket the announcement came before voice_ready.
    expect((await a.client.next('member_updated')).member).toMatchObject({ subject: bob.userId, ssrc: rotated.ready.ssrc });
    const order = b.client.received.map((m) => (m.type === 'member_updated' ? `updated:${m.member.ssrc}` : m.type));
    expect(order.indexOf(`updated:${rotated.ready.ssrc}`)).toBeGreaterThan(order.indexOf('voice_ready'));
    expect(order.indexOf(`updated:${rotated.ready.ssrc}`)).toBeLessThan(order.lastIndexOf('voice_ready'));

    // Without a new request, an init on a socket in voice is still refused.
    b.client.send({ type: 'key_exchange_init', id: 'again', clientPublicKey: 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo' });
    expect(await b.client.next('error')).toMatchObject({ code: 'already_in_voice', replyTo: 'again' });
    // The new resume token is the one that works.
    b.client.close(4999);
    await a.client.next('member_updated');
    const back = await connect(channelId, bob.token, { resume: { sessionId: joined.ready.sessionId, resumeToken: rotated.ready.resumeToken } });
    expect(back.authenticated).toMatchObject({ resumed: true, voice: { ssrc: rotated.ready.ssrc } });
    joined.keys.wipe();
    rotated.keys.wipe();
    // Leave and close, and let the room finish with both sockets before the file ends (a room
    // still logging after the file's teardown is an error of the run).
    back.client.send({ type: 'leave' });
    expect((await back.client.closed()).code).toBe(1000);
    expect(await relaySession(joined.ready.sessionId)).toBeUndefined();
    a.client.close();
    await a.client.closed();
    await expect.poll(async () => (await roomStub(channelId).summary()).sockets).toBe(0);
  });
});
