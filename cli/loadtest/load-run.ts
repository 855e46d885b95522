/**
 * One load-test run: many simulated voice clients, each a real client on its own UDP socket.
 *
 * Before the clock starts, the provisioner prepares every member (relay mode: keys drawn and
 * sealed to the relay, so this process's X25519 work does not delay others' voice). Channels
 * then join spread over the ramp-up: every member gets its session from the provisioner (relay
 * mode: one signed install through the relay's internal API), binds a socket, and pings until
 * the relay says its address is proved — latching and consent as docs/protocol.md §6.3 asks,
 * answering each challenge at once. Once all of a channel's members have joined, its speakers
 * talk: `rate` packets per second each, SRTP-protected when sent, the payload carrying the send
 * time (voice-payload.ts). Every member decrypts every packet it receives with its own keys and
 * counts what fails (auth or parse: decrypt failures; replay window: replay failures), pings
 * every 5 s, and measures one-way latency and RFC 3550 jitter per speaker stream. Talking stops
 * at ramp-up + duration for all; then the run drains briefly and revokes every session.
 *
 * Bounded: the options are (loadtest-options.ts), joins give up after LATCH_TIMEOUT_MS, the drain
 * after DRAIN_MAX_MS; an AbortSignal (Ctrl-C) ends the talking early and still cleans up.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { ClientMediaSession } from '../../shared/client/media-session.js';
import { nodeCryptoBackend } from '../../shared/srtp/backends/node-crypto.js';
import { SrtpError } from '../../shared/srtp/errors.js';
import { forEachConcurrently } from '../relay-session-installer.js';
import type { LoadShape, LoadtestOptions } from './loadtest-options.js';
import { UnlistedAddressError, type MemberProvisioner, type PlannedMember, type ProvisionedMember } from './member-provisioner.js';
import { InterarrivalJitter } from '../../shared/client/interarrival-jitter.js';
import { histogram, lossSeries, percentile, PerSecondSeries, sortedCopy, type Histogram } from './summary-math.js';
import { UdpImpairmentProxy, type DirectionStats, type ImpairmentSettings, type UdpEndpoint } from './udp-impairment-proxy.js';
import { readVoicePayload, writeVoicePayload } from './voice-payload.js';

/** Pings every 5 s, as §6.3 says a client SHOULD. */
const KEEPALIVE_INTERVAL_MS = 5000;
/** While joining, a ping every 250 ms until the address is proved, for at most 5 s. */
const LATCH_RETRY_MS = 250;
const LATCH_TIMEOUT_MS = 5000;
/** Sessions provisioned at once. */
const PROVISION_CONCURRENCY = 16;
/** After talking stops: wait until nothing arrived for this long, but at most DRAIN_MAX_MS. */
const DRAIN_QUIET_MS = 300;
const DRAIN_MAX_MS = 3000;
/** Sessions outlive the longest run (ramp-up 120 s + duration 600 s) with room to spare. */
export const SESSION_LIFETIME_MS = 30 * 60_000;
const SOCKET_BUFFER_BYTES = 1024 * 1024;

/** Milliseconds since the Unix epoch, sub-millisecond: every client of the run shares it. */
function clock(): number {
  return performance.timeOrigin + performance.now();
}

export interface ProgressSnapshot {
  readonly elapsedMs: number;
  readonly phase: 'joining' | 'talking' | 'draining';
  readonly planned: number;
  readonly joined: number;
  readonly failedJoins: number;
  readonly sent: number;
  readonly expected: number;
  readonly received: number;
  readonly decryptFailures: number;
  readonly replayFailures: number;
  /** Median one-way latency of the copies received since the previous snapshot, ms (NaN if none). */
  readonly recentLatencyP50Ms: number;
}

