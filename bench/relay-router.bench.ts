/**
 * `npm run bench:router`: the relay's per-datagram work without any I/O — DatagramRouter,
 * SessionRegistry and SrtpContext on the relay's own AES-GCM backend (native when built), with a
 * sink that seals into a slab the way the sendmmsg batch does but never calls the kernel.
 *
 * Why it exists: `npm run bench:relay` measures the relay end to end, where the kernel's loopback
 * work (~3 µs per datagram) and this VM's neighbours dominate and move the figures by ±10–30 %.
 * This isolates the part we write, CPU time per forwarded packet, so a change to the hot path
 * can be judged in seconds. A benchmark, not a test; it is one core, in one process.
 *
 * A second figure per fan-out is the forged-packet flood (abuse case 9): packets under a known
 * SSRC, from the speaker's own latched address (so the pre-authentication budget lets them reach
 * the cipher), half with a random tag (authentication fails) and half replays of packets already
 * forwarded (the replay check refuses them). ns/forged is the CPU time of one such drop.
 *
 * Options: --fanout A,B (default 4,20), --channels N (per fan-out; default 2000/fanout, like
 * bench:relay's socket budget), --packets N (per speaker, default 200), --rounds N (default 5;
 * the median is reported), --json, --per-listener (a sink without the fan-out run, so every
 * listener's copy is sealed with its own native call: the path before the one-call fan-out).
 *
 * Instructions instead of CPU time (repeatable on a busy machine): run it under callgrind,
 * counting only the timed rounds, and divide the total by rounds × fan-out × the incoming count
 * printed (forwarded per round):
 *   valgrind --tool=callgrind --collect-atstart=no --toggle-collect=Builtins_ReflectApply \
 *     node --import tsx bench/relay-router.bench.ts --fanout 4 --channels 50 --packets 100 --rounds 2
 * The count covers the router, the SRTP contexts and the native seals, and no kernel work.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ClientMediaSession } from '../shared/client/media-session.js';
import { nodeCryptoBackend } from '../shared/srtp/backends/node-crypto.js';
import { DatagramRouter, type DatagramSink } from '../relay/src/media/datagram-router.js';
import { loadNativeGcmBackend, nativeGcmBackendError } from '../relay/src/media/native-gcm-backend.js';
import type { PacketCounters } from '../relay/src/media/packet-counters.js';
import type { RemoteAddress } from '../relay/src/media/relay-session.js';
import { SessionRegistry, type RegistryLimits } from '../relay/src/media/session-registry.js';

const { values } = parseArgs({
  options: {
    fanout: { type: 'string', default: '4,20' },
    channels: { type: 'string' },
    packets: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    'per-listener': { type: 'boolean', default: false },
  },
  strict: true,
});

function wholeNumber(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`bench:router: --${name} must be a whole number from ${min} to ${max}`);
    process.exit(2);
  }
  return value;
}

const fanouts = values.fanout.split(',').map((part) => wholeNumber(part.trim(), 'fanout', 1, 200));
const packetsPerSpeaker = wholeNumber(values.packets, 'packets', 10, 10_000);
const rounds = wholeNumber(values.rounds, 'rounds', 1, 50);
const PAYLOAD_BYTES = 160;

const backend = loadNativeGcmBackend() ?? nodeCryptoBackend;

const LIMITS: RegistryLimits = {
  maxSessions: 20_000,
  maxChannels: 10_000,
  idleTimeoutMs: 3_600_000,
  rotationOverlapMs: 5_000,
  session: {
    packetsPerSecond: 1_000_000,
    packetBurst: 1_000_000,
    bytesPerSecond: 1e9,
    byteBurst: 1e9,
    unlatchedPacketsPerSecond: 10,
    replayWindowSize: 128,
  },
};

/** Seals into a 64 KiB slab like DatagramBatch, but "sends" by forgetting: no kernel. */
class SlabSink implements DatagramSink {
  readonly slab = new Uint8Array(64 * 1024);
  #used = 0;
  #pending = 0;
  datagrams = 0;
  /** While set (the untimed setup), datagrams sent the slow way are kept: the keepalive answers. */
  captured: Uint8Array[] | null = null;
  send(datagram: Uint8Array): void {
    this.datagrams++;
    this.captured?.push(Uint8Array.from(datagram));
  }
  reserve(length: number): number {
    if (this.#used + length > this.slab.length || this.#pending === 64) {
      this.#used = 0;
      this.#pending = 0;
    }
    return this.#used;
  }
  commitReserved(length: number): void {
    this.#used += length;
    this.#pending++;
    this.datagrams++;
  }
}

