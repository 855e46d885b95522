/**
 * Abuse case 24 (/work/shared/ABUSE-CASES.md, "Network faults"): 10 % loss, 10 % reordering,
 * 1 % duplication and 50 ms of jitter, in both directions, across a sequence wrap → no false
 * authentication or replay failure, and the loss the receiver reports is the loss injected.
 *
 * The real relay process, the client SDK's MediaTransport for a speaker and a listener, and the
 * seeded userspace impairment proxy (cli/loadtest/udp-impairment-proxy.ts) between both and the
 * relay, so every packet crosses it twice: speaker → relay (the speaker's own numbering) and
 * relay → listener (the relay's per-listener numbering, docs/protocol.md §6.7).
 *
 * Why 35,536 packets and not a few hundred: a client's first sequence number must be below 2^15
 * (§6.1), and so is the first number of a listener's stream (§6.7, relay/src/media/
 * sequence-rewriter.ts), so neither leg can wrap before 32,769 packets. The speaker starts at
 * 32000, the highest convenient legal start, so both legs wrap after 33,536 packets (the relay
 * numbers this listener's stream exactly as the speaker does: its first packet is below 2^15,
 * so the offset is 0). The first 31,000 go unimpaired and fast (4,000 packets/s, the relay's
 * per-session limits raised as an operator may, §6.4); then the impairment is switched on for
 * the last 2,536 before the wrap and 2,000 after it, at 1,000 packets/s; then 50 clean ones let
 * the jitter buffer settle what the impaired stretch left open.
 *
 * 1,000 packets/s, not more: 50 ms of jitter on each leg moves a packet up to 100 ms, i.e. 100
 * packets at this rate, behind newer ones, and the receivers' replay windows are 128 packets
 * (§2.7). At a voice stream's 50 packets/s the same jitter is 5 packets. The listener's jitter
 * buffer waits 250 ms for a gap (more than the 100 ms a packet can be late), so a reordered
 * packet is never given up as lost and then dropped as late.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaTransport, type MediaKeys, type ReceivedFrame } from '../../packages/client/src/index.js';
import { startRelayProcess, type RelayProcess } from '../../cli/relay-process.js';
import { isRtp, NO_IMPAIRMENT, UdpImpairmentProxy, type DirectionStats } from '../../cli/loadtest/udp-impairment-proxy.js';
import { readRelayMetrics, relayMetricsDelta } from '../../bench/relay/relay-metrics.js';
import { randomMasterKeys } from '../support/relay-fixtures.js';

const FIRST_SEQUENCE = 32_000;
const WRAP_AFTER = 0x10000 - FIRST_SEQUENCE; // 33,536 packets
const CLEAN_BEFORE = 31_000;
const IMPAIRED = WRAP_AFTER - CLEAN_BEFORE + 2_000; // 2,536 before the wrap, 2,000 after
const CLEAN_AFTER = 50;
const IMPAIRMENT = { loss: 0.1, reorder: 0.1, duplicate: 0.01, jitterMs: 50, seed: 24 } as const;

let relay: RelayProcess;
const transports: MediaTransport[] = [];
let proxy: UdpImpairmentProxy | undefined;

beforeAll(async () => {
  relay = await startRelayProcess({
    relayId: 'network-faults',
    env: {
      RELAY_LOG_LEVEL: 'warn',
      // The clean stretch goes at 4,000 packets/s of 140 bytes: above a voice stream's defaults.
      RELAY_SESSION_PPS: '20000',
      RELAY_SESSION_PACKET_BURST: '20000',
      RELAY_SESSION_BPS: '50000000',
      RELAY_SESSION_BYTE_BURST: '5000000',
    },
  });
});

afterAll(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  await proxy?.close();
  relay.kill('SIGTERM');
  await Promise.race([relay.exited(), new Promise((resolve) => setTimeout(resolve, 5000))]);
  relay.kill('SIGKILL');
});

async function until(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function keysFor(ssrc: number): MediaKeys {
  return { ssrc, profile: 'aes128gcm', sendKeys: randomMasterKeys('aes128gcm'), receiveKeys: randomMasterKeys('aes128gcm') };
}

/** Frame `n` of the run: its number in the first 4 bytes, then filler. */
function frame(n: number): Uint8Array {
  const payload = new Uint8Array(100);
  new DataView(payload.buffer).setUint32(0, n);
  payload.fill(n & 0xff, 4);
  return payload;
}

const frameNumber = (f: ReceivedFrame): number => new DataView(f.payload.buffer, f.payload.byteOffset).getUint32(0);