export interface DistributionSummary {
  readonly samples: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export interface LoadResult {
  readonly startedAt: string;
  readonly elapsedSeconds: number;
  readonly interrupted: boolean;
  readonly target: Readonly<Record<string, string>>;
  readonly shape: LoadShape;
  readonly impairment: {
    readonly settings: ImpairmentSettings;
    readonly directions: string;
    readonly toRelay: DirectionStats;
    readonly toClients: DirectionStats;
  } | null;
  readonly clients: { readonly planned: number; readonly joined: number; readonly failedJoins: number; readonly firstJoinError: string | null };
  /** Session provisioning (relay mode: one signed install, keys sealed; control-plane mode: the handshake), ms. */
  readonly provisionMs: DistributionSummary;
  /** Control-plane mode: the room's socket opened until voice_ready (WSS join and key exchange), ms; null in relay mode. */
  readonly handshakeMs: DistributionSummary | null;
  /** First ping until the relay said the address is proved (latching + consent), ms. */
  readonly latchMs: DistributionSummary;
  readonly keepaliveRttMs: DistributionSummary;
  readonly packets: { readonly sent: number; readonly expected: number; readonly received: number; readonly lost: number; readonly lossPercent: number };
  readonly latencyMs: DistributionSummary & { readonly mean: number | null };
  /** RFC 3550 interarrival jitter per (listener, speaker) stream at the end of the run, ms. */
  readonly jitterMs: { readonly streams: number; readonly mean: number | null; readonly max: number | null };
  readonly failures: { readonly decrypt: number; readonly replay: number; readonly corruptPayload: number };
  readonly throughput: { readonly meanReceivedPps: number; readonly peakReceivedPps: number; readonly meanReceivedMbps: number };
  /** Largest delay of a send behind its schedule, ms (large: this machine could not keep up). */
  readonly maxSendLagMs: number;
  readonly series: {
    /** Second i covers [i, i+1) s from the start of the run. */
    readonly second: readonly number[];
    readonly sent: readonly number[];
    /** Copies received, by arrival second. */
    readonly received: readonly number[];
    /** Share of the copies sent in that second that never arrived (null: none expected). */
    readonly loss: ReadonlyArray<number | null>;
    /** Received voice datagrams' bytes, Mbit/s, by arrival second. */
    readonly receivedMbps: readonly number[];
  };
  readonly latencyHistogram: Histogram;
  /** Control-plane mode: the handshake times (WSS join → voice_ready) binned, ms; null in relay mode. */
  readonly handshakeHistogram: Histogram | null;
}

export interface LoadRunOptions {
  readonly shape: LoadShape;
  readonly provisioner: MemberProvisioner;
  readonly impairment: LoadtestOptions['impairment'];
  readonly onProgress?: (snapshot: ProgressSnapshot) => void;
  readonly progressIntervalMs?: number;
  /** Aborting ends the talking now; the run still drains, revokes its sessions and returns. */
  readonly signal?: AbortSignal;
}

interface Client {
  readonly planned: PlannedMember;
  readonly channel: ChannelState;
  provisioned: ProvisionedMember | null;
  media: ClientMediaSession | null;
  socket: Socket | null;
  destination: UdpEndpoint | null;
  proved: boolean;
  onProved: (() => void) | null;
  nextKeepaliveAt: number;
  readonly jitter: Map<number, InterarrivalJitter>;
}

interface ChannelState {
  readonly index: number;
  readonly clients: Client[];
  /** Members that joined; each packet a speaker sends is expected at the other ones. */
  joined: number;
  active: boolean;
}

interface Speaker {
  readonly client: Client;
  readonly index: number;
  readonly phaseMs: number;
  nextDue: number;
  frame: number;
}

/** A Float64Array that grows, for samples. */
class Samples {
  #values = new Float64Array(4096);
  length = 0;
  push(value: number): void {
    if (this.length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.length++] = value;
  }
  slice(from = 0): Float64Array {
    return this.#values.slice(from, this.length);
  }
}

function summarise(samples: Samples | Float64Array): DistributionSummary {
  const sorted = sortedCopy(samples instanceof Samples ? samples.slice() : samples);
  const at = (p: number): number | null => (sorted.length === 0 ? null : percentile(sorted, p));
  return { samples: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: sorted.length === 0 ? null : sorted[sorted.length - 1]! };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function runLoad(options: LoadRunOptions): Promise<LoadResult> {
  const { shape, provisioner } = options;
  // One internal signal, followed by every wait of the run (many at once while channels join).
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const onOuterAbort = (): void => stop.abort();
  if (options.signal?.aborted) stop.abort();
  else options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = stop.signal;
  const runTag = randomBytes(4).readUInt32BE(0);
  const intervalMs = 1000 / shape.rate;
  const seriesSeconds = Math.ceil(shape.rampUpSeconds + shape.durationSeconds) + Math.ceil(DRAIN_MAX_MS / 1000) + 1;

  // Counters, shared by every client's receive handler.
  let sent = 0;
  let expected = 0;
  let received = 0;
  let decryptFailures = 0;
  let replayFailures = 0;
  let corruptPayload = 0;
  let joined = 0;
  let failedJoins = 0;
  let firstJoinError: string | null = null;
  let maxSendLagMs = 0;
  let lastArrival = 0;
  const latencies = new Samples();
  const provisionMs = new Samples();
  const handshakeMs = new Samples();
  const latchMs = new Samples();
  const rttMs = new Samples();
  const sentSeries = new PerSecondSeries(seriesSeconds);
  const expectedBySend = new PerSecondSeries(seriesSeconds);
  const arrivedBySend = new PerSecondSeries(seriesSeconds);
  const receivedByArrival = new PerSecondSeries(seriesSeconds);
  const bytesByArrival = new PerSecondSeries(seriesSeconds);

  // Plan: channel c's members are indexes c × members …; its first `speakers` talk.
  const channels: ChannelState[] = [];
  const clients: Client[] = [];
  const speakers: Speaker[] = [];
  /** SSRC of each speaker index, to check a copy comes under its speaker's SSRC. */
  const speakerSsrc: number[] = [];
  const totalSpeakers = shape.channels * shape.speakers;
  for (let c = 0; c < shape.channels; c++) {
    const channel: ChannelState = { index: c, clients: [], joined: 0, active: false };
    channels.push(channel);
    for (let m = 0; m < shape.members; m++) {
      const planned: PlannedMember = { index: clients.length, channelIndex: c, speaks: m < shape.speakers, profile: shape.profile };
      const client: Client = { planned, channel, provisioned: null, media: null, socket: null, destination: null, proved: false, onProved: null, nextKeepaliveAt: Infinity, jitter: new Map() };
      channel.clients.push(client);
      clients.push(client);
      if (planned.speaks) {
        // Speakers' send times spread evenly over one interval, so the load is smooth.
        speakers.push({ client, index: speakers.length, phaseMs: (speakers.length / totalSpeakers) * intervalMs, nextDue: Infinity, frame: 0 });
        speakerSsrc.push(0);
      }
    }
  }
  const speakerOf = new Map<Client, Speaker>(speakers.map((s) => [s.client, s]));

  // Untimed: what each member needs before it can join (relay mode: its sealed keys;
  // control-plane mode: the run's channels and every member signed in).
  for (const client of clients) provisioner.prepare(client.planned);
  await provisioner.setUp?.(clients.map((c) => c.planned));
  const startedAt = new Date();
  const t0 = clock();
  const talkEndsAt = t0 + (shape.rampUpSeconds + shape.durationSeconds) * 1000;
  lastArrival = t0;

  // Impairment: one proxy per relay endpoint, started when a session first names it.
  const proxies = new Map<string, Promise<UdpImpairmentProxy>>();
  function destinationFor(endpoint: UdpEndpoint): Promise<UdpEndpoint> {
    const impairment = options.impairment;
    if (impairment === null) return Promise.resolve(endpoint);
    const key = `${endpoint.host}|${endpoint.port}`;
    let proxy = proxies.get(key);
    if (proxy === undefined) {
      proxy = UdpImpairmentProxy.start({ upstream: endpoint, impairment: impairment.settings, directions: impairment.directions });
      proxies.set(key, proxy);
    }
    return proxy.then((p) => p.address);
  }

  function keepaliveToken(): Uint8Array {
    const token = new Uint8Array(8);
    new DataView(token.buffer).setFloat64(0, clock());
    return token;
  }

  function sendKeepalive(client: Client): void {
    if (client.media === null || client.socket === null || client.destination === null) return;
    client.socket.send(client.media.protectKeepalive(keepaliveToken()), client.destination.port, client.destination.host);
  }

  function onDatagram(client: Client, datagram: Buffer): void {
    const arrivedAt = clock();
    const media = client.media;
    if (media === null) return;
    let opened;
    try {
      opened = media.open(datagram);
    } catch (error) {
      if (!(error instanceof SrtpError)) throw error;
      if (error.reason === 'replay' || error.reason === 'too-old') replayFailures++;
      else decryptFailures++;
      return;
    }
    if (opened.kind === 'pong') {
      const sentAt = new DataView(opened.token.buffer, opened.token.byteOffset, 8).getFloat64(0);
      // A challenge the relay sent unprompted carries a zero token: no round trip in it.
      if (sentAt > 0) rttMs.push(arrivedAt - sentAt);
      if (opened.addressProved && !client.proved) {
        client.proved = true;
        client.onProved?.();
      } else if (!opened.addressProved) {
        client.proved = false;
      }
      if (opened.echoNow) sendKeepalive(client);
      return;
    }
    if (opened.kind !== 'voice') return;
    const fields = readVoicePayload(opened.payload, runTag, shape.payloadBytes);
    if (fields === null || speakerSsrc[fields.speaker] !== opened.ssrc || fields.speaker === speakerOf.get(client)?.index) {
      corruptPayload++;
      return;
    }
    received++;
    lastArrival = arrivedAt;
    latencies.push(arrivedAt - fields.sentAtMs);
    let jitter = client.jitter.get(opened.ssrc);
    if (jitter === undefined) client.jitter.set(opened.ssrc, (jitter = new InterarrivalJitter()));
    jitter.add(fields.sentAtMs, arrivedAt);
    arrivedBySend.add(fields.sentAtMs - t0);
    receivedByArrival.add(arrivedAt - t0);
    bytesByArrival.add(arrivedAt - t0, datagram.length);
  }

  async function bindClientSocket(client: Client, loopback: boolean): Promise<Socket> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, loopback ? '127.0.0.1' : '0.0.0.0', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    try {
      socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
    } catch {
      // capped by the kernel; the default works at modest rates
    }
    socket.on('error', () => {
      // ICMP unreachable after the relay went away: the next datagrams say what matters.
    });
    socket.on('message', (datagram) => onDatagram(client, datagram));
    return socket;
  }

  async function join(client: Client): Promise<void> {
    const started = clock();
    const provisioned = await provisioner.provision(client.planned);
    client.provisioned = provisioned;
    provisionMs.push(clock() - started);
    if (provisioned.handshakeMs !== undefined) handshakeMs.push(provisioned.handshakeMs);
    if (client.planned.speaks) speakerSsrc[speakerOf.get(client)!.index] = provisioned.ssrc;
    client.media = new ClientMediaSession({
      profile: shape.profile,
      ssrc: provisioned.ssrc,
      sendKeys: provisioned.sendKeys,
      receiveKeys: provisioned.receiveKeys,
      backend: nodeCryptoBackend,
      // Below 2^15, as §6.1 requires; random so streams differ.
      initialSequence: randomBytes(2).readUInt16BE(0) & 0x7fff,
      timestampStep: Math.round(48_000 / shape.rate),
    });
    client.destination = await destinationFor(provisioned.udpEndpoint);
    client.socket = await bindClientSocket(client, client.destination.host.startsWith('127.'));
    const latchStarted = clock();
    const proved = new Promise<void>((resolve) => (client.onProved = resolve));
    const deadline = latchStarted + LATCH_TIMEOUT_MS;
    while (!client.proved) {
      if (clock() >= deadline || signal?.aborted) throw new Error('the relay did not prove the address within 5 s');
      sendKeepalive(client);
      await Promise.race([proved, sleep(LATCH_RETRY_MS, signal)]);
    }
    client.onProved = null;
    latchMs.push(clock() - latchStarted);
    client.nextKeepaliveAt = clock() + KEEPALIVE_INTERVAL_MS * (0.5 + Math.random() / 2);
  }

  // Install concurrency is shared by all channels: a simple counting gate.
  let inFlight = 0;
  const waiting: Array<() => void> = [];
  async function gated<T>(work: () => Promise<T>): Promise<T> {
    while (inFlight >= PROVISION_CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
    inFlight++;
    try {
      return await work();
    } finally {
      inFlight--;
      waiting.shift()?.();
    }
  }

  async function joinChannel(channel: ChannelState): Promise<void> {
    await Promise.all(
      channel.clients.map(async (client) => {
        try {
          await gated(() => join(client));
          channel.joined++;
          joined++;
        } catch (error) {
          failedJoins++;
          firstJoinError ??= error instanceof Error ? error.message : String(error);
          // An endpoint the user did not name stops the whole run: nothing is sent there.
          if (error instanceof UnlistedAddressError) {
            fatal ??= error;
            stop.abort();
          }
        }
      }),
    );
    if (signal?.aborted || channel.joined < 2) return;
    channel.active = true;
    const now = clock();
    for (const client of channel.clients) {
      const speaker = speakerOf.get(client);
      if (speaker === undefined || client.media === null) continue;
      // The next slot of this speaker's phase.
      speaker.nextDue = now + ((speaker.phaseMs - (now - t0)) % intervalMs + intervalMs) % intervalMs;
    }
  }

  const payload = new Uint8Array(shape.payloadBytes);
  function sendDue(now: number): void {
    for (const speaker of speakers) {
      const client = speaker.client;
      while (speaker.nextDue <= now && speaker.nextDue < talkEndsAt) {
        const media = client.media!;
        const sentAt = clock();
        maxSendLagMs = Math.max(maxSendLagMs, sentAt - speaker.nextDue);
        writeVoicePayload(payload, runTag, { speaker: speaker.index, frame: speaker.frame++, sentAtMs: sentAt });
        client.socket!.send(media.protectVoice(payload), client.destination!.port, client.destination!.host);
        sent++;
        // Those of its channel's members who joined, but itself.
        expected += client.channel.joined - 1;
        sentSeries.add(sentAt - t0);
        expectedBySend.add(sentAt - t0, client.channel.joined - 1);
        speaker.nextDue += intervalMs;
      }
    }
  }

  let lastKeepaliveSweep = 0;
  function keepalivesDue(now: number): void {
    if (now - lastKeepaliveSweep < 100) return;
    lastKeepaliveSweep = now;
    for (const client of clients) {
      if (now >= client.nextKeepaliveAt) {
        sendKeepalive(client);
        client.nextKeepaliveAt += KEEPALIVE_INTERVAL_MS;
      }
    }
  }

  let progressLatencyFrom = 0;
  function snapshot(phase: ProgressSnapshot['phase']): ProgressSnapshot {
    const recent = sortedCopy(latencies.slice(progressLatencyFrom));
    progressLatencyFrom = latencies.length;
    return {
      elapsedMs: clock() - t0,
      phase,
      planned: clients.length,
      joined,
      failedJoins,
      sent,
      expected,
      received,
      decryptFailures,
      replayFailures,
      recentLatencyP50Ms: recent.length === 0 ? Number.NaN : percentile(recent, 50),
    };
  }

  const joins: Array<Promise<void>> = [];
  let interrupted = false;
  let fatal: Error | null = null;
  try {
    // Ramp-up and talking, on one loop: channels start joining on their schedule, speakers send
    // what is due, keepalives go out, progress is reported.
    const progressEvery = options.progressIntervalMs ?? 1000;
    let nextProgress = t0 + progressEvery;
    let nextChannel = 0;
    const rampStep = shape.channels > 1 ? (shape.rampUpSeconds * 1000) / shape.channels : 0;
    for (;;) {
      const now = clock();
      if (signal?.aborted) {
        interrupted = true;
        break;
      }
      while (nextChannel < channels.length && now >= t0 + nextChannel * rampStep) joins.push(joinChannel(channels[nextChannel++]!));
      sendDue(now);
      keepalivesDue(now);
      if (now >= nextProgress) {
        options.onProgress?.(snapshot(now < t0 + shape.rampUpSeconds * 1000 || joined + failedJoins < clients.length ? 'joining' : 'talking'));
        nextProgress += progressEvery;
      }
      if (now >= talkEndsAt) break;
      await sleep(1);
    }
    // Joins still under way finish (bounded by the latch timeout) before the drain.
    await Promise.all(joins);

    // Drain: what is in flight arrives; stop once nothing came for DRAIN_QUIET_MS (plus jitter).
    const quietMs = DRAIN_QUIET_MS + (options.impairment?.settings.jitterMs ?? 0) * 2;
    const drainEnds = clock() + DRAIN_MAX_MS + (options.impairment?.settings.jitterMs ?? 0);
    for (;;) {
      const now = clock();
      if (now >= drainEnds || now - lastArrival >= quietMs) break;
      keepalivesDue(now);
      await sleep(20);
    }
    options.onProgress?.(snapshot('draining'));
  } finally {
    await Promise.allSettled(joins);
    await cleanUp();
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
  if (fatal !== null) {
    await Promise.all([...proxies.values()].map(async (p) => (await p).close()));
    throw fatal;
  }

  async function cleanUp(): Promise<void> {
    // Revoke every session that was provisioned, close sockets, wipe keys, stop proxies.
    const provisioned = clients.filter((c) => c.provisioned !== null);
    await forEachConcurrently(provisioned, PROVISION_CONCURRENCY, async (client) => {
      await provisioner.release(client.planned).catch(() => {
        // The relay expires the session anyway (SESSION_LIFETIME_MS, and its idle timeout).
      });
    });
    await provisioner.close?.().catch(() => {
      // What is left (channels of the run) is named in their names; the run's result stands.
    });
    await Promise.all(
      clients.map(async (client) => {
        client.media?.close();
        const socket = client.socket;
        client.socket = null;
        if (socket !== null) await new Promise<void>((resolve) => socket.close(() => resolve()));
      }),
    );
  }

  const proxyStats = await Promise.all([...proxies.values()].map(async (p) => {
    const proxy = await p;
    await proxy.close();
    return proxy.stats;
  }));
  const sumStats = (pick: (s: (typeof proxyStats)[number]) => DirectionStats): DirectionStats =>
    proxyStats.map(pick).reduce((a, b) => ({ received: a.received + b.received, dropped: a.dropped + b.dropped, duplicated: a.duplicated + b.duplicated, reordered: a.reordered + b.reordered, forwarded: a.forwarded + b.forwarded }), { received: 0, dropped: 0, duplicated: 0, reordered: 0, forwarded: 0 });

  const elapsedSeconds = (clock() - t0) / 1000;
  const latencyValues = latencies.slice();
  const latencySummary = summarise(latencyValues);
  const jitters = clients.flatMap((c) => [...c.jitter.values()].map((j) => j.value));
  // Series: trim the empty tail after the drain.
  let lastSecond = seriesSeconds;
  while (lastSecond > 1 && sentSeries.counts[lastSecond - 1] === 0 && receivedByArrival.counts[lastSecond - 1] === 0) lastSecond--;
  const cut = (s: PerSecondSeries): number[] => [...s.counts.slice(0, lastSecond)];
  const receivedSeries = cut(receivedByArrival);
  const talkingSeconds = receivedSeries.filter((n) => n > 0).length;
  const latencyUpTo = latencyValues.length === 0 ? 1 : Math.max(0.01, percentile(sortedCopy(latencyValues), 99.9));
  const handshakeValues = handshakeMs.slice();
  // One handshake per member: the bins reach the slowest one, so none is left in the overflow.
  const handshakeUpTo = handshakeValues.reduce((a, b) => Math.max(a, b), 1) * (1 + 1e-9);

  return {
    startedAt: startedAt.toISOString(),
    elapsedSeconds,
    interrupted,
    target: provisioner.description,
    shape,
    impairment:
      options.impairment === null
        ? null
        : { settings: options.impairment.settings, directions: options.impairment.directions, toRelay: sumStats((s) => s.toUpstream), toClients: sumStats((s) => s.toClient) },
    clients: { planned: clients.length, joined, failedJoins, firstJoinError },
    provisionMs: summarise(provisionMs),
    handshakeMs: provisioner.mode === 'control-plane' ? summarise(handshakeMs) : null,
    latchMs: summarise(latchMs),
    keepaliveRttMs: summarise(rttMs),
    packets: { sent, expected, received, lost: Math.max(0, expected - received), lossPercent: expected === 0 ? 0 : (Math.max(0, expected - received) / expected) * 100 },
    latencyMs: { ...latencySummary, mean: latencyValues.length === 0 ? null : latencyValues.reduce((a, b) => a + b, 0) / latencyValues.length },
    jitterMs: { streams: jitters.length, mean: jitters.length === 0 ? null : jitters.reduce((a, b) => a + b, 0) / jitters.length, max: jitters.length === 0 ? null : jitters.reduce((a, b) => Math.max(a, b), 0) },
    failures: { decrypt: decryptFailures, replay: replayFailures, corruptPayload },
    throughput: {
      meanReceivedPps: talkingSeconds === 0 ? 0 : received / talkingSeconds,
      peakReceivedPps: receivedSeries.reduce((a, b) => Math.max(a, b), 0),
      meanReceivedMbps: talkingSeconds === 0 ? 0 : (bytesByArrival.counts.reduce((a, b) => a + b, 0) * 8) / 1e6 / talkingSeconds,
    },
    maxSendLagMs,
    series: {
      second: receivedSeries.map((_, i) => i),
      sent: cut(sentSeries),
      received: receivedSeries,
      loss: lossSeries(cut(expectedBySend), cut(arrivedBySend)),
      receivedMbps: cut(bytesByArrival).map((bytes) => (bytes * 8) / 1e6),
    },
    latencyHistogram: histogram(latencyValues, latencyUpTo, 60),
    handshakeHistogram: provisioner.mode === 'control-plane' ? histogram(handshakeValues, handshakeUpTo, 30) : null,
  };
}
