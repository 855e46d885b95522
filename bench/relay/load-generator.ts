/**
 * The load side of `npm run bench:relay`, run as its own process (pinned to the other core than
 * the relay) and driven over IPC by bench/relay.bench.ts (messages in load-protocol.ts).
 *
 * It plays every client of many voice channels at once: each channel has one speaker and N
 * listeners. Sessions are installed through the relay's signed internal API with keys sealed to
 * the relay; each listener binds its own UDP socket and latches it with a keepalive, as a real
 * client would. During a step the speakers send voice at 50 packets/s each (160-byte payloads,
 * 12-byte RTP header), protected ahead of time so the step measures the target, not this
 * process's encryption. Listeners only count what arrives; a small sample is copied and opened
 * with the listener's keys after the step, to prove the relay forwarded real, correctly
 * re-protected voice.
 *
 * Receiving: with the relay's native addon built, each socket is read in bursts with recvmmsg
 * (relay/src/io/datagram-receiver.ts) rather than one node:dgram event and Buffer per datagram:
 * less of this process's own CPU and garbage-collection pauses end up in the latency figures, for
 * the relay and the plain forwarder alike. Without the addon it falls back to node:dgram.
 *
 * Latency: this process both sends and receives, so one clock serves both ends. The send time of
 * every packet is kept by (speaker, sequence number) — both in the clear RTP header — and looked
 * up when the copy arrives at a listener. The relay numbers each listener's copy itself
 * (docs/protocol.md §6.7), but a listener's numbering equals the speaker's here: the speakers
 * start below 2^14, and nothing is withheld from a proved listener that is not over a limit (the
 * sample check compares the numbers, so it would tell).
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientMediaSession } from '../../shared/client/media-session.js';
import { decodeBase64Url } from '../../shared/relay-api/base64url.js';
import { nodeCryptoBackend } from '../../shared/srtp/backends/node-crypto.js';
import type { SrtpMasterKeys } from '../../shared/srtp/master-keys.js';
import { SRTP_PROFILES, type SrtpProfileName } from '../../shared/srtp/profiles.js';
import { DatagramReceiver } from '../../relay/src/io/datagram-receiver.js';
import { dgramSocketFd } from '../../relay/src/io/datagram-batch.js';
import { C_LOAD_GENERATOR_ENV, runCStep, type CStepOutput } from './c-load-generator.js';
import { loadNativeUdp } from '../../relay/src/io/native-udp.js';
import { coreBusySeconds, CpuMeter, udpDropsByPort, sumDrops } from './proc-stats.js';
import { fetchRelayMetrics, relayMetricsDelta, type RelayMetricsReading } from './relay-metrics.js';
import { RelaySessionInstaller, forEachConcurrently, type InstallableSession } from '../../cli/relay-session-installer.js';
import type {
  IdleInstallParams,
  IdleInstallResult,
  LatencySummary,
  LoadReply,
  LoadRequest,
  LoadTarget,
  PrepareParams,
  PrepareResult,
  RelayCounterDelta,
  StepParams,
  StepResult,
} from './load-protocol.js';

const PROFILE: SrtpProfileName = 'aes128gcm';
const HOST = '127.0.0.1';
/** Voice: one 20 ms Opus frame per packet. */
const PACKETS_PER_SECOND = 50;
const PACKET_INTERVAL_MS = 1000 / PACKETS_PER_SECOND;
const PAYLOAD_BYTES = 160;
/** Send times are kept for the last RING sequence numbers of each speaker (20 s of voice). */
const RING = 1024;
/** A send this far behind its schedule counts as late. */
const LATE_MS = 5;
/** Keepalives go out in batches this size, so a burst never overflows the target's socket buffer. */
const KEEPALIVE_BATCH = 100;
/** One listener in this many keeps a copy of its first datagrams of each step, to open later. */
const SAMPLE_EVERY = 40;
const SAMPLES_PER_LISTENER = 2;
const SESSION_LIFETIME_MS = 3_600_000;
const INSTALL_CONCURRENCY = 8;

interface Member {
  readonly session: InstallableSession;
  readonly client: ClientMediaSession;
}

interface Channel {
  readonly index: number;
  readonly speaker: Member;
  /** Global listener indexes into ChannelSet.listeners. */
  readonly listenerIndexes: readonly number[];
}