/** SlabSink with the fan-out path: a listener's copies sealed in one native call into a run of the slab. */
class RunSlabSink extends SlabSink {
  #runAt = 0;
  reserveRun(count: number, length: number): number {
    if (count > 64 || count * length > this.slab.length) return -1;
    this.#runAt = count * length > this.slab.length - this.#runAt ? 0 : this.#runAt;
    return this.#runAt;
  }
  commitRun(offset: number, length: number, _to: readonly RemoteAddress[], count: number): void {
    this.#runAt = offset + count * length;
    this.datagrams += count;
  }
}

/** Drops are a bug while voice is timed; during the flood they are the point (and counted). */
let expectedDrops: 'none' | 'auth-or-replay' = 'none';
let floodDrops = 0;
const counters: PacketCounters = {
  received: () => {},
  sent: () => {},
  dropped: (reason) => {
    if (expectedDrops === 'auth-or-replay' && (reason === 'auth' || reason === 'replay')) floodDrops++;
    else throw new Error(`bench:router: unexpected drop (${reason})`);
  },
  observeProcessing: () => {},
};

interface Figures {
  readonly fanout: number;
  readonly channels: number;
  readonly sessions: number;
  readonly incoming: number;
  readonly forwarded: number;
  readonly nsPerIncoming: number;
  readonly nsPerForwarded: number;
  readonly forwardedPerSecond: number;
  /** CPU time per forged packet (random tag or replay, known SSRC, from the latched address). */
  readonly nsPerForged: number;
}

