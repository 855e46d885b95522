/**
 * Consent before voice (docs/protocol.md §6.3): the relay sends a client voice only at an address
 * that proved it receives there by echoing a cookie sent to it, and until then at most three times
 * the bytes it received from it (RFC 7675 consent freshness, RFC 9000 §8.1 anti-amplification).
 * Real SRTP both ways, an in-memory sink.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { AddressConsent, AMPLIFICATION_FACTOR, CONSENT_LIFETIME_MS, COOKIE_REUSE_MS } from '../../../relay/src/media/address-consent.js';
import { ClientMediaSession } from '../../../shared/client/media-session.js';
import { decodeKeepalive, encodeKeepalive, KEEPALIVE_LENGTH } from '../../../shared/protocol/keepalive.js';
import { nodeCryptoBackend } from '../../../shared/srtp/backends/node-crypto.js';
import { SrtpContext } from '../../../shared/srtp/context.js';
import { SOURCE_BUDGET_CAPACITY, SourceBudgets } from '../../../relay/src/media/source-budgets.js';
import { addr, RouterHarness, token, type Sent } from '../../support/router-harness.js';
import { TEST_LIMITS, type TestMember } from '../../support/relay-fixtures.js';

let h: RouterHarness;

beforeEach(() => {
  h = new RouterHarness();
});

/** The speaker sends `count` packets 20 ms apart (50 packets/s), the clock moving with them. */
function talk(speaker: TestMember, from = addr(50000), count = 1, payloadBytes = 160): void {
  for (let i = 0; i < count; i++) {
    h.handle(speaker.client.protectVoice(new Uint8Array(payloadBytes)), from);
    h.clock += 20;
  }
}

const bytesTo = (sent: readonly Sent[], to: { address: string; port: number }): number =>
  sent.filter((s) => s.to.port === to.port && s.to.address === to.address).reduce((n, s) => n + s.datagram.length, 0);

describe('amplification through a spoofed source', () => {
  it('amplification: a member\'s keepalives with a forged source latch the victim, but no voice goes there — at most 3× what came "from" it', () => {
    const [speaker, attacker] = h.join(2) as [TestMember, TestMember];
    const sentBefore = h.counters.tally.sent;
    const victim = addr(9999, '198.51.100.7');
    // The attacker holds its own session's keys: three authentic keepalives, source forged.
    let fromVictim = 0;
    for (let i = 0; i < 3; i++) {
      const ping = attacker.client.protectKeepalive(token(i));
      fromVictim += ping.length;
      h.handle(ping, victim);
    }
    expect(h.registry.get('s1')!.address).toEqual(victim); // latched: the packets were authentic
    // 25 s of the channel's voice (the reproduction: 120 bytes in, 2.78 MB out before consent).
    talk(speaker, addr(50000), 1250);
    const sent = h.take();
    const toVictim = bytesTo(sent, victim);
    expect(toVictim).toBeLessThanOrEqual(AMPLIFICATION_FACTOR * fromVictim);
    // What did reach the victim: one challenge per forged keepalive, each the keepalive's size.
    expect(sent.filter((s) => s.to.port === victim.port).map((s) => s.datagram.length)).toEqual([fromVictim / 3, fromVictim / 3, fromVictim / 3]);
    expect(h.counters.tally.sent - sentBefore).toBe(3); // and nothing else anywhere: the attacker moved away too
  });

  it('amplification: a forged-source voice packet gets one challenge, within 3× its size, and never the channel\'s voice', () => {
    const [speaker, attacker] = h.join(3) as [TestMember, TestMember, TestMember];
    const victim = addr(7777, '198.51.100.8');
    // The smallest voice packet there is: a header and a tag, 28 bytes; the challenge is 48.
    const tiny = attacker.client.protectVoice(new Uint8Array(0));
    h.handle(tiny, victim);
    talk(speaker, addr(50000), 100);
    const sent = h.take();
    expect(bytesTo(sent, victim)).toBeLessThanOrEqual(AMPLIFICATION_FACTOR * tiny.length);
    expect(sent.filter((s) => s.to.port === victim.port)).toHaveLength(1);
    // The real third member still hears every packet (the attacker's own among them: it is authentic voice).
    expect(sent.filter((s) => s.to.port === 50002)).toHaveLength(100 + 1);
    // A packet that does not move the address gets no challenge: nothing more goes to the victim.
    h.handle(attacker.client.protectVoice(new Uint8Array(0)), victim);
    expect(h.take().filter((s) => s.to.port === victim.port)).toHaveLength(0);
  });
});