interface Sample {
  readonly listener: number;
  readonly bytes: Uint8Array;
}

/** Everything one `prepare` creates; `release` ends it. */
interface ChannelSet {
  readonly fanout: number;
  readonly channels: readonly Channel[];
  readonly listeners: readonly Member[];
  readonly listenerSockets: readonly Socket[];
  readonly listenerPorts: readonly number[];
  readonly listenerChannel: Uint32Array;
  readonly speakerSocket: Socket;
  /** Speaker SSRCs are speakerSsrcBase + channel index. */
  readonly speakerSsrcBase: number;
  readonly sendTimes: Float64Array;
}

let target: LoadTarget | null = null;
let api: RelaySessionInstaller | null = null;
let current: ChannelSet | null = null;
/** SSRCs are never reused within a run: the relay refuses a recently released SSRC. */
let nextSsrc = 0x00100000 + (randomBytes(2).readUInt16BE(0) << 4);
const runTag = randomBytes(3).toString('hex');
let sessionSerial = 0;

// Hot-path state, shared by every listener socket's handler.
let voiceReceived = 0;
let recordLatency = false;
let latencies = new Float64Array(0);
let latencyCount = 0;
let speakerPongs = 0;
/** Per listener: whether the relay's newest pong said its address is proved. */
let listenerProved = new Uint8Array(0);
let provedListeners = 0;
const samples: Sample[] = [];
let sampleBudget = new Uint8Array(0);

function directionKeys(): SrtpMasterKeys {
  const p = SRTP_PROFILES[PROFILE];
  return { masterKey: new Uint8Array(randomBytes(p.keyLength)), masterSalt: new Uint8Array(randomBytes(p.saltLength)) };
}

function newMember(channelId: string, ssrc: number, speaker: boolean): Member {
  const session: InstallableSession = {
    sessionId: `bench-${runTag}-${sessionSerial++}`,
    userId: `bench-user-${sessionSerial}`,
    channelId,
    ssrc,
    profile: PROFILE,
    canSpeak: speaker,
    canListen: !speaker,
    clientToRelay: directionKeys(),
    relayToClient: directionKeys(),
  };
  const client = new ClientMediaSession({
    profile: PROFILE,
    ssrc,
    sendKeys: session.clientToRelay,
    receiveKeys: session.relayToClient,
    backend: nodeCryptoBackend,
    initialSequence: randomBytes(2).readUInt16BE(0) & 0x3fff,
  });
  return { session, client };
}

/** Batched readers of the current channel set's sockets, closed before their sockets. */
const receivers: DatagramReceiver[] = [];
/** Listener sockets' readers, by socket, so a C step can take the sockets over and hand them back. */
const listenerReaders = new Map<Socket, { receiver: DatagramReceiver; onMessage: (message: Uint8Array) => void }>();
/** The built C load generator (bench/relay/udp-load.c) the timed steps run in, or null: this process's own loop. */
const cLoadGenerator = process.env[C_LOAD_GENERATOR_ENV] ?? null;

/** recvmmsg calls that returned datagrams, and those datagrams, over every listener socket so far. */
function receiverTotals(): { calls: number; datagrams: number } {
  let calls = 0;
  let datagrams = 0;
  for (const receiver of receivers) {
    calls += receiver.bursts;
    datagrams += receiver.received;
  }
  return { calls, datagrams };
}
const nativeUdp = loadNativeUdp();

function readBatched(socket: Socket, onMessage: (message: Uint8Array) => void): DatagramReceiver | null {
  const { receiver } = DatagramReceiver.forSocket(socket, nativeUdp, { onDatagram: onMessage, afterBurst: () => {}, onError: () => {} }, { maxDatagramBytes: 1500 });
  if (receiver !== null) receivers.push(receiver);
  return receiver;
}

async function bindConnected(port: number, onMessage: (message: Uint8Array) => void, listener = false): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, HOST, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // Connected: the kernel accepts datagrams from the target only, and sends need no lookup.
  await new Promise<void>((resolve) => socket.connect(port, HOST, () => resolve()));
  socket.on('error', () => {});
  const receiver = readBatched(socket, onMessage);
  if (receiver === null) socket.on('message', onMessage);
  else if (listener) listenerReaders.set(socket, { receiver, onMessage });
  return socket;
}

