/**
 * Per-listener sequence numbers (mediasoup's SeqManager is the model): packets the relay chose
 * not to send leave no gap in a listener's numbering, packets lost before the relay do, and a
 * listener that missed 2^15 or more of a speaker's packets still hears the rest.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { ForwardedStream, SequenceRewriter } from '../../../relay/src/media/sequence-rewriter.js';
import type { ReceivedMedia } from '../../../shared/client/media-session.js';
import { CONSENT_LIFETIME_MS } from '../../../relay/src/media/address-consent.js';
import { clientFor, TEST_LIMITS, type TestMember } from '../../support/relay-fixtures.js';
import { addr, RouterHarness, token } from '../../support/router-harness.js';

type Voice = Extract<ReceivedMedia, { kind: 'voice' }>;

let h: RouterHarness;

beforeEach(() => {
  h = new RouterHarness();
});

/** The first two payload bytes carry the speaker's frame number, so every packet is identifiable. */
function frame(n: number): Uint8Array {
  const payload = new Uint8Array(40);
  new DataView(payload.buffer).setUint32(0, n);
  return payload;
}

const frameOf = (v: Voice): number => new DataView(v.payload.buffer, v.payload.byteOffset).getUint32(0);

describe('SequenceRewriter', () => {
  it('SeqManager: withheld inputs close up, upstream gaps pass through, late inputs keep their number unless one was withheld since', () => {
    const r = new SequenceRewriter();
    expect([100, 101, 102].map((i) => r.send(i))).toEqual([100, 101, 102]);
    r.withhold(103);
    r.withhold(104);
    expect(r.send(105)).toBe(103); // the relay's two withholdings leave no gap
    expect(r.send(108)).toBe(106); // 106, 107 lost upstream: the gap shows
    expect(r.send(107)).toBe(105); // ... and a late one fills its own place
    r.withhold(109);
    expect(r.send(106)).toBe(-1); // late, behind a withholding: its number is no longer known
    expect(r.send(110)).toBe(107);
    r.withhold(104); // a late input withheld changes nothing
    expect(r.send(111)).toBe(108);
  });

  it('SeqManager: a listener\'s numbering starts below 2^15 and never sends what came before its start', () => {
    const late = SequenceRewriter.startingAt(5 * 65536 + 40_000);
    expect(late.send(5 * 65536 + 40_000)).toBe(40_000 - 32_768);
    expect(late.send(5 * 65536 + 39_999)).toBe(-1);
    expect(late.send(5 * 65536 + 40_001)).toBe(40_000 - 32_768 + 1);
    const early = SequenceRewriter.startingAt(1234);
    expect(early.send(1234)).toBe(1234); // a stream that started low keeps the speaker's numbers
  });

  it('SeqManager: per-listener numberings of one stream are independent; a reused slot starts afresh', () => {
    const stream = new ForwardedStream();
    const [a, b, c] = [{}, {}, {}];
    stream.withholdFrom(1, a, 10); // nothing started yet for a: nothing to close up
    expect([stream.sendTo(1, a, 10), stream.sendTo(7, b, 10)]).toEqual([10, 10]);
    stream.withholdFrom(1, a, 11);
    expect([stream.sendTo(1, a, 12), stream.sendTo(7, b, 11), stream.sendTo(7, b, 12)]).toEqual([11, 11, 12]);
    expect(stream.sendTo(1, c, 40_000)).toBe(40_000 - 32_768); // slot 1 now belongs to c
    expect(stream.sendTo(7, b, 40_000)).toBe(40_000); // b's numbering goes on (a jump the network made)
  });
});