describe('consent before voice', () => {
  it('consent: a listener hears nothing until it echoes the cookie from its address, then everything', () => {
    const speaker = h.install('speaker');
    const listener = h.install('listener');
    h.prove(speaker, addr(50000));
    h.handle(listener.client.protectKeepalive(token(1)), addr(50001));
    const [challenge] = h.take();
    const opened = listener.client.open(challenge!.datagram);
    expect(opened).toMatchObject({ kind: 'pong', addressProved: false, echoNow: true });
    talk(speaker, addr(50000), 5);
    expect(h.take()).toEqual([]); // latched, not proved: no voice
    // An echo from another address proves nothing (and does not move the latch back: it is not newer).
    h.handle(listener.client.protectKeepalive(token(2)), addr(50002, '127.0.0.2'));
    h.take();
    h.handle(listener.client.protectKeepalive(token(3)), addr(50001));
    expect(h.openAll(listener, h.take(), addr(50001))).toMatchObject([{ kind: 'pong', addressProved: false }]);
    // The challenge that reached 50001 last: echoing it from there proves the address.
    const retry = listener.client.protectKeepalive(token(4));
    h.handle(retry, addr(50001));
    expect(h.openAll(listener, h.take(), addr(50001))).toMatchObject([{ kind: 'pong', token: token(4), addressProved: true }]);
    talk(speaker, addr(50000), 5);
    expect(h.openAll(listener, h.take(), addr(50001)).map((r) => r.kind)).toEqual(['voice', 'voice', 'voice', 'voice', 'voice']);
  });

  it('consent: it lapses CONSENT_LIFETIME_MS after the last proved cookie was sent, unless keepalives refresh it', () => {
    const [speaker, listener] = h.join(2) as [TestMember, TestMember];
    // The listener opens everything that reaches it, as a client does (pongs update its cookie).
    const heard = (): number => h.openAll(listener, h.take(), addr(50001)).filter((r) => r.kind === 'voice').length;
    // A keepalive every 5 s keeps the voice flowing for a minute.
    let total = 0;
    for (let second = 0; second < 60; second++) {
      if (second % 5 === 0) h.handle(listener.client.protectKeepalive(token(second)), addr(50001));
      talk(speaker, addr(50000), 50);
      total += heard();
    }
    expect(total).toBe(60 * 50);
    // Silence from the listener: voice stops once consent lapses, at most 30 s on.
    talk(speaker, addr(50000), (CONSENT_LIFETIME_MS / 20) + 50);
    const before = h.take();
    const lapsed = h.openAll(listener, before, addr(50001)).filter((r) => r.kind === 'voice').length;
    // The last keepalive (5 s before the silence) echoed a cookie sent 5 s before it: consent
    // ran until 30 s after that send, 20 s into the silence.
    expect(lapsed).toBe((CONSENT_LIFETIME_MS - 10_000) / 20);
    talk(speaker, addr(50000), 10);
    expect(heard()).toBe(0);
    // One keepalive and the answer to its challenge bring it back.
    const replies = h.prove(listener, addr(50001));
    expect(replies.map((r) => decodeKeepalive(plainKeepalive(listener, r.datagram))?.kind)).toEqual(['challenge', 'pong']);
    talk(speaker, addr(50000), 10);
    expect(heard()).toBe(10);
  });

  it('consent: a re-latched address (NAT rebinding) proves itself again, and audio resumes once it has', () => {
    const [speaker, listener] = h.join(2) as [TestMember, TestMember];
    talk(speaker, addr(50000), 3);
    expect(h.openAll(listener, h.take(), addr(50001))).toHaveLength(3);
    // The listener's NAT rebinds: its next keepalive comes from a new port.
    const rebound = addr(61001);
    h.handle(listener.client.protectKeepalive(token(7)), rebound);
    expect(h.registry.get('s1')!.address).toEqual(rebound);
    const challenge = h.take();
    expect(challenge.map((s) => s.to)).toEqual([rebound]);
    talk(speaker, addr(50000), 3);
    expect(h.take()).toEqual([]); // neither the old address nor the unproved new one
    const opened = listener.client.open(challenge[0]!.datagram);
    expect(opened).toMatchObject({ kind: 'pong', addressProved: false, echoNow: true });
    h.handle(listener.client.protectKeepalive(token(8)), rebound);
    h.take();
    talk(speaker, addr(50000), 3);
    expect(h.openAll(listener, h.take(), rebound).map((r) => r.kind)).toEqual(['voice', 'voice', 'voice']);
  });

  it('consent: a talking client that rebinds is challenged by its next voice packet and hears again after one echo', () => {
    const [a, b] = h.join(2) as [TestMember, TestMember];
    const rebound = addr(62000);
    h.handle(a.client.protectVoice(new Uint8Array(100)), rebound); // a's NAT rebinds mid-talk
    const sent = h.take();
    const challenge = sent.filter((s) => s.to.port === rebound.port);
    expect(challenge).toHaveLength(1);
    expect(sent.filter((s) => s.to.port === 50001)).toHaveLength(1); // b still hears a
    const opened = a.client.open(challenge[0]!.datagram);
    expect(opened).toMatchObject({ kind: 'pong', token: new Uint8Array(8), addressProved: false, echoNow: true });
    h.handle(a.client.protectKeepalive(token(1)), rebound);
    h.take();
    talk(b, addr(50001), 2);
    expect(h.openAll(a, h.take(), rebound).map((r) => r.kind)).toEqual(['voice', 'voice']);
  });

  it('consent: a packet delayed on the old path does not move the address back', () => {
    const [speaker, listener] = h.join(2) as [TestMember, TestMember];
    const late = listener.client.protectKeepalive(token(1)); // sent before the rebinding, arrives after
    h.prove(listener, addr(61001));
    h.handle(late, addr(50001));
    expect(h.registry.get('s1')!.address).toEqual(addr(61001));
    expect(h.take()).toEqual([]); // and it is not answered
    talk(speaker, addr(50000), 2);
    expect(h.openAll(listener, h.take(), addr(61001))).toHaveLength(2);
  });

  it('consent: an unanswered cookie is repeated while young, so an answer to any of its challenges proves the address', () => {
    const listener = h.install('listener');
    const from = addr(50001);
    h.handle(listener.client.protectKeepalive(token(1)), from);
    const [lost] = h.take(); // the first challenge is lost on the way
    h.clock += 1000;
    h.handle(listener.client.protectKeepalive(token(2)), from);
    const [repeat] = h.take();
    expect(cookieOf(listener, repeat!.datagram)).toEqual(cookieOf(listener, lost!.datagram));
    expect(listener.client.open(repeat!.datagram)).toMatchObject({ echoNow: true });
    h.clock += 1000;
    h.handle(listener.client.protectKeepalive(token(3)), from);
    expect(listener.client.open(h.take()[0]!.datagram)).toMatchObject({ addressProved: true });
    // Once answered, every pong brings a fresh cookie; an unanswered one is replaced after COOKIE_REUSE_MS.
    h.handle(listener.client.protectKeepalive(token(4)), from);
    const [next] = h.take();
    expect(cookieOf(listener, next!.datagram)).not.toEqual(cookieOf(listener, repeat!.datagram));
    h.clock += COOKIE_REUSE_MS;
    h.handle(listener.client.protectKeepalive(token(5)), addr(50002)); // moved: a new address, a new cookie
    const [moved] = h.take();
    expect(cookieOf(listener, moved!.datagram)).not.toEqual(cookieOf(listener, next!.datagram));
  });

  it('consent: a client answers a given challenge at once only once (no ping-pong loop)', () => {
    const member = h.install('m');
    const relaySide = new SrtpContext({ profile: member.spec.profile, backend: nodeCryptoBackend, ...member.spec.relayToClient });
    const cookie = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const challenge = (): Uint8Array => relaySide.protectRtcp(encodeKeepalive('challenge', member.spec.ssrc, token(0), cookie));
    expect(member.client.open(challenge())).toMatchObject({ kind: 'pong', addressProved: false, echoNow: true });
    expect(member.client.open(challenge())).toMatchObject({ kind: 'pong', addressProved: false, echoNow: false });
    cookie[0] = 9;
    expect(member.client.open(challenge())).toMatchObject({ echoNow: true });
    expect(member.client.addressProved).toBe(false);
    expect(member.client.open(relaySide.protectRtcp(encodeKeepalive('pong', member.spec.ssrc, token(0), cookie)))).toMatchObject({ addressProved: true, echoNow: false });
    expect(member.client.addressProved).toBe(true);
  });
});