function isRtcp(message: Uint8Array): boolean {
  const type = message[1]!;
  return type >= 192 && type <= 223;
}

async function prepare(params: PrepareParams): Promise<PrepareResult> {
  if (target === null) throw new Error('load: configure first');
  if (current !== null) throw new Error('load: release the previous channel set first');
  const started = performance.now();
  const { fanout } = params;
  const speakerSsrcBase = nextSsrc;
  nextSsrc += params.channels;
  const channels: Channel[] = [];
  const listeners: Member[] = [];
  const listenerChannel = new Uint32Array(params.channels * fanout);
  for (let c = 0; c < params.channels; c++) {
    const channelId = `bench-${runTag}-f${fanout}-c${c}`;
    const speaker = newMember(channelId, speakerSsrcBase + c, true);
    const listenerIndexes: number[] = [];
    for (let j = 0; j < fanout; j++) {
      listenerChannel[listeners.length] = c;
      listenerIndexes.push(listeners.length);
      listeners.push(newMember(channelId, nextSsrc++, false));
    }
    channels.push({ index: c, speaker, listenerIndexes });
  }

  if (api !== null) {
    const client = api;
    const expiresAt = Date.now() + SESSION_LIFETIME_MS;
    const all = [...channels.map((c) => c.speaker.session), ...listeners.map((l) => l.session)];
    await forEachConcurrently(all, INSTALL_CONCURRENCY, (session) => client.install(session, expiresAt));
  }

  const speakerSocket = await bindConnected(target.udpPort, (message) => {
    if (isRtcp(message)) speakerPongs++;
  });
  const listenerSockets: Socket[] = [];
  const listenerPorts: number[] = [];
  const sendTimes = new Float64Array(params.channels * RING);
  sampleBudget = new Uint8Array(listeners.length);
  listenerProved = new Uint8Array(listeners.length);
  provedListeners = 0;
  for (let i = 0; i < listeners.length; i++) {
    const index = i;
    const socket = await bindConnected(target.udpPort, (message) => {
      if (isRtcp(message)) {
        answerKeepalive(index, message);
        return;
      }
      voiceReceived++;
      if (recordLatency) {
        const speaker = (((message[8]! << 24) | (message[9]! << 16) | (message[10]! << 8) | message[11]!) >>> 0) - speakerSsrcBase;
        const sentAt = sendTimes[speaker * RING + (((message[2]! << 8) | message[3]!) & (RING - 1))]!;
        if (sentAt > 0 && latencyCount < latencies.length) latencies[latencyCount++] = performance.now() - sentAt;
      }
      if (sampleBudget[index]! > 0) {
        sampleBudget[index]!--;
        samples.push({ listener: index, bytes: new Uint8Array(message) });
      }
    }, true);
    listenerSockets.push(socket);
    listenerPorts.push(socket.address().port);
  }
  /** A listener opens the relay's pongs: a challenge is answered at once, as a client must. */
  function answerKeepalive(index: number, message: Uint8Array): void {
    const member = listeners[index]!;
    let opened;
    try {
      opened = member.client.open(message);
    } catch {
      return;
    }
    if (opened.kind !== 'pong') return;
    if (opened.addressProved !== (listenerProved[index] === 1)) {
      listenerProved[index] = opened.addressProved ? 1 : 0;
      provedListeners += opened.addressProved ? 1 : -1;
    }
    if (opened.echoNow) listenerSockets[index]!.send(member.client.protectKeepalive(new Uint8Array(8)));
  }
  const set: ChannelSet = {
    fanout,
    channels,
    listeners,
    listenerSockets,
    listenerPorts,
    listenerChannel,
    speakerSocket,
    speakerSsrcBase,
    sendTimes,
  };
  current = set;

  let latched = 0;
  if (target.kind === 'relay') latched = (await sendKeepalives(set)).pongs;
  return {
    sessions: channels.length + listeners.length,
    sockets: listenerSockets.length + 1,
    installSeconds: (performance.now() - started) / 1000,
    latched,
    table: target.kind === 'plain' ? channels.map((c) => ({ ssrc: c.speaker.session.ssrc, ports: c.listenerIndexes.map((i) => listenerPorts[i]!) })) : null,
  };
}