function run(fanout: number): Figures {
  const channels = values.channels === undefined ? Math.floor(2000 / fanout) : wholeNumber(values.channels, 'channels', 1, 5000);
  const registry = new SessionRegistry(LIMITS, backend);
  const sink = values['per-listener'] ? new SlabSink() : new RunSlabSink();
  let now = Date.now();
  const router = new DatagramRouter(registry, sink, counters, { maxDatagramBytes: 1500, timingSampleEvery: 1 << 30 }, () => now);
  const speakers: { client: ClientMediaSession; from: RemoteAddress }[] = [];
  const members: { client: ClientMediaSession; from: RemoteAddress }[] = [];
  let ssrc = 0x1000;
  let port = 10_000;
  for (let c = 0; c < channels; c++) {
    for (let m = 0; m <= fanout; m++) {
      const keys = {
        ssrc: ssrc++,
        clientToRelay: { masterKey: new Uint8Array(randomBytes(16)), masterSalt: new Uint8Array(randomBytes(12)) },
        relayToClient: { masterKey: new Uint8Array(randomBytes(16)), masterSalt: new Uint8Array(randomBytes(12)) },
      };
      registry.install(
        {
          sessionId: `s-${c}-${m}`,
          userId: `u-${c}-${m}`,
          channelId: `c-${c}`,
          profile: 'aes128gcm',
          canSpeak: m === 0,
          canListen: m !== 0,
          muted: false,
          deafened: false,
          expiresAt: now + 3_600_000,
          ...keys,
        },
        now,
      );
      const client = new ClientMediaSession({ profile: 'aes128gcm', ssrc: keys.ssrc, sendKeys: keys.clientToRelay, receiveKeys: keys.relayToClient, backend: nodeCryptoBackend });
      const from: RemoteAddress = { address: '127.0.0.1', port: port++ };
      members.push({ client, from });
      if (m === 0) speakers.push({ client, from });
    }
  }
  // Every member proves its address, as a real client does before audio flows: a keepalive, and
  // the answer to the relay's challenge. Again before each round (untimed), as a client's
  // keepalives every 5 s do: a round is seconds of the router's clock, consent lasts 30.
  const keepalive = (): void => {
    sink.captured = [];
    for (const { client, from } of members) {
      router.handle(client.protectKeepalive(new Uint8Array(8)), from);
      for (const reply of sink.captured.splice(0)) {
        const opened = client.open(reply);
        if (opened.kind === 'pong' && opened.echoNow) router.handle(client.protectKeepalive(new Uint8Array(8)), from);
      }
      for (const reply of sink.captured.splice(0)) client.open(reply);
    }
    sink.captured = null;
  };
  keepalive();
  // Every packet protected up front, interleaved across channels as voice arrives.
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(0x55);
  const datagrams: Uint8Array[] = [];
  const senders: RemoteAddress[] = [];
  for (let p = 0; p < packetsPerSpeaker * rounds + packetsPerSpeaker; p++) {
    for (const speaker of speakers) {
      datagrams.push(speaker.client.protectVoice(payload));
      senders.push(speaker.from);
    }
  }
  const perRound = packetsPerSpeaker * speakers.length;
  // Warm-up round, then timed rounds; CPU time of this thread (user + system).
  const samples: number[] = [];
  let forwardedInRounds = 0;
  for (let r = 0; r <= rounds; r++) {
    keepalive();
    const first = r * perRound;
    const before = process.cpuUsage();
    const datagramsBefore = sink.datagrams;
    const round = (): void => {
      for (let i = first; i < first + perRound; i++) {
        router.handle(datagrams[i]!, senders[i]!);
        now += 0.02; // 50 packets/s per speaker, spread over the round
      }
    };
    // Timed rounds run inside Reflect.apply, the only call of it in the process, so that
    // callgrind can count exactly them: --collect-atstart=no --toggle-collect=Builtins_ReflectApply
    // (see the module comment). Costs nothing measurable otherwise.
    if (r > 0) Reflect.apply(round, undefined, []);
    else round();
    const used = process.cpuUsage(before);
    forwardedInRounds += sink.datagrams - datagramsBefore;
    if (r > 0) samples.push((used.user + used.system) * 1000);
  }
  samples.sort((a, b) => a - b);
  const ns = samples[Math.floor(samples.length / 2)]!;
  const forwarded = perRound * fanout;
  if (forwardedInRounds !== forwarded * (rounds + 1)) throw new Error(`bench:router: ${forwardedInRounds} datagrams forwarded, expected ${forwarded * (rounds + 1)}`);

  // The flood: per speaker, copies of packets it already sent. Even ones are replays as they
  // are; odd ones get a fresh sequence number ahead of the stream and a random tag.
  const forged: Uint8Array[] = [];
  const forgedFrom: RemoteAddress[] = [];
  for (let p = 0; p < packetsPerSpeaker; p++) {
    for (let s = 0; s < speakers.length; s++) {
      const copy = Uint8Array.from(datagrams[p * speakers.length + s]!);
      if (p % 2 === 1) {
        copy[2] = (copy[2]! + 0x40) & 0xff;
        copy.set(randomBytes(16), copy.length - 16);
      }
      forged.push(copy);
      forgedFrom.push(speakers[s]!.from);
    }
  }
  expectedDrops = 'auth-or-replay';
  floodDrops = 0;
  const floodSamples: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < forged.length; i++) router.handle(forged[i]!, forgedFrom[i]!);
    const used = process.cpuUsage(before);
    if (r > 0) floodSamples.push((used.user + used.system) * 1000);
  }
  expectedDrops = 'none';
  if (floodDrops !== forged.length * (rounds + 1)) throw new Error(`bench:router: ${floodDrops} flood drops, expected ${forged.length * (rounds + 1)}`);
  floodSamples.sort((a, b) => a - b);
  const nsFlood = floodSamples[Math.floor(floodSamples.length / 2)]!;
  registry.close(now);
  return {
    fanout,
    channels,
    sessions: channels * (fanout + 1),
    incoming: perRound,
    forwarded,
    nsPerIncoming: Math.round(ns / perRound),
    nsPerForwarded: Math.round(ns / forwarded),
    forwardedPerSecond: Math.round(forwarded / (ns / 1e9)),
    nsPerForged: Math.round(nsFlood / forged.length),
  };
}

const results = fanouts.map(run);
if (values.json) {
  console.log(JSON.stringify({ backend: backend.name, node: process.version, results }));
} else {
  console.log(`relay router without I/O — ${values['per-listener'] ? 'one seal call per listener' : 'one fan-out seal call per packet'}, backend ${backend.name}${backend === nodeCryptoBackend ? ` (native unavailable: ${nativeGcmBackendError})` : ''}, node ${process.version}, median of ${rounds} rounds, CPU time`);
  console.log('  fan-out  channels  sessions  ns/incoming  ns/forwarded  forwarded/s  ns/forged');
  for (const r of results) {
    console.log(
      `  ${String(r.fanout).padStart(7)}  ${String(r.channels).padStart(8)}  ${String(r.sessions).padStart(8)}  ${String(r.nsPerIncoming).padStart(11)}  ${String(r.nsPerForwarded).padStart(12)}  ${r.forwardedPerSecond.toLocaleString('en-US').padStart(11)}  ${String(r.nsPerForged).padStart(9)}`,
    );
  }
}