describe('per-listener sequence numbers through the router', () => {
  let voice: Voice[] = [];

  /**
   * Voice from the speaker, 20 ms apart. The listener behaves as a client: it opens what reaches
   * it, keeps what is voice, sends a keepalive every 5 s and answers challenges at once.
   */
  function talk(speaker: TestMember, listener: TestMember, frames: number[], arrives = (_n: number) => true): void {
    for (const n of frames) {
      const packet = speaker.client.protectVoice(frame(n));
      if (arrives(n)) h.handle(packet, addr(50000));
      h.clock += 20;
      if (n % 250 === 0) h.handle(listener.client.protectKeepalive(token(1)), addr(50001));
      for (const opened of h.openAll(listener, h.take(), addr(50001))) {
        if (opened.kind === 'voice') voice.push(opened);
        else if (opened.kind === 'pong' && opened.echoNow) h.handle(listener.client.protectKeepalive(token(2)), addr(50001));
      }
    }
  }

  function heard(_listener: TestMember): Voice[] {
    const all = voice;
    voice = [];
    return all;
  }

  const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

  beforeEach(() => {
    voice = [];
  });

  it('SeqManager: a listener deafened for 40,000 of a speaker\'s packets hears everything after it is undeafened', () => {
    const [first, listener] = h.join(2) as [TestMember, TestMember];
    // A speaker stream past 2^15 already (started at 32,000, as §6.1 allows), then a gap of
    // 40,000: forwarded unchanged, the listener's context would take it for a packet from the past.
    const speaker: TestMember = { spec: first.spec, client: clientFor(first.spec, { initialSequence: 32_000 }) };
    talk(speaker, listener, range(0, 1000));
    const before = heard(listener);
    expect(before.map(frameOf)).toEqual(range(0, 1000));
    h.registry.update('s1', { deafened: true });
    talk(speaker, listener, range(1000, 40_000));
    expect(heard(listener)).toEqual([]);
    h.registry.update('s1', { deafened: false });
    talk(speaker, listener, range(41_000, 200));
    const after = heard(listener);
    expect(after.map(frameOf)).toEqual(range(41_000, 200));
    // Gap-free: the numbering goes on from where it stopped.
    const numbers = [...before, ...after].map((v) => v.sequenceNumber);
    expect(numbers).toEqual(range(32_000, 1200).map((n) => n & 0xffff));
    expect(h.drops()).toEqual({});
  });

  it('SeqManager: what the relay withholds (muted, deafened, unproved, rate-limited) closes up; what the network lost shows', () => {
    h = new RouterHarness({ ...TEST_LIMITS, session: { ...TEST_LIMITS.session, byteBurst: 20 * 68 } });
    const [speaker, listener] = h.join(2) as [TestMember, TestMember];
    talk(speaker, listener, range(1, 9));
    talk(speaker, listener, range(10, 5), (n) => n < 12); // 12, 13, 14 lost on the way to the relay
    h.registry.update('s0', { muted: true });
    talk(speaker, listener, range(15, 5));
    h.registry.update('s0', { muted: false });
    h.registry.update('s1', { deafened: true });
    talk(speaker, listener, range(20, 5));
    h.registry.update('s1', { deafened: false });
    // The listener falls silent for longer than consent lasts: unproved, it is sent nothing.
    h.clock += CONSENT_LIFETIME_MS;
    talk(speaker, listener, range(25, 5));
    expect(heard(listener).map(frameOf)).toEqual(range(1, 11));
    h.prove(listener, addr(50001));
    // Over the byte rate (a burst of 20 packets, refilling slowly): some are withheld from all.
    for (const n of range(30, 30)) h.handle(speaker.client.protectVoice(frame(n)), addr(50000));
    talk(speaker, listener, range(60, 5));
    const got = heard(listener);
    expect(got.map(frameOf)).toEqual([...range(30, 20), ...range(61, 4)]); // (60 came with the bucket still empty)
    expect(h.counters.tally.dropped.muted).toBe(5);
    expect(h.counters.tally.dropped['rate-limit']).toBe(11);
    // The numbers: frames 1–11 went out as 0–10 (the speaker's own); 12–14 were lost upstream,
    // so the next number is 14; from there on, one after the other, though the relay withheld
    // 21 packets between frames 11 and 30 and 11 more after 49.
    expect(got.map((v) => v.sequenceNumber)).toEqual(range(14, 24));
  });

  it('SeqManager: a late joiner\'s first packet is numbered below 2^15, and each listener has its own numbering', () => {
    const [first, early] = h.join(2) as [TestMember, TestMember];
    const speaker: TestMember = { spec: first.spec, client: clientFor(first.spec, { initialSequence: 30_000 }) };
    for (const n of range(0, 5000)) {
      h.handle(speaker.client.protectVoice(frame(n)), addr(50000));
      h.clock += 1;
    }
    h.take();
    const late = h.install('late');
    h.prove(late, addr(50009));
    h.handle(speaker.client.protectVoice(frame(5000)), addr(50000));
    const sent = h.take();
    const [toEarly] = h.openAll(early, sent, addr(50001)) as Voice[];
    const [toLate] = h.openAll(late, sent, addr(50009)) as Voice[];
    expect(toEarly!.sequenceNumber).toBe(35_000);
    expect(toLate!.sequenceNumber).toBe(35_000 - 32_768);
    expect(frameOf(toLate!)).toBe(5000);
  });
});
