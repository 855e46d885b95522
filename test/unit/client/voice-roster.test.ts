/**
 * The client's roster (docs/protocol.md §5.6): events applied in order, and every SSRC a frame
 * can arrive under names its speaker — the current one, and the previous one for the rotation
 * overlap (§6.5).
 */
import { describe, expect, it } from 'vitest';
import { VoiceRoster } from '../../../shared/client/voice-roster.js';
import type { RosterEntry } from '../../../shared/client/voice-messages.js';

const entry = (subject: string, ssrc: number | null, extra: Partial<RosterEntry> = {}): RosterEntry => ({
  subject,
  name: subject.slice(4),
  ssrc,
  muted: false,
  deafened: false,
  speaking: false,
  serverMuted: false,
  connection: 'connected',
  ...extra,
});

describe('VoiceRoster', () => {
  it('maps SSRCs to members from the roster and the events', () => {
    const roster = new VoiceRoster();
    roster.reset([entry('usr_alice', 10), entry('usr_bob', null)]);
    expect(roster.memberBySsrc(10)?.subject).toBe('usr_alice');
    roster.updated(entry('usr_bob', 20)); // bob joined voice
    roster.joined(entry('usr_carol', 30));
    expect(roster.members().map((m) => m.subject)).toEqual(['usr_alice', 'usr_bob', 'usr_carol']);
    expect([10, 20, 30].map((s) => roster.subjectBySsrc(s))).toEqual(['usr_alice', 'usr_bob', 'usr_carol']);
    expect(roster.memberBySsrc(99)).toBeUndefined();
  });

  it('keeps naming a speaker by its previous SSRC after a rotation, until someone else takes it', () => {
    const roster = new VoiceRoster();
    roster.reset([entry('usr_alice', 10)]);
    const change = roster.updated(entry('usr_alice', 11, { speaking: true }));
    expect(change).toMatchObject({ kind: 'updated', previous: { ssrc: 10 } });
    expect(roster.memberBySsrc(10)?.ssrc).toBe(11); // frames in flight under the old SSRC
    expect(roster.memberBySsrc(11)?.subject).toBe('usr_alice');
    roster.joined(entry('usr_bob', 10)); // the relay handed 10 out again
    expect(roster.subjectBySsrc(10)).toBe('usr_bob');
  });

  it('forgets a member who left, but still says whose SSRC it was', () => {
    const roster = new VoiceRoster();
    roster.reset([entry('usr_alice', 10), entry('usr_bob', 20)]);
    expect(roster.left('usr_alice', 'left')).toMatchObject({ kind: 'left', member: { subject: 'usr_alice' }, reason: 'left' });
    expect(roster.get('usr_alice')).toBeUndefined();
    expect(roster.memberBySsrc(10)).toBeUndefined();
    expect(roster.subjectBySsrc(10)).toBe('usr_alice');
    expect(roster.left('usr_nobody', 'kicked')).toMatchObject({ kind: 'left', member: undefined });
  });

  it('a reset (a reconnect) replaces the members and remembers the SSRCs of before', () => {
    const roster = new VoiceRoster();
    roster.reset([entry('usr_alice', 10)]);
    roster.reset([entry('usr_bob', 20)]);
    expect(roster.members().map((m) => m.subject)).toEqual(['usr_bob']);
    expect(roster.subjectBySsrc(10)).toBe('usr_alice');
  });

  it('remembers a bounded number of retired SSRCs', () => {
    const roster = new VoiceRoster();
    roster.reset([entry('usr_alice', 0)]);
    for (let ssrc = 1; ssrc <= 1000; ssrc++) roster.updated(entry('usr_alice', ssrc));
    expect(roster.subjectBySsrc(1000)).toBe('usr_alice');
    expect(roster.subjectBySsrc(999)).toBe('usr_alice');
    expect(roster.subjectBySsrc(0)).toBeUndefined();
  });
});
