/**
 * The client SDK's media plane (MediaTransport) against the real relay process over real UDP
 * on loopback, with sessions installed through the relay's signed internal API (keys sealed to
 * it), as the control plane installs them: consent, voice both ways with who sent it, the
 * jitter buffer under reordering and loss, RTT, NAT rebinding, key rotation, a move to another
 * relay, an unreachable relay, close().
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MediaTransport, type JitterBufferOptions, type MediaKeys, type ReceivedFrame } from '../../packages/client/src/index.js';
import { ClosedError } from '../../packages/client/src/errors.js';
import { startRelayProcess, type RelayProcess } from '../../cli/relay-process.js';
import { randomMasterKeys } from '../support/relay-fixtures.js';
import { dropAll, isRtp, passAll, UdpImpairmentProxy } from '../../cli/loadtest/udp-impairment-proxy.js';

let relay: RelayProcess;
const transports: MediaTransport[] = [];
const proxies: UdpImpairmentProxy[] = [];
const relays: RelayProcess[] = [];
let nextSsrc = 0x3000_0000 + randomBytes(2).readUInt16BE(0) * 16;

beforeAll(async () => {
  relay = await startRelayProcess({ relayId: 'client-sdk-media', env: { RELAY_LOG_LEVEL: 'warn' } });
  relays.push(relay);
});

afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  for (const r of relays) {
    r.kill('SIGTERM');
    await Promise.race([r.exited(), new Promise((resolve) => setTimeout(resolve, 5000))]);
    r.kill('SIGKILL');
  }
});

interface Member {
  readonly sessionId: string;
  keys: MediaKeys;
  readonly transport: MediaTransport;
  /** Frames received, per speaker SSRC, in the order the transport emitted them. */
  readonly frames: ReceivedFrame[];
}

function newKeys(): MediaKeys {
  return { ssrc: nextSsrc++, profile: 'aes128gcm', sendKeys: randomMasterKeys('aes128gcm'), receiveKeys: randomMasterKeys('aes128gcm') };
}

async function install(target: RelayProcess, channelId: string, sessionId: string, keys: MediaKeys, canSpeak = true) {
  return target.api.installSession({
    sessionId,
    userId: `user-${sessionId}`,
    channelId,
    ssrc: keys.ssrc,
    profile: keys.profile,
    permissions: { canSpeak, canListen: true, muted: false, deafened: false },
    expiresAt: Date.now() + 600_000,
    keys: { clientToRelay: keys.sendKeys, relayToClient: keys.receiveKeys },
  });
}

/** Installs a session and opens a MediaTransport for it (through a proxy when given). */
async function join(
  channelId: string,
  name: string,
  options: { canSpeak?: boolean; proxy?: UdpImpairmentProxy; keepaliveMs?: number; jitter?: JitterBufferOptions } = {},
): Promise<Member> {
  const keys = newKeys();
  const sessionId = `${channelId}-${name}`;
  const installed = await install(relay, channelId, sessionId, keys, options.canSpeak ?? true);
  const endpoint = options.proxy === undefined ? installed.udpEndpoint : options.proxy.address;
  const transport = await MediaTransport.open({
    endpoint,
    keys,
    ...(options.keepaliveMs === undefined ? {} : { keepalive: { intervalMs: options.keepaliveMs } }),
    ...(options.jitter === undefined ? {} : { jitter: options.jitter }),
  });
  transports.push(transport);
  const frames: ReceivedFrame[] = [];
  transport.on('frame', (frame) => frames.push(frame));
  await until(() => transport.addressProved, `${name}'s address proved`);
  return { sessionId, keys, transport, frames };
}