/** Sends frames `from`..`to - 1`, `perTick` every 10 ms. */
async function speak(speaker: MediaTransport, from: number, to: number, perTick: number): Promise<void> {
  for (let n = from; n < to; ) {
    for (let k = 0; k < perTick && n < to; k++, n++) speaker.sendAudio(frame(n));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const copy = (s: DirectionStats): DirectionStats => ({ ...s });
const minus = (a: DirectionStats, b: DirectionStats): DirectionStats => ({
  received: a.received - b.received,
  dropped: a.dropped - b.dropped,
  duplicated: a.duplicated - b.duplicated,
  reordered: a.reordered - b.reordered,
  forwarded: a.forwarded - b.forwarded,
});

describe('network faults end to end (case 24)', () => {
  it(
    'case 24: 10 % loss, 10 % reordering, 1 % duplication, 50 ms jitter across the sequence wrap of both legs: no false authentication or replay failure, and the reported loss is the injected loss',
    { timeout: 120_000 },
    async () => {
      const channelId = `chn-${randomBytes(4).toString('hex')}`;
      const base = 0x2400_0000 + randomBytes(2).readUInt16BE(0) * 4;
      const speakerKeys = keysFor(base);
      const listenerKeys = keysFor(base + 1);
      const install = (name: string, keys: MediaKeys, canSpeak: boolean) =>
        relay.api.installSession({
          sessionId: `${channelId}-${name}`,
          userId: `user-${name}`,
          channelId,
          ssrc: keys.ssrc,
          profile: keys.profile,
          permissions: { canSpeak, canListen: !canSpeak, muted: false, deafened: false },
          expiresAt: Date.now() + 600_000,
          keys: { clientToRelay: keys.sendKeys, relayToClient: keys.receiveKeys },
        });
      const installed = await install('speaker', speakerKeys, true);
      await install('listener', listenerKeys, false);
      proxy = await UdpImpairmentProxy.start({ upstream: installed.udpEndpoint });
      // Counts what is not voice (keepalives both ways) as it reaches the proxy, before the impairment.
      let rtcpThroughProxy = 0;
      proxy.toUpstream = (d) => (isRtp(d) || rtcpThroughProxy++, [d]);
      proxy.toClient = (d) => (isRtp(d) || rtcpThroughProxy++, [d]);
      const speaker = await MediaTransport.open({ endpoint: proxy.address, keys: speakerKeys, initialSequence: FIRST_SEQUENCE });
      const listener = await MediaTransport.open({ endpoint: proxy.address, keys: listenerKeys, jitter: { maxWaitMs: 250, capacity: 2000 } });
      transports.push(speaker, listener);
      const frames: ReceivedFrame[] = [];
      listener.on('frame', (f) => frames.push(f));
      await until(() => speaker.addressProved && listener.addressProved, 'both addresses proved');

      // 1. Clean and fast, up to 2,536 packets before the wrap.
      const started = performance.now();
      await speak(speaker, 0, CLEAN_BEFORE, 40);
      await until(() => frames.length > 0 && frameNumber(frames.at(-1)!) === CLEAN_BEFORE - 1, 'the clean stretch delivered');
      const cleanLost = listener.stats().streams.get(speakerKeys.ssrc)!.lost;
      console.log(`case 24: ${CLEAN_BEFORE} clean packets in ${((performance.now() - started) / 1000).toFixed(1)} s, ${cleanLost} lost (no impairment yet)`);
      const streamBefore = listener.stats().streams.get(speakerKeys.ssrc)!;
      const rejectedBefore = speaker.stats().received.rejected + listener.stats().received.rejected;
      const proxyBefore = { toUpstream: copy(proxy.stats.toUpstream), toClient: copy(proxy.stats.toClient) };
      const relayBefore = await readRelayMetrics(relay.ports.metrics);
      const rtcpBefore = rtcpThroughProxy;
      const framesBefore = frames.length;

      // 2. Impaired, across the wrap of both legs; 3. clean again, so every gap is settled.
      proxy.setImpairment(IMPAIRMENT);
      await speak(speaker, CLEAN_BEFORE, CLEAN_BEFORE + IMPAIRED, 10);
      proxy.setImpairment(NO_IMPAIRMENT);
      await speak(speaker, CLEAN_BEFORE + IMPAIRED, CLEAN_BEFORE + IMPAIRED + CLEAN_AFTER, 10);
      const total = CLEAN_BEFORE + IMPAIRED + CLEAN_AFTER;
      await until(() => frameNumber(frames.at(-1)!) === total - 1 && listener.stats().streams.get(speakerKeys.ssrc)!.buffered === 0, 'the last frame');
      await new Promise((resolve) => setTimeout(resolve, 300)); // anything still delayed in the proxy
      const stream = listener.stats().streams.get(speakerKeys.ssrc)!;
      const rejected = speaker.stats().received.rejected + listener.stats().received.rejected - rejectedBefore;
      const proxyDelta = { toUpstream: minus(proxy.stats.toUpstream, proxyBefore.toUpstream), toClient: minus(proxy.stats.toClient, proxyBefore.toClient) };
      const relayDelta = relayMetricsDelta(relayBefore, await readRelayMetrics(relay.ports.metrics));
      const rtcp = rtcpThroughProxy - rtcpBefore;
      const impairedFrames = frames.slice(framesBefore);
      const lost = stream.lost - streamBefore.lost;
      console.log(
        `case 24: impaired ${IMPAIRED} packets (seed ${IMPAIRMENT.seed}): proxy speaker→relay ${JSON.stringify(proxyDelta.toUpstream)}, relay→clients ${JSON.stringify(proxyDelta.toClient)}; ` +
          `listener lost ${lost}, received ${impairedFrames.length}, rejected (both clients) ${rejected}; relay drops ${JSON.stringify(relayDelta.dropped)}; ${rtcp} keepalives through the proxy`,
      );

      // Both legs wrapped: the speaker's index and the listener's passed 2^16 (ROC 0 → 1).
      expect(cleanLost).toBe(0);
      expect(speaker.stats().sent.lastIndex).toBe(FIRST_SEQUENCE + total - 1);
      expect(speaker.stats().sent.lastIndex).toBeGreaterThanOrEqual(0x10000);
      expect(impairedFrames.some((f) => f.index < 0x10000)).toBe(true);
      expect(impairedFrames.some((f) => f.index >= 0x10000 && frameNumber(f) < CLEAN_BEFORE + IMPAIRED)).toBe(true);

      // No ROC drift: every frame the listener got carries the speaker's index (ROC and SEQ) for
      // that frame, in order, without a gap the network did not make.
      const numbers = frames.map(frameNumber);
      expect(frames.every((f, i) => f.index === FIRST_SEQUENCE + numbers[i]! && f.sequenceNumber === f.index % 0x10000)).toBe(true);
      expect(numbers.every((n, i) => i === 0 || n > numbers[i - 1]!)).toBe(true);
      expect(frames.every((f, i) => i === 0 || f.lostBefore === numbers[i]! - numbers[i - 1]! - 1)).toBe(true);

      // No false failures. At the relay: nothing failed authentication, and every replay it
      // refused was a copy the proxy made; nothing else was dropped. At the clients: every
      // datagram refused was a copy the proxy made toward them (a duplicate is a true replay,
      // §2.7); the jitter buffer saw no duplicate, nothing late, no restart.
      expect(relayDelta.dropped).toEqual({ ...relayDelta.dropped, auth: 0, 'rate-limit': 0, reordered: 0, 'protect-refused': 0, malformed: 0, 'unknown-ssrc': 0 });
      expect(relayDelta.dropped.replay).toBe(proxyDelta.toUpstream.duplicated);
      expect(Object.values(relayDelta.dropped).reduce((a, b) => a + b, 0)).toBe(relayDelta.dropped.replay);
      expect(rejected).toBe(proxyDelta.toClient.duplicated);
      expect(stream).toMatchObject({ late: 0, duplicates: 0, restarts: 0, buffered: 0 });
      expect(proxyDelta.toUpstream.reordered + proxyDelta.toClient.reordered).toBeGreaterThan(0);
      expect(proxyDelta.toUpstream.duplicated + proxyDelta.toClient.duplicated).toBeGreaterThan(0);

      // The loss reported is the loss injected. Exactly: what the listener reports lost is what
      // it never received of the impaired stretch, and each of those is a voice datagram the
      // proxy dropped on one of the legs; the proxy's drops beyond them are keepalives (at most
      // as many as went through it).
      expect(stream.released - streamBefore.released).toBe(impairedFrames.length);
      expect(lost).toBe(IMPAIRED + CLEAN_AFTER - impairedFrames.length);
      const proxyDropped = proxyDelta.toUpstream.dropped + proxyDelta.toClient.dropped;
      expect(proxyDropped).toBeGreaterThanOrEqual(lost);
      expect(proxyDropped).toBeLessThanOrEqual(lost + rtcp);
      // Statistically: a voice packet survives the two legs independently with probability
      // 0.9 each, so the count lost of N is Binomial(N, p = 1 - 0.9²= 0.19): mean N·p, standard
      // deviation σ = √(N·p·(1-p)) ≈ 26.4 for N = 4,536. Within 5σ of the mean (a false alarm
      // about once in 1.7 million runs, by the normal approximation).
      const p = 1 - (1 - IMPAIRMENT.loss) ** 2;
      const sigma = Math.sqrt(IMPAIRED * p * (1 - p));
      console.log(`case 24: lost ${lost} of ${IMPAIRED}, expected ${(IMPAIRED * p).toFixed(0)} ± ${(5 * sigma).toFixed(0)} (5σ)`);
      expect(Math.abs(lost - IMPAIRED * p)).toBeLessThanOrEqual(5 * sigma);
    },
  );
});