/**
 * One keepalive from every member (relay only): keeps every session inside the relay's idle
 * timeout and every listener's address proved (the listener sockets' handler answers the
 * challenges). Waits until every listener is proved. Returns how many pongs came back.
 */
async function sendKeepalives(set: ChannelSet): Promise<{ sent: number; pongs: number }> {
  speakerPongs = 0;
  const token = new Uint8Array(8);
  const jobs: Array<{ socket: Socket; member: Member }> = [
    ...set.channels.map((c) => ({ socket: set.speakerSocket, member: c.speaker })),
    ...set.listeners.map((member, i) => ({ socket: set.listenerSockets[i]!, member })),
  ];
  for (let i = 0; i < jobs.length; i += KEEPALIVE_BATCH) {
    for (const { socket, member } of jobs.slice(i, i + KEEPALIVE_BATCH)) socket.send(member.client.protectKeepalive(token));
    await sleep(10);
  }
  const deadline = performance.now() + 3000;
  const answered = (): number => Math.min(speakerPongs, set.channels.length) + provedListeners;
  while (answered() < jobs.length && performance.now() < deadline) await sleep(20);
  // Speakers' pongs are counted, not opened (they share one socket and need no proved address:
  // they only talk); a listener counts once the relay says its address is proved.
  return { sent: jobs.length, pongs: answered() };
}

async function scrapeRelayCounters(): Promise<RelayMetricsReading | null> {
  if (target?.kind !== 'relay' || target.metricsUrl === null) return null;
  try {
    return await fetchRelayMetrics(target.metricsUrl, 2000);
  } catch {
    // The step is still measured on this side; it reports relay_counters: null.
    return null;
  }
}

function counterDelta(before: RelayMetricsReading | null, after: RelayMetricsReading | null): RelayCounterDelta | null {
  if (before === null || after === null) return null;
  const delta = relayMetricsDelta(before, after);
  const dropped = Object.fromEntries(Object.entries(delta.dropped).filter(([, count]) => count !== 0));
  const counts = delta.processing;
  const total = counts.at(-1)?.[1] ?? 0;
  /** Upper bound of the bucket holding quantile q, µs (null beyond the last finite bucket). */
  const quantile = (q: number): number | null => {
    if (total === 0) return null;
    const bucket = counts.find(([, count]) => count >= q * total);
    return bucket === undefined || !Number.isFinite(bucket[0]) ? null : Math.round(bucket[0] * 1e6);
  };
  return {
    packets_in: delta.packetsIn,
    packets_out: delta.packetsOut,
    dropped,
    processing_samples: total,
    processing_p50_le_us: quantile(0.5),
    processing_p99_le_us: quantile(0.99),
  };
}

/**
 * Speaker packets for one step, in send order: packet m is speaker (m mod C)'s (m div C)-th.
 * They live in one buffer (offset m × size), so tens of thousands of ready packets are one
 * object to the garbage collector, not tens of thousands.
 */
interface StepPackets {
  readonly slab: Buffer;
  readonly size: number;
  readonly count: number;
}

function protectStepPackets(set: ChannelSet, channels: number, perSpeaker: number): StepPackets {
  const payload = new Uint8Array(PAYLOAD_BYTES);
  for (let i = 8; i < PAYLOAD_BYTES; i++) payload[i] = (i * 7) & 0xff;
  const view = new DataView(payload.buffer);
  const count = channels * perSpeaker;
  let slab: Buffer | null = null;
  let size = 0;
  for (let c = 0; c < channels; c++) {
    const speaker = set.channels[c]!.speaker.client;
    for (let k = 0; k < perSpeaker; k++) {
      view.setUint32(0, c);
      view.setUint32(4, speaker.nextSequence);
      const packet = speaker.protectVoice(payload);
      if (slab === null) {
        size = packet.length;
        slab = Buffer.allocUnsafeSlow(count * size);
      }
      if (packet.length !== size) throw new Error('load: protected packets differ in length');
      slab.set(packet, (k * channels + c) * size);
    }
  }
  return { slab: slab ?? Buffer.alloc(0), size, count };
}

