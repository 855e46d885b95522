import { describe, expect, it } from 'vitest';
import { buildRoster, presenceEvents, SpeakingLimiter } from '../../../../control/src/room/presence.js';
import { newSocketAttachment, type SocketAttachment, type VoiceSessionRecord } from '../../../../control/src/room/room-state.js';

function socket(socketId: string, subject: string | null, extra: Partial<SocketAttachment> = {}): SocketAttachment {
  const base = newSocketAttachment(socketId, 0, 5000);
  return {
    ...base,
    identity:
      subject === null
        ? null
        : { kind: 'account', subject, name: subject.toUpperCase(), loginId: `ses-${subject}`, tokenExpiresAt: 1e13, expiryNoticeSent: false, permissions: 3, role: 'member' },
    ...extra,
  };
}

function session(subject: string, socketId: string | null, extra: Partial<VoiceSessionRecord> = {}): VoiceSessionRecord {
  return {
    v: 1,
    sessionId: `vs-${subject}`,
    kind: 'account',
    subject,
    name: subject.toUpperCase(),
    loginId: `ses-${subject}`,
    relay: { relayId: 'r', bootId: '', apiUrl: 'http://r/', publicKey: 'k', region: 'x' },
    ssrc: 42,
    profile: 'aes128gcm',
    installed: true,
    udpEndpoint: { host: '127.0.0.1', port: 1 },
    canSpeak: true,
    canListen: true,
    muted: false,
    deafened: false,
    createdAt: 0,
    keysExpireAt: 1,
    resumeTokenHash: 'h',
    socketId,
    resumableUntil: socketId === null ? 100 : null,
    ...extra,
  };
}

describe('roster (§5.6)', () => {
  it('lists authenticated subjects once, with the voice session of each, and resumable sessions as reconnecting', () => {
    const roster = buildRoster({
      sockets: [socket('s1', 'bob', { speaking: true }), socket('s2', 'bob'), socket('s3', null), socket('s4', 'alice')],
      sessions: [session('bob', 's1'), session('carol', null, { ssrc: 7 }), session('dave', 's9', { installed: false })],
      serverMuted: new Set(['alice']),
    });
    expect([...roster.values()]).toEqual([
      { subject: 'alice', name: 'ALICE', ssrc: null, muted: false, deafened: false, speaking: false, serverMuted: true, connection: 'connected' },
      { subject: 'bob', name: 'BOB', ssrc: 42, muted: false, deafened: false, speaking: true, serverMuted: false, connection: 'connected' },
      { subject: 'carol', name: 'CAROL', ssrc: 7, muted: false, deafened: false, speaking: false, serverMuted: false, connection: 'reconnecting' },
    ]);
  });

  it('never shows a muted member speaking', () => {
    const roster = buildRoster({ sockets: [socket('s1', 'bob', { speaking: true })], sessions: [session('bob', 's1', { muted: true })], serverMuted: new Set() });
    expect(roster.get('bob')?.speaking).toBe(false);
  });

  it('events are the difference: joined, updated, left with the given reason', () => {
    const before = buildRoster({ sockets: [socket('s1', 'bob'), socket('s2', 'alice')], sessions: [], serverMuted: new Set() });
    const after = buildRoster({ sockets: [socket('s1', 'bob'), socket('s3', 'carol')], sessions: [session('bob', 's1')], serverMuted: new Set() });
    expect(presenceEvents(before, after, new Map([['alice', 'kicked']]))).toEqual([
      { type: 'member_updated', member: expect.objectContaining({ subject: 'bob', ssrc: 42 }) },
      { type: 'member_joined', member: expect.objectContaining({ subject: 'carol' }) },
      { type: 'member_left', subject: 'alice', reason: 'kicked' },
    ]);
    expect(presenceEvents(after, after)).toEqual([]);
  });
});

describe('speaking cap', () => {
  it('lets 5 changes a second through and says how long the next must wait', () => {
    const limiter = new SpeakingLimiter(5);
    expect(limiter.delayFor('bob', 0)).toBe(0);
    limiter.sent('bob', 0);
    expect(limiter.delayFor('bob', 50)).toBe(150);
    expect(limiter.delayFor('bob', 200)).toBe(0);
    expect(limiter.delayFor('alice', 50)).toBe(0);
  });
});