/** The cookie in a keepalive the relay sent `member`. */
function cookieOf(member: TestMember, datagram: Uint8Array): string {
  return Buffer.from(plainKeepalive(member, datagram)).subarray(20).toString('hex');
}

describe('consent is not starved by garbage under the SSRC', () => {
  /** Copies of the member's keepalive with a broken tag: garbage under its real SSRC. */
  function garbage(member: TestMember, count: number): Uint8Array[] {
    const genuine = member.client.protectKeepalive(token(99));
    return Array.from({ length: count }, (_, i) => {
      const copy = Uint8Array.from(genuine);
      copy[copy.length - 5]! ^= 1 + (i % 200);
      return copy;
    });
  }

  function spray(member: TestMember, sources: number, perSource: number): void {
    const packets = garbage(member, perSource);
    for (let round = 0; round < perSource; round++) {
      for (let s = 0; s < sources; s++) h.handle(packets[round]!, addr(40000 + s, `203.0.113.${1 + (s % 200)}`));
    }
  }

  it('consent is not starved: a spray from other sources blocks neither the real client\'s first latch nor its re-latch after rebinding', () => {
    const speaker = h.install('speaker');
    h.prove(speaker, addr(50000));
    const listener = h.install('listener');
    // Someone who saw the listener's SSRC sprays garbage under it from 6 addresses, before it
    // joins. Each source spends its own small budget: few reach the cipher.
    spray(listener, 6, 30);
    expect(h.counters.tally.dropped.auth).toBe(6 * TEST_LIMITS.session.unlatchedPacketsPerSecond);
    const first = h.prove(listener, addr(50001));
    expect(first.map((r) => decodeKeepalive(plainKeepalive(listener, r.datagram))?.kind)).toEqual(['challenge', 'pong']);
    talk(speaker, addr(50000), 3);
    expect(h.openAll(listener, h.take(), addr(50001)).map((r) => r.kind)).toEqual(['voice', 'voice', 'voice']);
    // The spray goes on, from more sources than a session remembers (each forgotten source
    // comes back with a full bucket: the relay-wide cap bounds that work); the listener's NAT rebinds.
    spray(listener, 20, 30);
    const rebound = addr(61001);
    expect(h.prove(listener, rebound)).toHaveLength(2);
    talk(speaker, addr(50000), 3);
    expect(h.openAll(listener, h.take(), rebound).map((r) => r.kind)).toEqual(['voice', 'voice', 'voice']);
    expect(h.registry.get('listener')!.sourceBudgets.size).toBe(SOURCE_BUDGET_CAPACITY); // memory stays bounded
  });

  it('consent is not starved: the relay-wide cap bounds what a spray from ever new sources costs, and refills', () => {
    h = new RouterHarness(TEST_LIMITS, { maxUnlatchedPacketsPerSecond: 100 });
    const listener = h.install('listener');
    spray(listener, 500, 1);
    expect(h.counters.tally.dropped.auth).toBe(100);
    expect(h.counters.tally.dropped['rate-limit']).toBe(400);
    h.clock += 1000; // a second later the cap has refilled: the real client latches
    expect(h.prove(listener, addr(50001))).toHaveLength(2);
  });
});