function summariseLatency(values: Float64Array, count: number): LatencySummary | null {
  if (count === 0) return null;
  const sorted = values.slice(0, count).sort();
  const at = (q: number): number => Math.round(sorted[Math.min(count - 1, Math.floor(q * count))]! * 1000);
  return { count, p50_us: at(0.5), p90_us: at(0.9), p99_us: at(0.99), max_us: Math.round(sorted[count - 1]! * 1000) };
}

/** Opens the sampled datagrams with each listener's keys; counts those that carry the expected voice. */
function checkSamples(set: ChannelSet): { checked: number; ok: number } {
  let ok = 0;
  for (const sample of samples) {
    const channel = set.channels[set.listenerChannel[sample.listener]!]!;
    try {
      const opened = set.listeners[sample.listener]!.client.open(sample.bytes);
      if (
        opened.kind === 'voice' &&
        opened.ssrc === channel.speaker.session.ssrc &&
        opened.payload.length === PAYLOAD_BYTES &&
        new DataView(opened.payload.buffer, opened.payload.byteOffset).getUint32(0) === channel.index &&
        new DataView(opened.payload.buffer, opened.payload.byteOffset).getUint32(4) === opened.sequenceNumber
      ) {
        ok++;
      }
    } catch {
      // counted as not ok
    }
  }
  const checked = samples.length;
  samples.length = 0;
  return { checked, ok };
}

/** What the timed part of a step measured, whichever program ran it. */
interface TimedStep {
  readonly generator: 'c' | 'node';
  readonly sent: number;
  readonly received: number;
  readonly maxLag: number;
  readonly late: number;
  readonly sendSeconds: number;
  /** ms on this process's performance clock (the C program's are mapped onto it). */
  readonly lastSendAt: number;
  readonly lastArrivalAt: number;
  readonly targetLap: { cpuSeconds: number };
  readonly windowStart: bigint;
  readonly windowEnd: bigint;
  readonly busyBefore: readonly number[];
  readonly busyAfter: readonly number[];
  /** The sending and counting program's CPU over the step. */
  readonly ownCpuSeconds: number;
  readonly sendCalls: number;
  readonly receiveCalls: number;
  readonly receiveDatagrams: number;
  readonly latency: LatencySummary | null;
}

/** The timed part of a step in this process: one node:dgram send per packet, listeners read by the receivers. */
async function timedInNode(set: ChannelSet, channels: number, packets: StepPackets): Promise<TimedStep> {
  const { slab, size } = packets;
  const total = packets.count;
  voiceReceived = 0;
  const receivedBefore = receiverTotals();
  // Timed: packet m goes out at t0 + m × (20 ms / channels), so each speaker sends every 20 ms
  // and the speakers' packets interleave evenly.
  const interval = PACKET_INTERVAL_MS / channels;
  const socket = set.speakerSocket;
  const sendTimes = set.sendTimes;
  const targetCpu = CpuMeter.forPid(target!.pid);
  const ownCpu = CpuMeter.forSelf();
  const busyBefore = coreBusySeconds();
  const windowStart = process.hrtime.bigint();
  const t0 = performance.now();
  let sent = 0;
  let maxLag = 0;
  let late = 0;
  let lastSendAt = t0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - t0) / interval) + 1);
      while (sent < due) {
        const offset = sent * size;
        const sentAt = performance.now();
        const lag = sentAt - (t0 + sent * interval);
        if (lag > maxLag) maxLag = lag;
        if (lag > LATE_MS) late++;
        sendTimes[(sent % channels) * RING + (((slab[offset + 2]! << 8) | slab[offset + 3]!) & (RING - 1))] = sentAt;
        socket.send(slab, offset, size);
        sent++;
        lastSendAt = sentAt;
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const sendSeconds = Math.max(1e-3, (lastSendAt - t0) / 1000);

  // Drain: wait until nothing has arrived for 150 ms (at most 3 s).
  let seen = voiceReceived;
  let quietSince = performance.now();
  /** When the last voice datagram was seen arriving (10 ms resolution). */
  let lastArrivalAt = quietSince;
  const drainDeadline = performance.now() + 3000;
  while (performance.now() < drainDeadline) {
    await sleep(10);
    if (voiceReceived !== seen) {
      seen = voiceReceived;
      quietSince = performance.now();
      lastArrivalAt = quietSince;
    } else if (performance.now() - quietSince >= 150) break;
  }
  const targetLap = targetCpu.lap();
  const windowEnd = process.hrtime.bigint();
  const busyAfter = coreBusySeconds();
  const ownLap = ownCpu.lap();
  const receivedAfter = receiverTotals();
  return {
    generator: 'node',
    sent,
    received: voiceReceived,
    maxLag,
    late,
    sendSeconds,
    lastSendAt,
    lastArrivalAt,
    targetLap,
    windowStart,
    windowEnd,
    busyBefore,
    busyAfter,
    ownCpuSeconds: ownLap.cpuSeconds,
    sendCalls: sent,
    receiveCalls: receivedAfter.calls - receivedBefore.calls,
    receiveDatagrams: receivedAfter.datagrams - receivedBefore.datagrams,
    latency: recordLatency ? summariseLatency(latencies, latencyCount) : null,
  };
}

