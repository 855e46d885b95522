/**
 * Case 23 of ../shared/ABUSE-CASES.md inside workerd: a room whose database cannot be reached
 * (docs/protocol.md §5.9) fails new joins closed with the documented error `unavailable`
 * (§5.12), not `internal_error`, and keeps nothing: no pending exchange, no voice session, no
 * session on the relay. The end-to-end run with the real libSQL server stopped is
 * test/e2e/voice-control-plane-down.test.ts.
 *
 * The room is pointed at a database address nothing listens on (ChannelRoom.useDatabase), so
 * every query fails as it does when the server is down.
 */
import { beforeEach, expect, it } from 'vitest';
import { runInDurableObject } from 'cloudflare:test';
import { openDatabase } from '../../control/src/db/client.js';
import type { ChannelRoom } from '../../control/src/room/channel-room.js';
import { generateEphemeralKeyPair } from '../../shared/keys/index.js';
import { encodeBase64Url } from '../../shared/relay-api/base64url.js';
import { createTestAccount } from '../support/test-principals.js';
import type { VoiceRoomClient } from '../support/voice-room-client.js';
import { describeWithDatabase, workerConfig, workerDatabase } from './support/control-api.js';
import { connect, createVoiceChannel, openVoiceSocket, registerTestRelay, relayApi, roomStub } from './support/voice.js';

const db = () => workerDatabase();
const config = () => workerConfig();

/** Port 9 (discard) on loopback: nothing listens, the connection is refused. */
const UNREACHABLE_DATABASE = { url: 'http://127.0.0.1:9/', authToken: undefined };

/** Closes the sockets and waits until the room has seen them go (its last log lines included). */
async function finish(channelId: string, clients: VoiceRoomClient[]): Promise<void> {
  for (const client of clients) {
    client.close();
    await client.closed();
  }
  await expect.poll(async () => (await roomStub(channelId).summary()).sockets).toBe(0);
}

async function cutDatabase(channelId: string): Promise<void> {
  await runInDurableObject(roomStub(channelId), (room: ChannelRoom) => {
    room.useDatabase(openDatabase(UNREACHABLE_DATABASE));
  });
}

describeWithDatabase('case 23: the room with its database unreachable', () => {
  beforeEach(async () => {
    await registerTestRelay(db());
  });

  it('case 23: key_exchange_init is answered unavailable, and nothing is kept in the room or on the relay', async () => {
    const alice = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId);
    const { client } = await connect(channelId, alice.token);
    await cutDatabase(channelId);
    const relayBefore = (await relayApi().listSessions()).sessions.filter((s) => s.channelId === channelId);

    client.send({ type: 'key_exchange_init', id: 'k1', clientPublicKey: encodeBase64Url(generateEphemeralKeyPair().publicKey) });
    const refused = await client.next(['error', 'key_exchange_response']);
    expect(refused).toMatchObject({ type: 'error', code: 'unavailable', replyTo: 'k1' });
    // The message is the fixed sentence: no address, no driver text.
    expect(JSON.stringify(refused)).not.toMatch(/127\.0\.0\.1|fetch|libsql|hrana|sql/i);

    const summary = await roomStub(channelId).summary();
    expect(summary.pendingExchanges).toBe(0);
    expect(summary.sessions).toEqual([]);
    expect(relayBefore).toEqual([]);
    expect((await relayApi().listSessions()).sessions.filter((s) => s.channelId === channelId)).toEqual([]);
    // The socket stays open for a retry.
    expect(client.isClosed).toBe(false);
    await finish(channelId, [client]);
  });

  it('case 23: authenticate is answered unavailable; the socket may authenticate again once the database is back', async () => {
    const alice = await createTestAccount(db(), config());
    const channelId = await createVoiceChannel(db(), alice.userId);
    // One socket first, so the room exists and has its channel.
    const { client: first } = await connect(channelId, alice.token);
    await cutDatabase(channelId);

    const { client } = await openVoiceSocket(channelId);
    client!.send({ type: 'authenticate', id: 'a1', token: alice.token });
    expect(await client!.next(['error', 'authenticated'])).toMatchObject({ type: 'error', code: 'unavailable', replyTo: 'a1' });

    // The database is back: the same socket authenticates.
    await runInDurableObject(roomStub(channelId), (room: ChannelRoom) => {
      room.useDatabase(db());
    });
    client!.send({ type: 'authenticate', id: 'a2', token: alice.token });
    expect(await client!.next(['error', 'authenticated'])).toMatchObject({ type: 'authenticated', replyTo: 'a2', subject: alice.userId });
    await finish(channelId, [client!, first]);
  });
});
