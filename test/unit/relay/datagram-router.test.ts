/**
 * The relay's packet path with real SRTP on both sides and an in-memory sink instead of a
 * socket (the same flows run over real UDP in test/e2e/relay-udp.test.ts).
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { DatagramRouter, type DatagramSink } from '../../../relay/src/media/datagram-router.js';
import { createTallyCounters, type TallyCounters } from '../../../relay/src/media/packet-counters.js';
import type { RemoteAddress } from '../../../relay/src/media/relay-session.js';
import { InstallRefusedError, SessionRegistry } from '../../../relay/src/media/session-registry.js';
import { nodeCryptoBackend } from '../../../shared/srtp/backends/node-crypto.js';
import { SrtpContext } from '../../../shared/srtp/context.js';
import { SrtpError } from '../../../shared/srtp/errors.js';
import { readUint32 } from '../../../shared/srtp/rtp-header.js';
import { bytesToHex } from '../../../shared/bytes.js';
import { loadNativeGcmBackend, nativeGcmBackendError } from '../../../relay/src/media/native-gcm-backend.js';
import { clientFor, makeMember, randomKeyMaterial, TEST_LIMITS, type TestMember } from '../../support/relay-fixtures.js';

interface Sent {
  readonly datagram: Uint8Array;
  readonly to: RemoteAddress;
}

class RecordingSink implements DatagramSink {
  readonly sent: Sent[] = [];
  send(datagram: Uint8Array, to: RemoteAddress): void {
    this.sent.push({ datagram: Uint8Array.from(datagram), to });
  }
  take(): Sent[] {
    return this.sent.splice(0);
  }
}

/** A sink with the zero-copy path, like the relay's sendmmsg batch: datagrams are sealed into its slab. */
class ReservingSink extends RecordingSink {
  readonly slab = new Uint8Array(4096);
  reservations = 0;
  #offset = 0;
  #to: RemoteAddress | null = null;
  reserve(length: number, to: RemoteAddress): number {
    if (length > this.slab.length) return -1;
    this.reservations++;
    this.#to = to;
    this.#offset = (this.reservations * 7) % (this.slab.length - length); // anywhere in the slab
    return this.#offset;
  }
  commitReserved(length: number): void {
    this.send(this.slab.slice(this.#offset, this.#offset + length), this.#to!);
  }
}

const addr = (port: number, address = '127.0.0.1'): RemoteAddress => ({ address, port });
const token = (n: number): Uint8Array => Uint8Array.of(0, 0, 0, 0, 0, 0, 0, n);

let clock: number;
let registry: SessionRegistry;
let sink: RecordingSink;
let counters: TallyCounters;
let router: DatagramRouter;

beforeEach(() => {
  clock = 1_000_000;
  registry = new SessionRegistry(TEST_LIMITS, nodeCryptoBackend);
  sink = new RecordingSink();
  counters = createTallyCounters();
  router = new DatagramRouter(registry, sink, counters, { maxDatagramBytes: 1500, timingSampleEvery: 1 }, () => clock);
});

/**
 * What a client does at join or after moving: a keepalive from `from`, and the answer to the
 * relay's challenge; the relay then holds `from` proved. Returns what the relay sent.
 */
function prove(member: TestMember, from: RemoteAddress): Sent[] {
  router.handle(member.client.protectKeepalive(token(0)), from);
  const replies = sink.take();
  for (const reply of replies) {
    const opened = member.client.open(reply.datagram);
    if (opened.kind === 'pong' && opened.echoNow) router.handle(member.client.protectKeepalive(token(0)), from);
  }
  return [...replies, ...sink.take()];
}

/** Installs members and proves each one's address with the keepalive handshake. */
function join(members: TestMember[], firstPort = 50000): void {
  members.forEach((m, i) => {
    registry.install(m.spec, clock);
    prove(m, addr(firstPort + i));
  });
}

function channel(n: number, overrides: Parameters<typeof makeMember>[2][] = []): TestMember[] {
  return Array.from({ length: n }, (_, i) => makeMember(`s${i}`, 'room', overrides[i] ?? {}, clock));
}

function drops(): Record<string, number> {
  return Object.fromEntries(Object.entries(counters.tally.dropped).filter(([, n]) => n > 0));
}

describe('forwarding', () => {
  it('a speaker reaches every other member, each under its own key, in order, never the sender', () => {
    const members = channel(4);
    join(members);
    const [speaker, ...listeners] = members as [TestMember, ...TestMember[]];
    const frames = Array.from({ length: 20 }, (_, i) => Uint8Array.from({ length: 160 }, (_, j) => (i * 31 + j) & 0xff));
    for (const frame of frames) router.handle(speaker.client.protectVoice(frame), addr(50000));
    const sent = sink.take();
    expect(sent.length).toBe(frames.length * listeners.length);
    expect(sent.some((s) => s.to.port === 50000)).toBe(false);
    listeners.forEach((listener, i) => {
      const mine = sent.filter((s) => s.to.port === 50001 + i);
      const opened = mine.map((s) => listener.client.open(s.datagram));
      expect(opened.map((o) => (o.kind === 'voice' ? o.payload : null))).toEqual(frames);
      expect(opened.map((o) => (o.kind === 'voice' ? o.ssrc : -1))).toEqual(frames.map(() => speaker.spec.ssrc));
      // Another listener's key does not open these packets.
      const other = listeners[(i + 1) % listeners.length]!;
      expect(() => other.client.open(mine[0]!.datagram)).toThrow(SrtpError);
    });
    expect(drops()).toEqual({});
  });

  it('seals straight into a sink that offers room (the sendmmsg batch), with the same result', () => {
    const reserving = new ReservingSink();
    router = new DatagramRouter(registry, reserving, counters, { maxDatagramBytes: 1500, timingSampleEvery: 1 }, () => clock);
    sink = reserving;
    const members = channel(3);
    join(members);
    const [speaker, ...listeners] = members as [TestMember, ...TestMember[]];
    const frames = Array.from({ length: 10 }, (_, i) => new Uint8Array(160).fill(i));
    for (const frame of frames) router.handle(speaker.client.protectVoice(frame), addr(50000));
    const sent = sink.take();
    expect(reserving.reservations).toBe(frames.length * listeners.length);
    listeners.forEach((listener, i) => {
      const opened = sent.filter((s) => s.to.port === 50001 + i).map((s) => listener.client.open(s.datagram));
      expect(opened.map((o) => (o.kind === 'voice' ? o.payload : null))).toEqual(frames);
    });
  });

  it('answers an authenticated keepalive with one pong no larger than the ping, echoing the token', () => {
    const [m] = channel(1) as [TestMember];
    registry.install(m.spec, clock);
    const ping = m.client.protectKeepalive(token(42));
    router.handle(ping, addr(50000));
    const [pong, ...rest] = sink.take();
    expect(rest).toEqual([]);
    expect(pong!.to).toEqual(addr(50000));
    expect(pong!.datagram.length).toBeLessThanOrEqual(ping.length);
    // The first answer to a new address is a challenge: the address has yet to prove itself.
    expect(m.client.open(pong!.datagram)).toEqual({ kind: 'pong', token: token(42), addressProved: false, echoNow: true });
    const echo = m.client.protectKeepalive(token(43));
    router.handle(echo, addr(50000));
    const [proved, ...more] = sink.take();
    expect(more).toEqual([]);
    expect(proved!.datagram.length).toBe(echo.length);
    expect(m.client.open(proved!.datagram)).toEqual({ kind: 'pong', token: token(43), addressProved: true, echoNow: false });
  });

  it('a deafened listener receives nothing; one who may not listen neither', () => {
    const members = channel(4, [{}, { deafened: true }, { canListen: false }, {}]);
    join(members);
    router.handle(members[0]!.client.protectVoice(new Uint8Array(160)), addr(50000));
    expect(sink.take().map((s) => s.to.port)).toEqual([50003]);
  });

  it('case 16: muted, no-permission and revoked members are dropped from the next packet on', () => {
    const members = channel(3);
    join(members);
    const [speaker] = members as [TestMember];
    router.handle(speaker.client.protectVoice(new Uint8Array(10)), addr(50000));
    expect(sink.take()).toHaveLength(2);
    registry.update('s0', { muted: true });
    router.handle(speaker.client.protectVoice(new Uint8Array(10)), addr(50000));
    expect(sink.take()).toHaveLength(0);
    expect(counters.tally.dropped.muted).toBe(1);
    registry.update('s0', { muted: false, canSpeak: false });
    router.handle(speaker.client.protectVoice(new Uint8Array(10)), addr(50000));
    expect(sink.take()).toHaveLength(0);
    registry.update('s0', { canSpeak: true });
    registry.revoke('s0', clock); // kicked or banned: the session is gone
    router.handle(speaker.client.protectVoice(new Uint8Array(10)), addr(50000));
    expect(sink.take()).toHaveLength(0);
    expect(counters.tally.dropped['unknown-ssrc']).toBe(1);
  });

  it('sheds a speaker over its packet rate', () => {
    const members = channel(2);
    join(members);
    for (let i = 0; i < 300; i++) router.handle(members[0]!.client.protectVoice(new Uint8Array(20)), addr(50000));
    // The keepalive that latched the address came from an unlatched source, its echo from the
    // latched one: the rest of the burst is left.
    expect(sink.take().length).toBe(TEST_LIMITS.session.packetBurst - 1);
    expect(counters.tally.dropped['rate-limit']).toBe(300 - TEST_LIMITS.session.packetBurst + 1);
    clock += 1000; // a second later the bucket has refilled
    router.handle(members[0]!.client.protectVoice(new Uint8Array(20)), addr(50000));
    expect(sink.take()).toHaveLength(1);
  });

  it('drops oversize and malformed datagrams unread', () => {
    join(channel(2));
    router.handle(new Uint8Array(1501).fill(0x80), addr(50000));
    router.handle(Uint8Array.of(1, 2, 3), addr(50000));
    router.handle(new Uint8Array(40), addr(50000)); // version 0
    expect(drops()).toEqual({ oversize: 1, malformed: 2 });
    expect(sink.take()).toEqual([]);
  });
});

describe('abuse cases', () => {
  it('case 10: a second session with the same SSRC is refused; no (SSRC, index) is encrypted twice per listener key', () => {
    const members = channel(3);
    join(members);
    const clash = makeMember('clash', 'other-room', { ssrc: members[0]!.spec.ssrc }, clock);
    expect(() => registry.install(clash.spec, clock)).toThrow(expect.objectContaining({ reason: 'duplicate-ssrc' }));
    expect(() => registry.install(clash.spec, clock)).toThrow(InstallRefusedError);
    // Everyone speaks, some packets are delivered twice; record every nonce per listener key.
    const seen = new Set<string>();
    for (let round = 0; round < 50; round++) {
      members.forEach((m, i) => {
        const packet = m.client.protectVoice(new Uint8Array(40));
        router.handle(packet, addr(50000 + i));
        if (round % 7 === 0) router.handle(packet, addr(50000 + i)); // duplicate delivery
      });
      clock += 20;
    }
    for (const { datagram, to } of sink.take()) {
      const nonce = `${to.port}/${readUint32(datagram, 8)}/${(datagram[2]! << 8) | datagram[3]!}`;
      expect(seen.has(nonce)).toBe(false);
      seen.add(nonce);
    }
    expect(seen.size).toBe(50 * 3 * 2);
    expect(counters.tally.dropped.replay).toBe(8 * 3);
  });

  it('case 10: an SSRC is not reused while an outbound context that may have used it lives', () => {
    const members = channel(2);
    join(members);
    registry.revoke('s0', clock);
    clock += 10;
    const reuse = makeMember('again', 'room', { ssrc: members[0]!.spec.ssrc }, clock);
    expect(() => registry.install(reuse.spec, clock)).toThrow(expect.objectContaining({ reason: 'duplicate-ssrc' }));
    registry.revoke('s1', clock); // the last listener key that could have seen it is gone
    registry.sweep(clock);
    expect(registry.install(reuse.spec, clock).ssrc).toBe(members[0]!.spec.ssrc);
  });

  it('case 10: retired SSRCs are kept per channel — free at once elsewhere, and one long session does not make them pile up', () => {
    // A session that stays for the whole test, in its own channel.
    registry.install(makeMember('long', 'lobby', {}, clock).spec, clock);
    // Churn in another channel: pairs join, talk and leave, 100 times.
    const churned: number[] = [];
    for (let i = 0; i < 100; i++) {
      const pair = [makeMember(`a${i}`, 'room', {}, clock), makeMember(`b${i}`, 'room', {}, clock)];
      for (const m of pair) registry.install(m.spec, clock);
      prove(pair[1]!, addr(50001));
      router.handle(pair[0]!.client.protectVoice(new Uint8Array(20)), addr(50000));
      sink.take();
      churned.push(pair[0]!.spec.ssrc);
      clock += 10;
      registry.revoke(`a${i}`, clock);
      expect(registry.retiredSsrcCount).toBe(1); // b's context saw it: not in 'room' while b lives
      expect(() => registry.install(makeMember('again', 'room', { ssrc: churned[i]! }, clock).spec, clock)).toThrow(expect.objectContaining({ reason: 'duplicate-ssrc' }));
      // In another channel no listener ever saw it: free at once.
      registry.install(makeMember(`elsewhere${i}`, 'other', { ssrc: churned[i]! }, clock).spec, clock);
      registry.revoke(`elsewhere${i}`, clock);
      registry.revoke(`b${i}`, clock); // 'room' empties: nothing that saw its SSRCs is left
      registry.sweep(clock);
      expect(registry.retiredSsrcCount).toBe(0);
    }
    // Kept per worker, the long session (older than every release) would hold all 200 retired.
    registry.install(makeMember('back', 'room', { ssrc: churned[0]! }, clock).spec, clock);
    expect(registry.retiredSsrcCount).toBe(0);
  });

  it('case 11: a packet the relay sent, reflected back to the relay, is rejected', () => {
    const members = channel(2);
    join(members);
    router.handle(members[0]!.client.protectVoice(new Uint8Array(40)), addr(50000));
    const [forwarded] = sink.take();
    router.handle(forwarded!.datagram, addr(50001)); // the listener reflects it
    router.handle(forwarded!.datagram, addr(50000)); // or sends it as the speaker
    expect(sink.take()).toEqual([]);
    // The relay's replay window catches it first (its index was seen); and even where it would
    // not, the speaker's client→relay key cannot authenticate what was sealed relay→client.
    expect(drops()).toEqual({ replay: 2 });
    const speakerKeyOnly = new SrtpContext({ profile: 'aes128gcm', backend: nodeCryptoBackend, ...members[0]!.spec.clientToRelay });
    expect(() => speakerKeyOnly.unprotectRtp(forwarded!.datagram)).toThrow(expect.objectContaining({ reason: 'auth-failed' }));
    const pong = (router.handle(members[1]!.client.protectKeepalive(token(5)), addr(50001)), sink.take()[0]!);
    router.handle(pong.datagram, addr(50001)); // a pong reflected back
    expect(sink.take()).toEqual([]);
    expect(counters.tally.dropped.auth + counters.tally.dropped.replay).toBe(3);
  });

  it('case 12: a new source address re-latches only with an authentic packet; spoofed sources never redirect', () => {
    const members = channel(2);
    join(members);
    const [speaker, listener] = members as [TestMember, TestMember];
    const listenerSession = registry.get('s1')!;
    // The listener's NAT rebinds: an authentic keepalive from a new port moves it, and the
    // answer to the challenge proves the new address.
    expect(prove(listener, addr(60001)).map((s) => s.to)).toEqual([addr(60001), addr(60001)]);
    expect(listenerSession.address).toEqual(addr(60001));
    // An attacker replays the listener's keepalive and forges one, from its own address.
    const genuine = listener.client.protectKeepalive(token(2));
    router.handle(genuine, addr(60001));
    sink.take();
    router.handle(genuine, addr(6666, '127.0.0.2'));
    const forged = Uint8Array.from(listener.client.protectKeepalive(token(3)));
    forged[forged.length - 5]! ^= 1;
    router.handle(forged, addr(6666, '127.0.0.2'));
    expect(listenerSession.address).toEqual(addr(60001));
    router.handle(speaker.client.protectVoice(new Uint8Array(40)), addr(50000));
    expect(sink.take().map((s) => s.to)).toEqual([addr(60001)]);
    expect(drops()).toEqual({ replay: 1, auth: 1 });
  });

  it('case 13: unauthenticated and unknown-SSRC packets get nothing back', () => {
    const members = channel(2);
    join(members);
    const stranger = clientFor({ ...randomKeyMaterial(0xdead), profile: 'aes128gcm' });
    router.handle(stranger.protectVoice(new Uint8Array(40)), addr(7000));
    router.handle(stranger.protectKeepalive(token(1)), addr(7000));
    const forged = Uint8Array.from(members[0]!.client.protectKeepalive(token(1)));
    forged[forged.length - 1]! ^= 0x40; // the SRTCP index: still "from" a known SSRC
    router.handle(forged, addr(7000));
    expect(sink.take()).toEqual([]);
    expect(drops()).toEqual({ 'unknown-ssrc': 2, auth: 1 });
  });

  it('case 9 (in miniature): forged packets for a known SSRC from elsewhere buy little decryption and change nothing', () => {
    const cap = 200; // the relay-wide cap on packets from unlatched sources that reach decryption
    router = new DatagramRouter(registry, sink, counters, { maxDatagramBytes: 1500, timingSampleEvery: 1, maxUnlatchedPacketsPerSecond: cap }, () => clock);
    const members = channel(2);
    join(members);
    const [speaker] = members as [TestMember];
    const sample = speaker.client.protectVoice(new Uint8Array(160));
    router.handle(sample, addr(50000));
    sink.take();
    const inbound = registry.bySsrc(speaker.spec.ssrc)!.epoch.inbound;
    const before = inbound.rtpStreamState(speaker.spec.ssrc);
    for (let i = 0; i < 5000; i++) {
      const forged = Uint8Array.from(sample);
      forged[3] = i & 0xff;
      forged[forged.length - 1] = i & 0xff;
      router.handle(forged, addr(9000 + (i % 50), '127.0.0.9'));
    }
    expect(inbound.rtpStreamState(speaker.spec.ssrc)).toEqual(before);
    expect(registry.get('s0')!.address).toEqual(addr(50000));
    // Only each source's small budget, within the relay-wide cap, reached the cipher; the rest
    // was shed before it.
    const decrypted = counters.tally.dropped.auth + counters.tally.dropped.replay;
    expect(decrypted).toBeLessThanOrEqual(Math.min(50 * TEST_LIMITS.session.unlatchedPacketsPerSecond, cap));
    expect(counters.tally.dropped['rate-limit']).toBe(5000 - decrypted);
    router.handle(speaker.client.protectVoice(new Uint8Array(160)), addr(50000));
    expect(sink.take()).toHaveLength(1);
  });
});

describe('verdicts, not throws', () => {
  it('a flood of forged and replayed packets is dropped through the verdict path: no SrtpError is ever raised', () => {
    const members = channel(2);
    join(members);
    const [speaker] = members as [TestMember];
    const sample = speaker.client.protectVoice(new Uint8Array(160));
    router.handle(sample, addr(50000));
    sink.take();
    // The throwing methods build an exception with a stack trace; the packet path must not.
    const throwing = [
      vi.spyOn(SrtpContext.prototype, 'unprotectRtpInto'),
      vi.spyOn(SrtpContext.prototype, 'unprotectRtp'),
      vi.spyOn(SrtpContext.prototype, 'unprotectRtcp'),
      vi.spyOn(SrtpContext.prototype, 'protectRtpInto'),
    ];
    try {
      for (let i = 0; i < 40; i++) {
        const forged = Uint8Array.from(sample);
        forged[3] = (forged[3]! + 1 + i) & 0xff;
        forged[forged.length - 1]! ^= 0x5a;
        router.handle(forged, addr(50000)); // from the latched address: it reaches the cipher
        router.handle(sample, addr(50000)); // a replay
      }
      const rtcp = speaker.client.protectKeepalive(token(1));
      router.handle(rtcp, addr(50000));
      router.handle(rtcp, addr(50000));
      for (const spy of throwing) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of throwing) spy.mockRestore();
    }
    expect(counters.tally.dropped.auth).toBe(40);
    expect(counters.tally.dropped.replay).toBe(41);
  });
});

describe('key rotation', () => {
  it('keeps audio flowing: old SSRC during the overlap, new SSRC after, listener switched once it proves the new keys', () => {
    const members = channel(2);
    join(members);
    const [speaker, listener] = members as [TestMember, TestMember];
    // Rotate the listener first: the relay keeps sending under the old keys until the listener uses the new ones.
    const listenerKeys = randomKeyMaterial(0x7000_0001);
    registry.rotate('s1', listenerKeys, clock);
    const newListener = clientFor({ ...listenerKeys, profile: 'aes128gcm' });
    router.handle(speaker.client.protectVoice(Uint8Array.of(1)), addr(50000));
    expect(listener.client.open(sink.take()[0]!.datagram)).toMatchObject({ kind: 'voice', payload: Uint8Array.of(1) });
    router.handle(newListener.protectKeepalive(token(9)), addr(50001));
    // Consent belongs to the address, not the keys: the new keys' first pong says it is proved.
    expect(newListener.open(sink.take()[0]!.datagram)).toEqual({ kind: 'pong', token: token(9), addressProved: true, echoNow: false });
    router.handle(speaker.client.protectVoice(Uint8Array.of(2)), addr(50000));
    expect(newListener.open(sink.take()[0]!.datagram)).toMatchObject({ kind: 'voice', payload: Uint8Array.of(2) });

    // Rotate the speaker: packets in flight under the old SSRC still pass during the overlap.
    const speakerKeys = randomKeyMaterial(0x7000_0002);
    registry.rotate('s0', speakerKeys, clock);
    const newSpeaker = clientFor({ ...speakerKeys, profile: 'aes128gcm' });
    router.handle(speaker.client.protectVoice(Uint8Array.of(3)), addr(50000));
    router.handle(newSpeaker.protectVoice(Uint8Array.of(4)), addr(50000));
    const heard = sink.take().map((s) => newListener.open(s.datagram));
    expect(heard).toMatchObject([
      { kind: 'voice', ssrc: speaker.spec.ssrc, payload: Uint8Array.of(3) },
      { kind: 'voice', ssrc: 0x7000_0002, payload: Uint8Array.of(4) },
    ]);
    // After the overlap the old SSRC is gone.
    clock += TEST_LIMITS.rotationOverlapMs;
    registry.sweep(clock);
    router.handle(speaker.client.protectVoice(Uint8Array.of(5)), addr(50000));
    router.handle(newSpeaker.protectVoice(Uint8Array.of(6)), addr(50000));
    expect(sink.take().map((s) => newListener.open(s.datagram))).toMatchObject([{ kind: 'voice', payload: Uint8Array.of(6) }]);
    expect(counters.tally.dropped['unknown-ssrc']).toBe(1);
    expect(() => registry.rotate('s0', randomKeyMaterial(members[1]!.spec.ssrc), clock)).toThrow(InstallRefusedError);
  });
});

describe('rotation overlap (docs/protocol.md §6.5)', () => {
  it('rotation overlap: one that ends before the listener used its new keys sends it nothing until it does; then voice under the new keys, numbered on', () => {
    const members = channel(2);
    join(members);
    const [speaker, listener] = members as [TestMember, TestMember];
    router.handle(speaker.client.protectVoice(Uint8Array.of(1)), addr(50000));
    expect(listener.client.open(sink.take()[0]!.datagram)).toMatchObject({ kind: 'voice', sequenceNumber: 0 });
    const listenerKeys = randomKeyMaterial(0x7000_0011);
    registry.rotate('s1', listenerKeys, clock);
    const newListener = clientFor({ ...listenerKeys, profile: 'aes128gcm' });
    // The listener's client never got its new keys in time: the overlap ends without a packet under them.
    clock += TEST_LIMITS.rotationOverlapMs;
    registry.sweep(clock);
    expect(registry.get('s1')!.epochs.map((e) => e.ssrc)).toEqual([0x7000_0011]);
    router.handle(speaker.client.protectVoice(Uint8Array.of(2)), addr(50000));
    expect(sink.take()).toEqual([]); // never under keys the client may not hold, and the old ones are gone
    // Its first packet under the new keys: the relay uses them from now on.
    router.handle(newListener.protectKeepalive(token(1)), addr(50001));
    expect(newListener.open(sink.take()[0]!.datagram)).toMatchObject({ kind: 'pong', addressProved: true });
    router.handle(speaker.client.protectVoice(Uint8Array.of(3)), addr(50000));
    // Gap-free: the packet withheld meanwhile leaves no hole in the listener's numbering.
    expect(newListener.open(sink.take()[0]!.datagram)).toMatchObject({ kind: 'voice', payload: Uint8Array.of(3), sequenceNumber: 1 });
    expect(drops()).toEqual({});
  });

  it('rotation overlap: two rotations before the client used either leave it no keys the relay sends under', () => {
    const members = channel(2);
    join(members);
    const [speaker, listener] = members as [TestMember, TestMember];
    registry.rotate('s1', randomKeyMaterial(0x7000_0021), clock);
    const second = randomKeyMaterial(0x7000_0022);
    registry.rotate('s1', second, clock + 1);
    router.handle(speaker.client.protectVoice(Uint8Array.of(1)), addr(50000));
    expect(sink.take()).toEqual([]);
    // The first keys were dropped by the second rotation: the listener's keepalive under them is unknown.
    router.handle(listener.client.protectKeepalive(token(1)), addr(50001));
    expect(sink.take()).toEqual([]);
    expect(counters.tally.dropped['unknown-ssrc']).toBe(1);
    const newest = clientFor({ ...second, profile: 'aes128gcm' });
    router.handle(newest.protectKeepalive(token(2)), addr(50001));
    expect(newest.open(sink.take()[0]!.datagram)).toMatchObject({ kind: 'pong' });
    router.handle(speaker.client.protectVoice(Uint8Array.of(2)), addr(50000));
    expect(newest.open(sink.take()[0]!.datagram)).toMatchObject({ kind: 'voice', payload: Uint8Array.of(2) });
  });
});

describe('session lifetime', () => {
  it('ends sessions at absolute expiry and after idling, wiping their keys', () => {
    const ended: string[] = [];
    registry = new SessionRegistry(TEST_LIMITS, nodeCryptoBackend, { onSessionEnded: (s, reason) => ended.push(`${s.sessionId}:${reason}`) });
    const a = makeMember('a', 'room', { expiresAt: clock + 2_000 }, clock);
    const b = makeMember('b', 'room', {}, clock);
    registry.install(a.spec, clock);
    const session = registry.install(b.spec, clock);
    const inbound: SrtpContext = session.epochs[0]!.inbound;
    clock += 2_000;
    registry.sweep(clock);
    expect(ended).toEqual(['a:expired']);
    clock += TEST_LIMITS.idleTimeoutMs;
    registry.sweep(clock);
    expect(ended).toEqual(['a:expired', 'b:idle']);
    expect(inbound.closed).toBe(true);
    expect(registry.size).toBe(0);
    expect(registry.channelCount).toBe(0);
  });

  it('refuses installs past the session and channel caps, and while draining', () => {
    registry = new SessionRegistry({ ...TEST_LIMITS, maxSessions: 2, maxChannels: 1 }, nodeCryptoBackend);
    registry.install(makeMember('a', 'one', {}, clock).spec, clock);
    expect(() => registry.install(makeMember('b', 'two', {}, clock).spec, clock)).toThrow(expect.objectContaining({ reason: 'channel-limit' }));
    registry.install(makeMember('c', 'one', {}, clock).spec, clock);
    expect(() => registry.install(makeMember('d', 'one', {}, clock).spec, clock)).toThrow(expect.objectContaining({ reason: 'session-limit' }));
    registry.revoke('c', clock);
    registry.startDraining();
    expect(() => registry.install(makeMember('e', 'one', {}, clock).spec, clock)).toThrow(expect.objectContaining({ reason: 'draining' }));
  });
});

describe('the fan-out sealed in one native call', () => {
  /** A sink like the relay's batch: reserve for one datagram, reserveRun/commitRun for a fan-out run. */
  class RunSink extends ReservingSink {
    runs = 0;
    #runAt = 0;
    reserveRun(count: number, length: number): number {
      if (count * length > this.slab.length) return -1;
      this.#runAt = 5 + (this.runs % 3); // anywhere in the slab
      return count * length > this.slab.length - this.#runAt ? 0 : this.#runAt;
    }
    commitRun(offset: number, length: number, to: readonly RemoteAddress[], count: number): void {
      this.runs++;
      for (let i = 0; i < count; i++) this.send(this.slab.slice(offset + i * length, offset + (i + 1) * length), to[i]!);
    }
  }

  function nativeGcm() {
    const backend = loadNativeGcmBackend();
    if (backend === null) throw new Error(`native addon not built: ${nativeGcmBackendError}`);
    return backend;
  }

  /** One relay's router with `sink`, its members installed from `specs` and proved. */
  function relayWith(specs: TestMember[], sinkOf: RecordingSink) {
    const own = new SessionRegistry(TEST_LIMITS, nativeGcm());
    const ownRouter = new DatagramRouter(own, sinkOf, createTallyCounters(), { maxDatagramBytes: 1500, timingSampleEvery: 1 }, () => clock);
    specs.forEach((m, i) => {
      own.install(m.spec, clock);
      const from = addr(50000 + i);
      ownRouter.handle(m.client.protectKeepalive(token(0)), from);
      for (const reply of sinkOf.take()) {
        const opened = m.client.open(reply.datagram);
        if (opened.kind === 'pong' && opened.echoNow) ownRouter.handle(m.client.protectKeepalive(token(0)), from);
      }
      sinkOf.take();
    });
    return { registry: own, router: ownRouter };
  }

  it('gives every listener byte for byte what one seal per listener gives, through deafening, rewriting and a mixed channel', () => {
    // Member 3 uses AES-CM + HMAC-SHA1 (no fan-out for it: sealed on its own, after the run).
    const members = channel(6, [{}, {}, {}, { profile: 'aescm128sha80' }, {}, {}]);
    // Each relay gets its own client objects with the same keys: the clients keep state.
    const twin = members.map((m) => ({ spec: m.spec, client: clientFor(m.spec) }));
    const perListener = new ReservingSink();
    const run = new RunSink();
    const a = relayWith(members, perListener);
    const b = relayWith(twin, run);
    const speaker = members[0]!;
    const frames = Array.from({ length: 30 }, (_, i) => Uint8Array.from({ length: 160 }, (_, j) => (i * 17 + j) & 0xff));
    const voice = frames.map((f) => speaker.client.protectVoice(f));
    voice.forEach((packet, i) => {
      // Member 2 is deafened for packets 10–19: its numbering closes over them.
      if (i === 10 || i === 20) {
        for (const relay of [a, b]) relay.registry.update(members[2]!.spec.sessionId, { deafened: i === 10 });
      }
      a.router.handle(packet, addr(50000));
      b.router.handle(packet, addr(50000));
    });
    const expected = perListener.take();
    const got = run.take();
    const key = (s: Sent): string => `${s.to.port}`;
    expect(got.map(key).sort()).toEqual(expected.map(key).sort());
    for (let port = 50001; port <= 50005; port++) {
      const mine = got.filter((s) => s.to.port === port).map((s) => bytesToHex(s.datagram));
      expect(mine).toEqual(expected.filter((s) => s.to.port === port).map((s) => bytesToHex(s.datagram)));
    }
    expect(got.filter((s) => s.to.port === 50002)).toHaveLength(20);
    expect(run.runs).toBe(30);
    // The AES-CM listener alone went through reserve: one per packet.
    expect(run.reservations).toBe(30);
    // And the listeners open what they got, in order.
    const opened = got.filter((s) => s.to.port === 50004).map((s) => twin[4]!.client.open(s.datagram));
    expect(opened.map((o) => (o.kind === 'voice' ? o.payload : null))).toEqual(frames);
  });
});