/**
 * The timed part of a step in the C load generator (bench/relay/udp-load.c): the same packets
 * and schedule, sent with sendmmsg from the same speakers' socket and counted with recvmmsg on
 * the same listener sockets, which it inherits; their readers here stop for the step and start
 * again after it. Latency and samples come back from it too.
 */
async function timedInC(binary: string, set: ChannelSet, channels: number, packets: StepPackets, withLatency: boolean): Promise<TimedStep> {
  const speakerFd = dgramSocketFd(set.speakerSocket);
  const listenerFds = set.listenerSockets.map((socket) => dgramSocketFd(socket));
  if (speakerFd === null || listenerFds.some((fd) => fd === null)) throw new Error('load: cannot find the sockets\' file descriptors for the C load generator');
  const dir = mkdtempSync(join(tmpdir(), 'parley-udp-load-'));
  const file = join(dir, 'packets');
  writeFileSync(file, packets.slab.subarray(0, packets.count * packets.size));
  const paused = set.listenerSockets.map((socket) => listenerReaders.get(socket)!);
  for (const { receiver } of paused) receiver.close();
  let targetCpu: CpuMeter | null = null;
  let busyBefore: number[] = [];
  let windowStart = 0n;
  let t0 = 0;
  let output: CStepOutput;
  try {
    output = await runCStep({
      binary,
      packetsFile: file,
      size: packets.size,
      count: packets.count,
      channels,
      intervalNs: Math.round((PACKET_INTERVAL_MS * 1e6) / channels),
      speakerFd,
      listenerFds: listenerFds as number[],
      ssrcBase: set.speakerSsrcBase,
      recordLatency: withLatency,
      sampleEvery: target!.kind === 'relay' ? SAMPLE_EVERY : 1_000_000,
      samplesPerListener: target!.kind === 'relay' ? SAMPLES_PER_LISTENER : 0,
      sampleListenersBelow: channels * set.fanout,
      onStart: () => {
        targetCpu = CpuMeter.forPid(target!.pid);
        busyBefore = coreBusySeconds();
        windowStart = process.hrtime.bigint();
        t0 = performance.now();
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    // Hand the sockets back to this process's readers (keepalive answers between steps).
    for (const [i, socket] of set.listenerSockets.entries()) {
      const receiver = readBatched(socket, paused[i]!.onMessage);
      if (receiver === null) throw new Error('load: could not resume reading a listener socket after the C step');
      listenerReaders.set(socket, { receiver, onMessage: paused[i]!.onMessage });
    }
  }
  const targetLap = (targetCpu as CpuMeter | null)?.lap() ?? { cpuSeconds: 0 };
  const windowEnd = process.hrtime.bigint();
  const busyAfter = coreBusySeconds();
  samples.length = 0;
  for (const sample of output.samples) samples.push({ listener: sample.listener, bytes: new Uint8Array(Buffer.from(sample.hex, 'hex')) });
  const lastSendAt = t0 + output.send_seconds * 1000;
  return {
    generator: 'c',
    sent: output.sent,
    received: output.received,
    maxLag: output.max_lag_ms,
    late: output.late_sends,
    sendSeconds: Math.max(1e-3, output.send_seconds),
    lastSendAt,
    lastArrivalAt: lastSendAt + output.drain_ms,
    targetLap,
    windowStart,
    windowEnd,
    busyBefore,
    busyAfter,
    ownCpuSeconds: output.cpu_seconds,
    sendCalls: output.send_calls,
    receiveCalls: output.receive_calls,
    receiveDatagrams: output.receive_datagrams,
    latency: output.latency,
  };
}

async function step(params: StepParams): Promise<StepResult> {
  const set = current;
  if (set === null || target === null) throw new Error('load: prepare first');
  const channels = Math.min(params.channels, set.channels.length);
  const perSpeaker = Math.max(1, Math.round(params.seconds * PACKETS_PER_SECOND));

  // Untimed preparation: packets, buffers, samples, then keepalives (idle timeout, proved
  // addresses). Two rounds, the second echoing the cookie the first brought: every listener's
  // consent then runs 30 s from now, covering the longest step (as the idle timeout does).
  const packets = protectStepPackets(set, channels, perSpeaker);
  if (target.kind === 'relay') await sendKeepalives(set);
  const keepalive = target.kind === 'relay' ? await sendKeepalives(set) : { sent: 0, pongs: 0 };
  const { slab, size } = packets;
  const total = packets.count;
  set.sendTimes.fill(0);
  recordLatency = params.recordLatency;
  latencies = new Float64Array(params.recordLatency ? total * set.fanout : 0);
  latencyCount = 0;
  samples.length = 0;
  if (target.kind === 'relay') {
    for (let i = 0; i < set.listeners.length; i += SAMPLE_EVERY) {
      if (set.listenerChannel[i]! < channels) sampleBudget[i] = SAMPLES_PER_LISTENER;
    }
  }
  const countersBefore = await scrapeRelayCounters();
  const dropsBefore = udpDropsByPort();
  await sleep(50);

  const timed = cLoadGenerator !== null && listenerReaders.size === set.listenerSockets.length
    ? await timedInC(cLoadGenerator, set, channels, packets, params.recordLatency)
    : await timedInNode(set, channels, packets);
  const { sent, maxLag, late, sendSeconds, lastArrivalAt, lastSendAt, targetLap, windowStart, windowEnd, busyBefore, busyAfter, ownCpuSeconds, received, sendCalls, receiveCalls, receiveDatagrams } = timed;
  const windowSeconds = Number(windowEnd - windowStart) / 1e9;
  recordLatency = false;
  sampleBudget.fill(0);
  const dropsAfter = udpDropsByPort();
  const countersAfter = await scrapeRelayCounters();
  const sample = checkSamples(set);

  // The window includes the backlog the target worked off after the last send (and a quiet
  // tail that costs next to nothing), so per-core figures count all the work the step caused.
  const targetCpuSeconds = targetLap.cpuSeconds;
  const expected = sent * set.fanout;
  const loadCores = ownCpuSeconds / sendSeconds;
  return {
    fanout: set.fanout,
    channels,
    offered_in_pps: channels * PACKETS_PER_SECOND,
    offered_out_pps: channels * PACKETS_PER_SECOND * set.fanout,
    sent,
    expected,
    received,
    loss: expected === 0 ? 0 : (expected - received) / expected,
    window_start_us: Number(windowStart / 1000n),
    window_end_us: Number(windowEnd / 1000n),
    send_seconds: sendSeconds,
    out_pps: received / sendSeconds,
    target_cpu_seconds: targetCpuSeconds,
    target_cores: targetCpuSeconds / sendSeconds,
    out_pps_per_core: targetCpuSeconds > 0 ? received / targetCpuSeconds : 0,
    load_cores: loadCores,
    max_send_lag_ms: maxLag,
    late_sends: late,
    drain_ms: Math.max(0, lastArrivalAt - lastSendAt),
    load_saturated: loadCores > 0.85 || sendSeconds > params.seconds * 1.05 + 0.05,
    core_busy: busyAfter.map((b, i) => (b - (busyBefore[i] ?? b)) / windowSeconds),
    window_seconds: windowSeconds,
    target_window_cores: targetLap.cpuSeconds / windowSeconds,
    load_window_cores: ownCpuSeconds / windowSeconds,
    target_socket_drops: (dropsAfter.get(target.udpPort) ?? 0) - (dropsBefore.get(target.udpPort) ?? 0),
    listener_socket_drops: sumDrops(dropsAfter, set.listenerPorts) - sumDrops(dropsBefore, set.listenerPorts),
    relay_counters: counterDelta(countersBefore, countersAfter),
    latency: params.recordLatency ? timed.latency : null,
    sample_checked: sample.checked,
    sample_ok: sample.ok,
    keepalive_pongs: keepalive.pongs,
    keepalives_sent: keepalive.sent,
    load_send_calls: sendCalls,
    load_receive_calls: receiveCalls,
    load_receive_datagrams: receiveDatagrams,
    load_generator: timed.generator,
  };
}

async function release(): Promise<{ revoked: number }> {
  const set = current;
  if (set === null) return { revoked: 0 };
  current = null;
  let revoked = 0;
  if (api !== null) {
    const client = api;
    const ids = [...set.channels.map((c) => c.speaker.session.sessionId), ...set.listeners.map((l) => l.session.sessionId)];
    await forEachConcurrently(ids, INSTALL_CONCURRENCY, async (id) => {
      await client.revoke(id);
      revoked++;
    });
  }
  for (const receiver of receivers.splice(0)) receiver.close();
  await Promise.all([set.speakerSocket, ...set.listenerSockets].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  for (const member of [...set.channels.map((c) => c.speaker), ...set.listeners]) member.client.close();
  return { revoked };
}

async function installIdle(params: IdleInstallParams): Promise<IdleInstallResult> {
  if (api === null) throw new Error('load: idle sessions need the relay API');
  const client = api;
  const retriesBefore = client.retries;
  const started = performance.now();
  const expiresAt = Date.now() + SESSION_LIFETIME_MS;
  const sessions: InstallableSession[] = [];
  for (let i = 0; i < params.sessions; i++) {
    const channelId = `bench-${runTag}-idle-c${Math.floor(i / params.channelSize)}`;
    const member = newMember(channelId, nextSsrc++, i % params.channelSize === 0);
    member.client.close();
    sessions.push(member.session);
  }
  let installed = 0;
  let refused = 0;
  let firstError: string | null = null;
  const count = async (install: () => Promise<unknown>): Promise<void> => {
    try {
      await install();
      installed++;
    } catch (error) {
      refused++;
      firstError ??= error instanceof Error ? error.message : String(error);
    }
  };
  if (params.presealed === true) {
    const bodies = sessions.map((session) => client.seal(session, expiresAt));
    const burstStarted = performance.now();
    await forEachConcurrently(bodies, params.concurrency, (body) => count(() => client.sendSealed(body)));
    return { installed, refused, seconds: (performance.now() - burstStarted) / 1000, firstError, retries: client.retries - retriesBefore };
  }
  await forEachConcurrently(sessions, params.concurrency, (session) => count(() => client.install(session, expiresAt)));
  return { installed, refused, seconds: (performance.now() - started) / 1000, firstError, retries: client.retries - retriesBefore };
}

function configure(params: LoadTarget): { ok: true } {
  target = params;
  if (params.kind === 'relay') {
    const publicKey = decodeBase64Url(params.relayPublicKey);
    const secret = decodeBase64Url(params.apiSecret);
    if (publicKey === null || secret === null) throw new Error('load: relay key or API secret is not base64url');
    api = new RelaySessionInstaller({ baseUrl: params.apiUrl, relayId: params.relayId, relayBootId: params.relayBootId, relayPublicKey: publicKey, key: { keyId: params.apiKeyId, secret } });
  } else {
    api = null;
  }
  return { ok: true };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function dispatch(request: LoadRequest): Promise<unknown> {
  switch (request.method) {
    case 'configure':
      return configure(request.params);
    case 'prepare':
      return prepare(request.params);
    case 'step':
      return step(request.params);
    case 'release':
      return release();
    case 'installIdle':
      return installIdle(request.params);
  }
}

if (process.send === undefined) {
  console.error('load-generator: run by bench/relay.bench.ts (needs an IPC channel)');
  process.exit(2);
}
// One request at a time, in order: the driver waits for each answer.
let queue: Promise<void> = Promise.resolve();
process.on('message', (message: LoadRequest) => {
  queue = queue.then(async () => {
    let reply: LoadReply;
    try {
      reply = { id: message.id, result: await dispatch(message) };
    } catch (error) {
      reply = { id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    }
    process.send!(reply);
  });
});
// The driver went away (Ctrl-C, crash): leave at once.
process.on('disconnect', () => process.exit(0));