describe('SourceBudgets', () => {
  it('a bucket per source, for the most recently used few; a forgotten source starts full', () => {
    const budgets = new SourceBudgets(2, 3);
    const a = addr(1);
    expect([budgets.take(a, 0), budgets.take(a, 0), budgets.take(a, 0)]).toEqual([true, true, false]);
    for (let port = 2; port <= 4; port++) expect(budgets.take(addr(port), 0)).toBe(true);
    expect(budgets.size).toBe(3); // a, the least recently used, was forgotten
    expect([budgets.take(a, 0), budgets.take(a, 0), budgets.take(a, 0)]).toEqual([true, true, false]);
    expect(budgets.take(a, 500)).toBe(true); // refills at 2 per second
    expect(budgets.take(addr(4), 0)).toBe(true); // 4 was used more recently than 2 and 3, so it is still known
    expect(budgets.take(addr(4), 0)).toBe(false);
  });
});

describe('AddressConsent', () => {
  it('anchors consent at the time the cookie was sent, so a stale echo buys nothing', () => {
    const consent = new AddressConsent();
    const cookie = new Uint8Array(8);
    consent.writeCookie(cookie, 0, 1000);
    const view = new DataView(cookie.buffer);
    expect(consent.answer(view.getUint32(0) ^ 1, view.getUint32(4), CONSENT_LIFETIME_MS)).toBe(0);
    expect(consent.answer(view.getUint32(0), view.getUint32(4), CONSENT_LIFETIME_MS)).toBe(1000 + CONSENT_LIFETIME_MS);
    // Answered: the next pong carries a fresh cookie; after a move no cookie matches.
    const next = new Uint8Array(8);
    consent.writeCookie(next, 0, 2000);
    expect(next).not.toEqual(cookie);
    consent.reset();
    expect(consent.answer(new DataView(next.buffer).getUint32(0), new DataView(next.buffer).getUint32(4), CONSENT_LIFETIME_MS)).toBe(0);
  });

  it('lets at most 3× the received bytes go to an address before it proved itself', () => {
    const consent = new AddressConsent();
    consent.noteReceived(40);
    expect(consent.maySend(120, false)).toBe(true);
    consent.noteSent(100, false);
    expect([consent.maySend(20, false), consent.maySend(21, false), consent.maySend(1000, true)]).toEqual([true, false, true]);
  });
});

