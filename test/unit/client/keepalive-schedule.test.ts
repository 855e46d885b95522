import { describe, expect, it } from 'vitest';
import { KeepaliveSchedule } from '../../../shared/client/keepalive-schedule.js';

describe('KeepaliveSchedule', () => {
  it('pings at once, then every 5 s while pongs come back', () => {
    const s = new KeepaliveSchedule();
    expect(s.nextPingAt(100)).toBe(100);
    s.pingSent(100);
    s.pongReceived(130);
    expect(s.nextPingAt(130)).toBe(5100);
    s.pingSent(5100);
    s.pongReceived(5120);
    expect(s.nextPingAt(5120)).toBe(10_100);
    expect(s.probing(9000)).toBe(false);
    expect(s.takeUnreachableReport(9000)).toBe(false);
  });

  it('probes every 500 ms once a pong is 1 s overdue, and reports the relay unreachable once after 2 s of that', () => {
    const s = new KeepaliveSchedule();
    s.pingSent(0);
    s.pongReceived(20);
    s.pingSent(5000); // no pong from here on
    expect(s.nextPingAt(5000)).toBe(6000); // when the pong becomes overdue
    expect(s.nextReportAt(5000)).toBe(8000);
    expect(s.probing(5999)).toBe(false);
    expect(s.probing(6000)).toBe(true);
    expect(s.nextPingAt(6000)).toBe(6000);
    const pings: number[] = [];
    let reportedAt: number | null = null;
    for (let now = 6000; now <= 9000; now += 50) {
      if (s.nextPingAt(now) <= now) {
        s.pingSent(now);
        pings.push(now);
      }
      if (s.takeUnreachableReport(now)) {
        expect(reportedAt).toBeNull();
        reportedAt = now;
      }
    }
    expect(pings.slice(0, 5)).toEqual([6000, 6500, 7000, 7500, 8000]);
    expect(reportedAt).toBe(8000);
    // After the report: slower probing (every 2 s), and no second report.
    expect(pings.filter((t) => t > 8000)).toEqual([]);
    expect(s.nextPingAt(9000)).toBe(10_000);
    expect(s.takeUnreachableReport(20_000)).toBe(false);
    expect(s.nextReportAt(9000)).toBeNull();
  });

  it('pings every 1 s while voice is sent, so a relay that dies mid-call is reported within about 3 s (§5.9); back to 5 s once silent', () => {
    const s = new KeepaliveSchedule();
    s.pingSent(0);
    s.pongReceived(20);
    expect(s.nextPingAt(100)).toBe(5000);
    expect(s.voiceSent(100)).toBe(true); // silent until now: re-arm the timer
    expect(s.voiceSent(120)).toBe(false);
    expect(s.nextPingAt(120)).toBe(1000);
    s.pingSent(1000);
    s.pongReceived(1010);
    s.voiceSent(1900);
    expect(s.nextPingAt(1900)).toBe(2000);
    // The relay dies after the pong at 1010: the ping at 2000 goes unanswered.
    s.pingSent(2000);
    expect(s.nextReportAt(2000)).toBe(5000);
    // Silent for 5 s: the 5 s interval again.
    const quiet = new KeepaliveSchedule();
    quiet.pingSent(0);
    quiet.pongReceived(10);
    quiet.voiceSent(10);
    expect(quiet.nextPingAt(500)).toBe(1000);
    expect(quiet.nextPingAt(5010)).toBe(5000);
    quiet.pingSent(5010);
    quiet.pongReceived(5020);
    expect(quiet.nextPingAt(5020)).toBe(10_010);
  });

  it('ends the outage on any pong and can report the next one', () => {
    const s = new KeepaliveSchedule();
    s.pingSent(0);
    expect(s.takeUnreachableReport(3000)).toBe(true);
    s.pongReceived(3100);
    expect(s.probing(3100)).toBe(false);
    expect(s.nextPingAt(3100)).toBe(5000);
    s.pingSent(5000);
    expect(s.takeUnreachableReport(7999)).toBe(false);
    expect(s.takeUnreachableReport(8000)).toBe(true);
  });

  it('starts over after restart(): ping at once', () => {
    const s = new KeepaliveSchedule();
    s.pingSent(0);
    s.takeUnreachableReport(5000);
    s.restart();
    expect(s.nextPingAt(6000)).toBe(6000);
    expect(s.probing(6000)).toBe(false);
  });

  it('refuses non-positive options', () => {
    expect(() => new KeepaliveSchedule({ intervalMs: 0 })).toThrow(RangeError);
  });
});
