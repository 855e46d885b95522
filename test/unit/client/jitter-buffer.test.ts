import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JitterBuffer, type ReleasedFrame } from '../../../shared/client/jitter-buffer.js';

const packet = (sequenceNumber: number, timestamp = (sequenceNumber * 960) >>> 0) => ({
  sequenceNumber,
  timestamp,
  payload: Uint8Array.of(sequenceNumber & 0xff, sequenceNumber >> 8),
});
const sequences = (frames: readonly ReleasedFrame[]) => frames.map((f) => f.sequenceNumber);

describe('JitterBuffer', () => {
  it('releases packets that arrive in order at once, with nothing lost', () => {
    const buffer = new JitterBuffer();
    const out: ReleasedFrame[] = [];
    for (let i = 0; i < 5; i++) {
      expect(buffer.push(packet(100 + i), i * 20)).toBe('buffered');
      out.push(...buffer.release(i * 20));
    }
    expect(sequences(out)).toEqual([100, 101, 102, 103, 104]);
    expect(out.every((f) => f.lostBefore === 0)).toBe(true);
    expect(out.map((f) => f.extendedSequence)).toEqual([100, 101, 102, 103, 104]);
    expect(buffer.stats()).toMatchObject({ received: 5, released: 5, lost: 0, late: 0, duplicates: 0, buffered: 0 });
    expect(buffer.nextDeadline()).toBeNull();
  });

  it('puts a reordered packet back in its place when it comes within the wait', () => {
    const buffer = new JitterBuffer({ maxWaitMs: 60 });
    buffer.push(packet(10), 0);
    expect(sequences(buffer.release(0))).toEqual([10]);
    buffer.push(packet(12), 20);
    expect(buffer.release(20)).toEqual([]); // 11 is missing: wait
    expect(buffer.nextDeadline()).toBe(80);
    buffer.push(packet(13), 40);
    expect(buffer.release(40)).toEqual([]);
    buffer.push(packet(11), 50);
    const out = buffer.release(50);
    expect(sequences(out)).toEqual([11, 12, 13]);
    expect(out.every((f) => f.lostBefore === 0)).toBe(true);
    expect(buffer.stats()).toMatchObject({ lost: 0, late: 0, released: 4 });
  });

  it('gives a gap up after the wait, reports it with the next frame, and drops the straggler as late', () => {
    const buffer = new JitterBuffer({ maxWaitMs: 60 });
    buffer.push(packet(1), 0);
    buffer.release(0);
    buffer.push(packet(4), 20); // 2 and 3 missing
    expect(buffer.release(79)).toEqual([]);
    const out = buffer.release(80);
    expect(sequences(out)).toEqual([4]);
    expect(out[0]!.lostBefore).toBe(2);
    expect(buffer.push(packet(3), 90)).toBe('late');
    expect(buffer.push(packet(2), 91)).toBe('late');
    expect(buffer.release(200)).toEqual([]);
    expect(buffer.stats()).toMatchObject({ received: 2, released: 2, lost: 2, late: 2, duplicates: 0 });
  });

  it('waits from the first packet past the gap, however later packets were reordered', () => {
    const buffer = new JitterBuffer({ maxWaitMs: 50 });
    buffer.push(packet(0), 0);
    buffer.release(0);
    buffer.push(packet(3), 10);
    buffer.push(packet(2), 30);
    expect(buffer.nextDeadline()).toBe(60);
    const out = buffer.release(60);
    expect(sequences(out)).toEqual([2, 3]);
    expect(out[0]!.lostBefore).toBe(1);
  });

  it('tells duplicates (held or just released) from late packets', () => {
    const buffer = new JitterBuffer();
    buffer.push(packet(7), 0);
    buffer.release(0);
    expect(buffer.push(packet(7), 1)).toBe('duplicate'); // released already
    buffer.push(packet(9), 2);
    expect(buffer.push(packet(9), 3)).toBe('duplicate'); // held
    expect(buffer.stats().duplicates).toBe(2);
    expect(buffer.stats().received).toBe(2);
  });

  it('follows the sequence number across its wrap from 65535 to 0', () => {
    const buffer = new JitterBuffer({ maxWaitMs: 40 });
    const out: ReleasedFrame[] = [];
    for (const [i, seq] of [65533, 65534, 65535, 1, 0, 2].entries()) {
      buffer.push(packet(seq), i * 20);
      out.push(...buffer.release(i * 20));
    }
    expect(sequences(out)).toEqual([65533, 65534, 65535, 0, 1, 2]);
    expect(out.map((f) => f.extendedSequence)).toEqual([65533, 65534, 65535, 65536, 65537, 65538]);
    expect(buffer.stats()).toMatchObject({ lost: 0, late: 0 });
  });

  it('gives the oldest gap up at once when more than `capacity` packets wait', () => {
    const buffer = new JitterBuffer({ maxWaitMs: 10_000, capacity: 3 });
    buffer.push(packet(0), 0);
    buffer.release(0);
    for (let seq = 2; seq <= 4; seq++) buffer.push(packet(seq), seq);
    expect(buffer.release(5)).toEqual([]); // three wait, within capacity
    buffer.push(packet(5), 6);
    expect(buffer.nextDeadline()).toBe(-Infinity);
    const out = buffer.release(6);
    expect(sequences(out)).toEqual([2, 3, 4, 5]);
    expect(out[0]!.lostBefore).toBe(1);
  });

  it('takes a jump beyond maxDropout as a restart: what was held goes first, then the new numbering', () => {
    const buffer = new JitterBuffer({ maxWaitMs: 60, maxDropout: 3000 });
    buffer.push(packet(100), 0);
    buffer.release(0);
    buffer.push(packet(102), 20); // 101 missing, waiting
    expect(buffer.push(packet(20_000), 40)).toBe('restarted');
    const out = buffer.release(40);
    expect(sequences(out)).toEqual([102, 20_000]);
    expect(out.every((f) => f.lostBefore === 0)).toBe(true);
    buffer.push(packet(20_001), 60);
    expect(sequences(buffer.release(60))).toEqual([20_001]);
    expect(buffer.stats()).toMatchObject({ restarts: 1, lost: 0, released: 4 });
  });

  it('estimates interarrival jitter as RFC 3550 A.8 does', () => {
    // Packets 20 ms apart in timestamp (960 at 48 kHz) arriving with transit deviations.
    const arrivals = [0, 22, 38, 61, 80, 103];
    const buffer = new JitterBuffer();
    let expected = 0;
    let lastTransit: number | null = null;
    arrivals.forEach((arrival, i) => {
      buffer.push(packet(i, i * 960), arrival);
      const transit = arrival * 48 - i * 960;
      if (lastTransit !== null) expected += (Math.abs(transit - lastTransit) - expected) / 16;
      lastTransit = transit;
    });
    expect(buffer.stats().jitterTimestampUnits).toBe(Math.floor(expected));
    expect(buffer.stats().jitterMs).toBeCloseTo(expected / 48, 9);
    expect(buffer.stats().jitterMs).toBeGreaterThan(0);
  });

  it('reports no jitter for a perfectly paced stream, across a timestamp wrap', () => {
    const buffer = new JitterBuffer();
    const start = 0xffffffff - 960 * 2;
    for (let i = 0; i < 6; i++) buffer.push(packet(i, (start + i * 960) >>> 0), i * 20);
    expect(buffer.stats().jitterMs).toBeCloseTo(0, 9);
  });

  it('refuses malformed packets and options with RangeError/TypeError', () => {
    const buffer = new JitterBuffer();
    expect(() => buffer.push({ sequenceNumber: 65536, timestamp: 0, payload: new Uint8Array() }, 0)).toThrow(RangeError);
    expect(() => buffer.push({ sequenceNumber: 1, timestamp: -1, payload: new Uint8Array() }, 0)).toThrow(RangeError);
    expect(() => buffer.push({ sequenceNumber: 1, timestamp: 0, payload: [] as unknown as Uint8Array }, 0)).toThrow(TypeError);
    expect(() => buffer.push(packet(1), Number.NaN)).toThrow(RangeError);
    expect(() => new JitterBuffer({ capacity: 0 })).toThrow(RangeError);
    expect(() => new JitterBuffer({ maxWaitMs: -1 })).toThrow(RangeError);
    expect(() => new JitterBuffer({ maxDropout: 40_000 })).toThrow(RangeError);
  });

  it('property: whatever the order and loss, frames come out once each, in order, and every number is accounted for', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.array(fc.record({ drop: fc.boolean(), delay: fc.integer({ min: 0, max: 120 }), dup: fc.boolean() }), { minLength: 1, maxLength: 200 }),
        (start, plan) => {
          const buffer = new JitterBuffer({ maxWaitMs: 60, capacity: 50 });
          // Packet i is sent at 20·i ms and arrives `delay` later (reordering), unless dropped.
          const arrivals = plan
            .flatMap((p, i) => (p.drop ? [] : p.dup ? [{ i, at: i * 20 + p.delay }, { i, at: i * 20 + p.delay + 1 }] : [{ i, at: i * 20 + p.delay }]))
            .sort((a, b) => a.at - b.at || a.i - b.i);
          const out: ReleasedFrame[] = [];
          for (const { i, at } of arrivals) {
            out.push(...buffer.release(at));
            buffer.push(packet((start + i) & 0xffff), at);
            out.push(...buffer.release(at));
          }
          out.push(...buffer.flush());
          const ext = out.map((f) => f.extendedSequence);
          for (let k = 1; k < ext.length; k++) if (!(ext[k]! > ext[k - 1]!)) return false;
          const stats = buffer.stats();
          const firstArrived = arrivals[0];
          if (firstArrived === undefined) return out.length === 0;
          // Everything between the first packet that arrived and the last released is either
          // released or lost, exactly once.
          if (out.length === 0) return false;
          const span = ext[ext.length - 1]! - ext[0]! + 1;
          const lostInside = out.slice(1).reduce((n, f) => n + f.lostBefore, 0);
          return span === out.length + lostInside && stats.released === out.length && stats.buffered === 0 &&
            stats.received + stats.duplicates + stats.late === arrivals.length;
        },
      ),
      { numRuns: 300, seed: 0x5eed },
    );
  });
});
