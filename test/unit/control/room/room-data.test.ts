/**
 * The rooms' shared tables on the real libSQL engine: SSRCs unique per relay run whoever
 * allocates them, kept through a cooldown after release; the (login, channel) pairs the login
 * fan-out reads.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { voiceLogins, voiceSsrcs } from '../../../../control/src/db/schema.js';
import { closeLoginSockets, forgetRoomLogin, recordRoomLogin, roomsOfLogins } from '../../../../control/src/room/login-sockets.js';
import { allocateSsrc, releaseSsrc, SsrcAllocationError, SSRC_ATTEMPTS } from '../../../../control/src/room/ssrc-allocation.js';
import { openMigratedTestDatabase, type TestDatabase } from '../../../support/control-database.js';

let t: TestDatabase;
beforeEach(async () => {
  t = await openMigratedTestDatabase();
});
afterEach(() => t.close());

const COOLDOWN = 60_000;

function request(sessionId: string, draws: number[], now = 1_000, extra: { relayId?: string; bootId?: string } = {}) {
  let i = 0;
  return { relayId: extra.relayId ?? 'relay-1', bootId: extra.bootId ?? 'boot-1', sessionId, channelId: 'chn_1', now, cooldownMs: COOLDOWN, randomSsrc: () => draws[i++ % draws.length]! };
}

describe('SSRC allocation', () => {
  it('gives an SSRC once per relay run and draws again on a collision', async () => {
    expect(await allocateSsrc(t.db, request('vs_a', [7]))).toBe(7);
    expect(await allocateSsrc(t.db, request('vs_b', [7, 8]))).toBe(8);
    // Another relay, or the same relay after a restart, has its own SSRC space.
    expect(await allocateSsrc(t.db, request('vs_c', [7], 1_000, { relayId: 'relay-2' }))).toBe(7);
    expect(await allocateSsrc(t.db, request('vs_d', [7], 1_000, { bootId: 'boot-2' }))).toBe(7);
    await expect(allocateSsrc(t.db, request('vs_e', [7, 8]))).rejects.toThrow(SsrcAllocationError);
  });

  it('concurrent allocations of the same draw never both win', async () => {
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => allocateSsrc(t.db, request(`vs_${i}`, [0xffffffff, 5, 6, 7, 8, 9]))));
    const won = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value);
    expect(new Set(won).size).toBe(won.length);
    expect(won).toContain(0xffffffff);
  });

  it('a released SSRC stays taken for the cooldown, then is handed out again and old rows are pruned', async () => {
    await allocateSsrc(t.db, request('vs_a', [7]));
    await releaseSsrc(t.db, 'relay-1', 'boot-1', 7, 'vs_a', 2_000);
    await releaseSsrc(t.db, 'relay-1', 'boot-1', 7, 'vs_other', 2_000); // not its session: no effect
    await expect(allocateSsrc(t.db, request('vs_b', [7], 2_000 + COOLDOWN - 1))).rejects.toThrow(SsrcAllocationError);
    expect(await allocateSsrc(t.db, request('vs_b', [7], 2_001 + COOLDOWN))).toBe(7);
    const rows = await t.db.select().from(voiceSsrcs);
    expect(rows).toEqual([expect.objectContaining({ ssrc: 7, sessionId: 'vs_b', releasedAt: null })]);

    await releaseSsrc(t.db, 'relay-1', 'boot-1', 7, 'vs_b', 10_000_000);
    await allocateSsrc(t.db, request('vs_c', [9], 10_000_000 + COOLDOWN + 1));
    expect((await t.db.select().from(voiceSsrcs)).map((r) => r.ssrc)).toEqual([9]);
  });

  it('gives up after a bounded number of draws', () => {
    expect(SSRC_ATTEMPTS).toBeLessThanOrEqual(8);
  });
});

describe('login → rooms', () => {
  it('records, lists and forgets which rooms hold a login', async () => {
    await recordRoomLogin(t.db, 'ses_a', 'chn_1', 1);
    await recordRoomLogin(t.db, 'ses_a', 'chn_2', 1);
    await recordRoomLogin(t.db, 'ses_a', 'chn_2', 2);
    await recordRoomLogin(t.db, 'ses_b', 'chn_3', 1);
    expect(await roomsOfLogins(t.db, ['ses_a'])).toEqual(['chn_1', 'chn_2']);
    expect(await roomsOfLogins(t.db, ['ses_a', 'ses_b'])).toEqual(['chn_1', 'chn_2', 'chn_3']);
    expect(await roomsOfLogins(t.db, [])).toEqual([]);
    await forgetRoomLogin(t.db, 'ses_a', 'chn_1');
    expect(await roomsOfLogins(t.db, ['ses_a'])).toEqual(['chn_2']);
  });

  it('closeLoginSockets asks exactly the rooms of the ended logins and forgets them', async () => {
    await recordRoomLogin(t.db, 'ses_a', 'chn_1', 1);
    await recordRoomLogin(t.db, 'ses_a', 'chn_2', 1);
    await recordRoomLogin(t.db, 'ses_b', 'chn_2', 1);
    const asked: Array<[string, string[]]> = [];
    const rooms = { room: (channelId: string) => ({ endLogins: async (ids: string[]) => (asked.push([channelId, ids]), 2) }) };
    expect(await closeLoginSockets(t.db, rooms, ['ses_a'])).toBe(4);
    expect(asked).toEqual([
      ['chn_1', ['ses_a']],
      ['chn_2', ['ses_a']],
    ]);
    expect((await t.db.select().from(voiceLogins)).map((r) => r.loginId)).toEqual(['ses_b']);
  });
});
