/**
 * shared/client/interarrival-jitter.ts: RFC 3550 §6.4.1's J += (|D(i-1,i)| − J)/16, the one
 * implementation the SDK's jitter buffer and the load test share. Known answers worked by hand
 * from the formula (every value is exact in binary, so they compare with toBe), the RTP timestamp
 * wrap, and a property check against Appendix A.8's code read literally, in 32-bit int arithmetic.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InterarrivalJitter, RTP_TIMESTAMP_MODULUS } from '../../../shared/client/interarrival-jitter.js';

// 8 kHz audio in 20 ms packets: timestamps 160 apart. Arrivals on the receiver's clock, in the
// same units, with transit times 1000, 1016, 1000, 1000, 1008:
//   |D| = 16: J = 0 + (16 − 0)/16                = 1
//   |D| = 16: J = 1 + (16 − 1)/16                = 1.9375
//   |D| =  0: J = 1.9375 + (0 − 1.9375)/16       = 1.81640625
//   |D| =  8: J = 1.81640625 + (8 − 1.81640625)/16 = 2.202880859375
// and a reception report carries (u_int32) J = 2 (A.8).
const SEND_STEPS = [0, 160, 320, 480, 640];
const ARRIVALS = [1000, 1176, 1320, 1480, 1648];
const KNOWN_J = [0, 1, 1.9375, 1.81640625, 2.202880859375];

/** RFC 3550 A.8 as printed: `int` transit and d, the estimate in floating point. */
function a8Jitter(packets: ReadonlyArray<readonly [timestamp: number, arrival: number]>): number {
  let transitPrevious = 0;
  let jitter = 0;
  packets.forEach(([ts, arrival], i) => {
    const transit = (arrival - ts) | 0;
    let d = (transit - transitPrevious) | 0;
    transitPrevious = transit;
    if (d < 0) d = -d;
    // The RFC's state starts with the first packet's transit; the first packet gives no D.
    if (i > 0) jitter += (1 / 16) * (d - jitter);
  });
  return jitter;
}

describe('InterarrivalJitter (RFC 3550 §6.4.1, A.8)', () => {
  it('gives the hand-worked estimates of J, packet by packet', () => {
    const j = new InterarrivalJitter();
    SEND_STEPS.forEach((sent, i) => {
      j.add(sent, ARRIVALS[i]!);
      expect(j.value).toBe(KNOWN_J[i]);
    });
    expect(Math.trunc(j.value)).toBe(2);
  });

  it('gives the same estimates when the RTP timestamp wraps between two packets', () => {
    const j = new InterarrivalJitter({ sendTimeModulus: RTP_TIMESTAMP_MODULUS });
    const base = RTP_TIMESTAMP_MODULUS - 320; // packets 1 and 2 before the wrap, 3 lands on 0
    SEND_STEPS.forEach((step, i) => {
      j.add((base + step) % RTP_TIMESTAMP_MODULUS, ARRIVALS[i]!);
      expect(j.value).toBe(KNOWN_J[i]);
    });
  });

  it('without a modulus, a wrap is a real jump in transit time', () => {
    const j = new InterarrivalJitter();
    j.add(RTP_TIMESTAMP_MODULUS - 160, 1000);
    j.add(0, 1160);
    expect(j.value).toBe(RTP_TIMESTAMP_MODULUS / 16);
  });

  it('is 0 for a constant transit time, however long', () => {
    const j = new InterarrivalJitter();
    for (let i = 0; i < 100; i++) j.add(i * 20, i * 20 + 3.5);
    expect(j.value).toBe(0);
  });

  it('converges to |D| when transit alternates by a constant step', () => {
    const j = new InterarrivalJitter();
    for (let i = 0; i < 400; i++) j.add(i * 20, i * 20 + (i % 2 === 0 ? 1 : 3));
    expect(j.value).toBeCloseTo(2, 6);
  });

  it('after restart(), the next packet starts a new pair and J is kept', () => {
    const j = new InterarrivalJitter();
    j.add(0, 1000);
    j.add(160, 1176); // J = 1
    j.restart();
    j.add(9_000_000, 1336); // a new timeline: no D across the jump
    expect(j.value).toBe(1);
    j.add(9_000_160, 1496); // same transit as the packet before: |D| = 0
    expect(j.value).toBe(1 - 1 / 16);
  });

  it("matches A.8's 32-bit int code on streams that wrap anywhere", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: RTP_TIMESTAMP_MODULUS - 1 }),
        fc.array(fc.integer({ min: -2000, max: 2000 }), { minLength: 2, maxLength: 60 }),
        (base, delays) => {
          const packets = delays.map((delay, i) => [(base + i * 160) % RTP_TIMESTAMP_MODULUS, 50_000 + i * 160 + delay] as const);
          const j = new InterarrivalJitter({ sendTimeModulus: RTP_TIMESTAMP_MODULUS });
          for (const [ts, arrival] of packets) j.add(ts, arrival);
          expect(j.value).toBeCloseTo(a8Jitter(packets), 9);
        },
      ),
    );
  });

  it('refuses a modulus that is not a positive number', () => {
    for (const sendTimeModulus of [0, -1, Number.NaN, Infinity]) {
      expect(() => new InterarrivalJitter({ sendTimeModulus })).toThrow(RangeError);
    }
  });
});