async function until(condition: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function frame(speaker: number, i: number): Uint8Array {
  const payload = new Uint8Array(120);
  new DataView(payload.buffer).setUint16(0, speaker);
  new DataView(payload.buffer).setUint32(2, i);
  for (let k = 6; k < payload.length; k++) payload[k] = (speaker * 7 + i + k) & 0xff;
  return payload;
}

/** Sends `count` frames, one every 10 ms (below the relay's per-session rate). */
async function speak(member: Member, speaker: number, count: number, first = 0, during?: (i: number) => void | Promise<void>): Promise<Uint8Array[]> {
  const sent: Uint8Array[] = [];
  for (let i = first; i < first + count; i++) {
    const payload = frame(speaker, i);
    member.transport.sendAudio(payload);
    sent.push(payload);
    await during?.(i);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return sent;
}

const payloadsFrom = (member: Member, ssrcs: readonly number[]) => member.frames.filter((f) => ssrcs.includes(f.ssrc)).map((f) => Buffer.from(f.payload).toString('hex'));
const hex = (frames: readonly Uint8Array[]) => frames.map((f) => Buffer.from(f).toString('hex'));

describe('MediaTransport against the relay', () => {
  it('proves its address at once, then carries every speaker to every other member, in order, byte for byte, with the SSRC of who sent it', async () => {
    const channel = `chn-${randomBytes(4).toString('hex')}`;
    const alice = await join(channel, 'alice');
    const bob = await join(channel, 'bob');
    const carol = await join(channel, 'carol', { canSpeak: false });
    const [fromAlice, fromBob] = await Promise.all([speak(alice, 1, 60), speak(bob, 2, 60)]);
    await until(() => carol.frames.length === 120 && bob.frames.length === 60 && alice.frames.length === 60, 'every frame delivered');
    expect(payloadsFrom(carol, [alice.keys.ssrc])).toEqual(hex(fromAlice));
    expect(payloadsFrom(carol, [bob.keys.ssrc])).toEqual(hex(fromBob));
    expect(payloadsFrom(bob, [alice.keys.ssrc])).toEqual(hex(fromAlice));
    expect(payloadsFrom(alice, [bob.keys.ssrc])).toEqual(hex(fromBob));
    expect(alice.frames.some((f) => f.ssrc === alice.keys.ssrc)).toBe(false); // never back to the sender
    for (const m of [alice, bob, carol]) {
      expect(m.frames.every((f) => f.lostBefore === 0)).toBe(true);
      const stats = m.transport.stats();
      expect(stats.received.rejected).toBe(0);
      expect(stats.rtt.samples).toBeGreaterThan(0);
      expect(stats.rtt.smoothedMs).toBeGreaterThanOrEqual(0);
      for (const stream of stats.streams.values()) expect(stream).toMatchObject({ lost: 0, late: 0, duplicates: 0 });
    }
    expect(carol.transport.stats().sent.packets).toBe(0);
    expect(alice.transport.stats().sent.packets).toBe(60);
  });

  it('puts reordered voice back in order, drops what the network duplicated, and reports what was lost on the way', async () => {
    const channel = `chn-${randomBytes(4).toString('hex')}`;
    const alice = await join(channel, 'alice');
    const proxy = await UdpImpairmentProxy.start({ upstream: { host: '127.0.0.1', port: relay.ports.udp } });
    proxies.push(proxy);
    const bob = await join(channel, 'bob', { proxy });
    // Toward bob: every 13th voice datagram dropped, every 5th held back behind the next one
    // (never the first: the stream starts where the first packet a listener gets is), every 7th
    // of those passed at once sent twice.
    let voiceIndex = 0;
    let held: Buffer | null = null;
    const dropped: number[] = [];
    let duplicated = 0;
    let reordered = 0;
    proxy.toClient = (datagram) => {
      if (!isRtp(datagram)) return [datagram];
      const i = voiceIndex++;
      if (i % 13 === 12) {
        dropped.push(i);
        return [];
      }
      if (i % 5 === 4) {
        held = datagram;
        return [];
      }
      const out = i % 7 === 3 ? (duplicated++, [datagram, datagram]) : [datagram];
      if (held !== null) {
        out.push(held);
        held = null;
        reordered++;
      }
      return out;
    };
    // 63 frames: the last one held back (59) has one after it to come out behind.
    const sent = await speak(alice, 1, 63);
    await until(() => bob.frames.length + dropped.length >= 63, 'what was not dropped');
    const received = bob.frames.filter((f) => f.ssrc === alice.keys.ssrc);
    const expected = sent.filter((_, i) => !dropped.includes(i));
    expect(dropped.length).toBe(4);
    expect(reordered).toBeGreaterThanOrEqual(10);
    expect(duplicated).toBeGreaterThanOrEqual(5);
    expect(received.map((f) => Buffer.from(f.payload).toString('hex'))).toEqual(hex(expected)); // in order again
    expect(received.reduce((n, f) => n + f.lostBefore, 0)).toBe(dropped.length);
    for (const i of dropped) expect(received[expected.indexOf(sent[i + 1]!)]!.lostBefore).toBe(1);
    const stats = bob.transport.stats();
    const stream = stats.streams.get(alice.keys.ssrc)!;
    expect(stream).toMatchObject({ lost: dropped.length, late: 0, duplicates: 0, released: expected.length, buffered: 0 });
    expect(stream.jitterMs).toBeGreaterThan(0);
    // A duplicate never reaches the jitter buffer: SRTP's replay check refuses the second copy
    // (docs/protocol.md §2.7), and it counts as rejected.
    expect(stats.received.rejected).toBe(duplicated);
  });

  it('gives a packet up as lost after the wait, and drops it as late when it turns up after that', async () => {
    const channel = `chn-${randomBytes(4).toString('hex')}`;
    const alice = await join(channel, 'alice');
    const proxy = await UdpImpairmentProxy.start({ upstream: { host: '127.0.0.1', port: relay.ports.udp } });
    proxies.push(proxy);
    const bob = await join(channel, 'bob', { proxy, jitter: { maxWaitMs: 20 } });
    // Toward bob: the 5th voice datagram held back until the transport has given it up (it
    // released the 6th), then let through.
    let voiceIndex = 0;
    const heldBack: Buffer[] = [];
    proxy.toClient = (datagram) => {
      if (!isRtp(datagram)) return [datagram];
      if (voiceIndex++ === 4) {
        heldBack.push(datagram);
        return [];
      }
      return [datagram];
    };
    const sent = await speak(alice, 1, 20);
    await until(() => bob.frames.length >= 5, 'the frames around the gap');
    expect(bob.frames[4]!.lostBefore).toBe(1);
    proxy.sendToClient(heldBack[0]!);
    await until(() => bob.transport.stats().streams.get(alice.keys.ssrc)?.late === 1, 'the late frame dropped');
    await until(() => bob.frames.length >= 19, 'every frame but the late one');
    expect(payloadsFrom(bob, [alice.keys.ssrc])).toEqual(hex(sent.filter((_, i) => i !== 4)));
    expect(bob.transport.stats().streams.get(alice.keys.ssrc)).toMatchObject({ received: 19, released: 19, lost: 1, late: 1, duplicates: 0 });
    expect(bob.transport.stats().received.rejected).toBe(0); // it authenticated: the jitter buffer dropped it
  });

  it('drops what does not authenticate (every truncation, bit flips, random bytes) and what comes from elsewhere, and goes on', async () => {
    const channel = `chn-${randomBytes(4).toString('hex')}`;
    const alice = await join(channel, 'alice');
    const proxy = await UdpImpairmentProxy.start({ upstream: { host: '127.0.0.1', port: relay.ports.udp } });
    proxies.push(proxy);
    const bob = await join(channel, 'bob', { proxy });
    const captured: Buffer[] = [];
    proxy.toClient = (datagram) => {
      if (isRtp(datagram)) captured.push(Buffer.from(datagram));
      return [datagram];
    };
    await speak(alice, 1, 3);
    await until(() => bob.frames.length === 3, 'voice before the garbage');
    const real = captured[0]!;
    const garbage: Buffer[] = [];
    for (let n = 0; n < real.length; n++) garbage.push(real.subarray(0, n)); // every truncation
    for (let bit = 0; bit < real.length * 8; bit += 7) {
      const flipped = Buffer.from(real);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      garbage.push(flipped);
    }
    for (let k = 0; k < 50; k++) garbage.push(randomBytes(1 + (k * 29) % 200));
    garbage.push(real); // a replay of a frame already received
    const rejectedBefore = bob.transport.stats().received.rejected;
    const socketErrors: Error[] = [];
    bob.transport.on('socketError', (error) => socketErrors.push(error));
    // In batches, so the socket's receive buffer never overflows (a dropped datagram is not a rejected one).
    for (let k = 0; k < garbage.length; k += 32) {
      for (const g of garbage.slice(k, k + 32)) proxy.sendToClient(g);
      const sentSoFar = Math.min(k + 32, garbage.length);
      await until(() => bob.transport.stats().received.rejected - rejectedBefore === sentSoFar, 'a batch of garbage rejected');
    }
    // From an address that is not the relay's endpoint, even a real datagram is refused.
    const stranger = createSocket('udp4');
    await new Promise<void>((resolve) => stranger.bind(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve, reject) => stranger.send(captured[1]!, bob.transport.localPort, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    stranger.close();
    await until(() => bob.transport.stats().received.rejected - rejectedBefore === garbage.length + 1, 'every bad datagram rejected');
    const after = await speak(alice, 1, 5, 10);
    await until(() => bob.frames.length === 8, 'voice after the garbage');
    expect(payloadsFrom(bob, [alice.keys.ssrc]).slice(-5)).toEqual(hex(after));
    expect(bob.frames.every((f) => f.lostBefore === 0)).toBe(true);
    expect(bob.transport.addressProved).toBe(true);
    expect(socketErrors).toEqual([]); // every one refused as SRTP refuses, none by accident
  });

  it('follows a NAT rebinding: the relay challenges the new address, the transport answers, voice resumes', async () => {
    const channel = `chn-${randomBytes(4).toString('hex')}`;
    const alice = await join(channel, 'alice');
    const proxy = await UdpImpairmentProxy.start({ upstream: { host: '127.0.0.1', port: relay.ports.udp } });
    proxies.push(proxy);
    const bob = await join(channel, 'bob', { proxy, keepaliveMs: 300 });
    await speak(alice, 1, 10);
    await until(() => bob.frames.length === 10, 'voice before the rebinding');
    const consent: boolean[] = [];
    bob.transport.on('consent', ({ proved }) => consent.push(proved));
    await proxy.rebind();
    // bob's next keepalive comes from the new port: challenged there, echoed, proved again.
    await until(() => consent.length >= 2 && bob.transport.addressProved, 'consent on the new address');
    expect(consent.slice(0, 2)).toEqual([false, true]);
    const after = await speak(alice, 1, 10, 100);
    await until(() => bob.frames.length >= 20, 'voice after the rebinding');
    expect(payloadsFrom(bob, [alice.keys.ssrc]).slice(-10)).toEqual(hex(after));
  });

  it('rotates keys and SSRC without losing a frame, on the speaker and on the listener', async () => {
    const channel = `chn-${randomBytes(4).toString('hex')}`;
    const alice = await join(channel, 'alice');
    const bob = await join(channel, 'bob', { canSpeak: false });
    const oldSsrc = alice.keys.ssrc;
    const sent = await speak(alice, 1, 90, 0, async (i) => {
      if (i === 30) {
        // The control plane installs the rotation on the relay, then tells the client (§5.8).
        const keys = newKeys();
        await relay.api.rotateSession(alice.sessionId, keys.ssrc, keys.profile, { clientToRelay: keys.sendKeys, relayToClient: keys.receiveKeys });
        alice.transport.rotate(keys);
        alice.keys = keys;
      }
      if (i === 60) {
        const keys = newKeys();
        await relay.api.rotateSession(bob.sessionId, keys.ssrc, keys.profile, { clientToRelay: keys.sendKeys, relayToClient: keys.receiveKeys });
        bob.transport.rotate(keys);
        bob.keys = keys;
      }
    });
    await until(() => bob.frames.length === 90, 'every frame across both rotations');
    expect(payloadsFrom(bob, [oldSsrc, alice.keys.ssrc])).toEqual(hex(sent));
    expect(bob.frames.slice(0, 31).every((f) => f.ssrc === oldSsrc)).toBe(true);
    expect(bob.frames.slice(31).every((f) => f.ssrc === alice.keys.ssrc)).toBe(true);
    expect(bob.frames.every((f) => f.lostBefore === 0)).toBe(true);
    expect(alice.transport.ssrc).toBe(alice.keys.ssrc);
    expect(bob.transport.stats().received.rejected).toBe(0);
  });

  it('moves to another relay: new endpoint and keys, the address proved there, voice flows', async () => {
    const second = await startRelayProcess({ relayId: 'client-sdk-media-2', env: { RELAY_LOG_LEVEL: 'warn' } });
    relays.push(second);
    const channel = `chn-${randomBytes(4).toString('hex')}`;
    const alice = await join(channel, 'alice');
    const bob = await join(channel, 'bob');
    await speak(alice, 1, 5);
    await until(() => bob.frames.length === 5, 'voice on the first relay');
    const consent: boolean[] = [];
    bob.transport.on('consent', ({ proved }) => consent.push(proved));
    for (const m of [alice, bob]) {
      const keys = newKeys();
      const installed = await install(second, channel, m.sessionId, keys);
      await m.transport.move(installed.udpEndpoint, keys);
      m.keys = keys;
      expect(m.transport.endpoint.port).toBe(installed.udpEndpoint.port);
    }
    await until(() => alice.transport.addressProved && bob.transport.addressProved, 'consent on the new relay');
    expect(consent).toEqual([false, true]);
    const after = await speak(alice, 1, 20, 100);
    await until(() => bob.frames.length === 25, 'voice on the second relay');
    expect(payloadsFrom(bob, [alice.keys.ssrc])).toEqual(hex(after));
    await relay.api.listSessions(); // the first relay still answers; its sessions are the test's to end
  });

  it('reports an unreachable relay after probing, and reachable again when pongs return', async () => {
    const channel = `chn-${randomBytes(4).toString('hex')}`;
    const proxy = await UdpImpairmentProxy.start({ upstream: { host: '127.0.0.1', port: relay.ports.udp } });
    proxies.push(proxy);
    const alice = await join(channel, 'alice', { proxy, keepaliveMs: 300 });
    const events: string[] = [];
    alice.transport.on('unreachable', () => events.push('unreachable'));
    alice.transport.on('reachable', () => events.push('reachable'));
    const keepalivesBefore = alice.transport.stats().sent.keepalives;
    proxy.toUpstream = dropAll;
    await until(() => events.includes('unreachable'), 'the unreachable report');
    // It probed meanwhile: more pings than the regular ones would be.
    expect(alice.transport.stats().sent.keepalives - keepalivesBefore).toBeGreaterThanOrEqual(3);
    proxy.toUpstream = passAll;
    await until(() => events.includes('reachable'), 'pongs again');
    expect(events).toEqual(['unreachable', 'reachable']);
  });

  it('close() is idempotent; afterwards nothing can be sent and nothing arrives', async () => {
    const channel = `chn-${randomBytes(4).toString('hex')}`;
    const alice = await join(channel, 'alice');
    const bob = await join(channel, 'bob');
    await Promise.all([bob.transport.close(), bob.transport.close()]);
    expect(bob.transport.closed).toBe(true);
    expect(() => bob.transport.sendAudio(new Uint8Array(10))).toThrow(ClosedError);
    expect(() => bob.transport.ping()).toThrow(ClosedError);
    await speak(alice, 1, 5);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(bob.frames).toEqual([]);
  });

  it('refuses a bad endpoint before binding anything', async () => {
    await expect(MediaTransport.open({ endpoint: { host: '127.0.0.1', port: 0 }, keys: newKeys() })).rejects.toThrow(RangeError);
    await expect(MediaTransport.open({ endpoint: { host: '', port: 1 }, keys: newKeys() })).rejects.toThrow(TypeError);
    await expect(MediaTransport.open({ endpoint: { host: '127.0.0.1', port: 1 }, keys: newKeys(), initialSequence: 0x8000 })).rejects.toThrow(RangeError); // §6.1
  });
});