/** The plaintext of a keepalive the relay sent `member` (opened with a copy of its receive keys). */
function plainKeepalive(member: TestMember, datagram: Uint8Array): Uint8Array {
  const context = new SrtpContext({ profile: member.spec.profile, backend: nodeCryptoBackend, ...member.spec.relayToClient });
  const plain = context.unprotectRtcp(datagram);
  expect(plain.length).toBe(KEEPALIVE_LENGTH);
  return plain;
}

describe('the keepalive codec', () => {
  it('round-trips ping, pong and challenge with token and cookie, and refuses other RTCP', () => {
    const cookie = Uint8Array.from({ length: 8 }, (_, i) => 0xa0 + i);
    for (const kind of ['ping', 'pong', 'challenge'] as const) {
      const packet = encodeKeepalive(kind, 0x01020304, token(5), cookie);
      expect(packet.length).toBe(28);
      expect(decodeKeepalive(packet)).toEqual({ kind, ssrc: 0x01020304, token: token(5), cookie });
    }
    const wrongSubtype = encodeKeepalive('ping', 1, token(1));
    wrongSubtype[0] = 0x80 | 3;
    expect(decodeKeepalive(wrongSubtype)).toBeNull();
    expect(decodeKeepalive(encodeKeepalive('ping', 1, token(1)).subarray(0, 20))).toBeNull();
  });

  it('a client echoes the newest cookie it received in every keepalive', () => {
    const member = h.install('m');
    h.handle(member.client.protectKeepalive(token(1)), addr(50001));
    const [challenge] = h.take();
    member.client.open(challenge!.datagram);
    const sent = plainKeepalive(member, challenge!.datagram);
    const echo = decodeKeepalive(pingPlain(member.client, member))!;
    expect(echo.cookie).toEqual(sent.subarray(20));
  });
});

/** The plaintext of the next ping `client` would send (opened with a copy of its send keys). */
function pingPlain(client: ClientMediaSession, member: TestMember): Uint8Array {
  const relaySide = new SrtpContext({ profile: member.spec.profile, backend: nodeCryptoBackend, ...member.spec.clientToRelay });
  return relaySide.unprotectRtcp(client.protectKeepalive(token(2)));
}
