import { describe, expect, it } from 'vitest';
import { dueDeadlines, nextAlarmAt, roomDeadlines, ROOM_CHECK_INTERVAL_MS, TOKEN_EXPIRY_NOTICE_MS } from '../../../../control/src/room/room-alarm.js';
import { newSocketAttachment, type SocketAttachment } from '../../../../control/src/room/room-state.js';

/** Sessions in these tests are due for rotation at a fixed instant. */
const rotateKeysAt = () => 3_000_000;
const identity = { kind: 'account' as const, subject: 'usr', name: 'n', loginId: 'ses', tokenExpiresAt: 1_000_000, expiryNoticeSent: false, permissions: 3, role: null };

describe('room alarm deadlines (§5.14)', () => {
  it('gathers every deadline and fires for the earliest', () => {
    const pending = newSocketAttachment('a', 0, 5_000);
    const authed: SocketAttachment = { ...newSocketAttachment('b', 0, 5_000), identity };
    const deadlines = roomDeadlines({ sockets: [pending, authed], sessions: [], revocations: [], pendingExchanges: [['b', 10_000]], lastCheckAt: 0, rotateKeysAt });
    expect(deadlines.map((d) => [d.kind, d.at])).toEqual([
      ['auth_timeout', 5_000],
      ['token_expiring', 1_000_000 - TOKEN_EXPIRY_NOTICE_MS],
      ['token_expired', 1_000_000],
      ['exchange_timeout', 10_000],
    ]);
    expect(nextAlarmAt(deadlines)).toBe(5_000);
    expect(dueDeadlines(deadlines, 10_000).map((d) => d.kind)).toEqual(['auth_timeout', 'exchange_timeout']);
  });

  it('checks the room every 30 s while it has sessions (longer than the ~10 s after which an idle object is evicted), and has no alarm when nothing is pending', () => {
    expect(nextAlarmAt(roomDeadlines({ sockets: [], sessions: [], revocations: [], pendingExchanges: [], lastCheckAt: 0, rotateKeysAt }))).toBeNull();
    const session = { sessionId: 'vs', resumableUntil: 50_000, installed: true, keysExpireAt: 4_000_000 } as never;
    const deadlines = roomDeadlines({ sockets: [], sessions: [session], revocations: [], pendingExchanges: [], lastCheckAt: 1, rotateKeysAt });
    expect(deadlines.map((d) => d.kind)).toEqual(['resume_window_over', 'keys_expired', 'rotate_keys', 'room_check']);
    expect(nextAlarmAt(deadlines)).toBe(1 + ROOM_CHECK_INTERVAL_MS);
    expect(ROOM_CHECK_INTERVAL_MS).toBeGreaterThan(10_000);
  });

  it('asks for new keys at their rotation age, then waits for the rotation until its deadline, pausing while one is exchanged (§5.8)', () => {
    const base = { sessionId: 'vs', socketId: 's', resumableUntil: null, installed: true, keysExpireAt: 4_000_000 };
    const kinds = (session: object, pendingExchanges: [string, number][] = []) =>
      roomDeadlines({ sockets: [], sessions: [session as never], revocations: [], pendingExchanges, lastCheckAt: 1, rotateKeysAt })
        .filter((d) => d.kind === 'rotate_keys' || d.kind === 'rekey_timeout')
        .map((d) => [d.kind, d.at]);
    expect(kinds({ ...base, rekey: null })).toEqual([['rotate_keys', 3_000_000]]);
    // A client's own request forces nothing: the rotation age still applies.
    expect(kinds({ ...base, rekey: { reason: 'requested', deadline: null } })).toEqual([['rotate_keys', 3_000_000]]);
    expect(kinds({ ...base, rekey: { reason: 'key_age', deadline: 3_030_000 } })).toEqual([['rekey_timeout', 3_030_000]]);
    expect(kinds({ ...base, rekey: { reason: 'usage_limit', deadline: 3_030_000 } }, [['s', 3_040_000]])).toEqual([]);
    // Not installed yet: nothing to rotate.
    expect(kinds({ ...base, installed: false, rekey: null })).toEqual([]);
  });
});
