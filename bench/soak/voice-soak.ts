/**
 * Abuse case 25 (/work/shared/ABUSE-CASES.md): a run at capacity with joins, leaves and rekeys
 * → the relay's memory and file descriptors stay flat, no ROC drift, every counter adds up.
 *
 * It starts the real relay process (cli/relay-process.ts) and plays the control plane's part
 * through the relay's signed internal API (docs/protocol.md §8.5): sessions installed with
 * sealed keys, revoked (a member leaves), rotated to new keys and a new SSRC (§6.5). Every member
 * is the client SDK's MediaTransport on its own UDP socket (consent, keepalives, jitter buffer);
 * speakers send 50 frames/s, as voice does. Used by `npm run soak` (bench/soak.ts, 10 minutes)
 * and by the 30-second version in `npm test` (test/e2e/voice-soak.test.ts).
 *
 * What is checked, and how:
 *   - Flat: the relay's RSS, main-thread V8 heap (its metrics endpoint) and open file descriptors
 *     (/proc/<pid>/fd) are sampled every second. The run starts once every member has joined;
 *     after its warm-up (a fifth of the run, at least 5 s), the median of the last five samples may exceed the median of the first five by at
 *     most the tolerance (RSS 24 MiB, heap 16 MiB, fds 8): growth that scales with the number of
 *     joins, leaves and rekeys would exceed that in a long run, GC sawtooth does not.
 *   - ROC: every frame a listener receives carries the speaker's own SRTP packet index (ROC ·
 *     2^16 + SEQ) in its payload; the listener's index for it must be the same modulo 2^15 (the
 *     relay renumbers each listener's stream from below 2^15, §6.7, with no gap of its own), and
 *     within one listener key epoch the difference may never change.
 *   - Counters: datagrams the clients sent = the relay's packets_in (loopback loses nothing
 *     unless a socket buffer overflows, which would be an uncounted drop); the relay's drops by
 *     reason, of which only `unknown-ssrc` may be non-zero (keepalives of a member that left, sent
 *     after its revocation); the relay's packets_out = datagrams the clients received; each
 *     client's datagrams = voice + keepalive answers + refused (refused must be 0); voice frames
 *     the jitter buffers released + given up as lost = voice received, and none lost.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { MediaTransport, type MediaKeys, type ReceivedFrame } from '../../packages/client/src/index.js';
import { startRelayProcess, type RelayProcess } from '../../cli/relay-process.js';
import { RelayApiError } from '../../shared/relay-api/relay-api-client.js';
import { SRTP_PROFILES } from '../../shared/srtp/profiles.js';
import type { SrtpMasterKeys } from '../../shared/srtp/master-keys.js';
import { CpuMeter, openFileDescriptors, residentBytes } from '../relay/proc-stats.js';
import { readRelayMetrics, type RelayMetricsReading } from '../relay/relay-metrics.js';

export interface VoiceSoakOptions {
  readonly durationMs: number;
  readonly channels: number;
  /** Members per channel (speakers included). */
  readonly members: number;
  /** Speakers per channel. */
  readonly speakers: number;
  /** A member leaves and another joins its channel this often (ms). */
  readonly churnEveryMs: number;
  /** A member's keys and SSRC are rotated this often (ms). */
  readonly rekeyEveryMs: number;
  /** Called with a progress line about every `progressEveryMs`. */
  readonly onProgress?: (line: string) => void;
  readonly progressEveryMs?: number;
}

/**
 * The load `npm run soak` and the test use: 1,600 packets/s into the relay and 11,200 out, what a
 * shared 2-core machine sustains with every client in one Node process beside the relay (the
 * clients' decryption is the larger cost, see the cpu figures it prints).
 */
export const DEFAULT_SOAK: Omit<VoiceSoakOptions, 'durationMs'> = {
  channels: 16,
  members: 8,
  speakers: 2,
  churnEveryMs: 1000,
  rekeyEveryMs: 1500,
};

export interface SoakCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface SoakSample {
  readonly atMs: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly fds: number;
}

export interface VoiceSoakResult {
  readonly ok: boolean;
  readonly checks: readonly SoakCheck[];
  readonly samples: readonly SoakSample[];
  readonly load: string;
  readonly options: VoiceSoakOptions;
  readonly totals: {
    readonly joins: number;
    readonly leaves: number;
    readonly rekeys: number;
    readonly voiceSent: number;
    readonly voiceReceived: number;
    readonly elapsedMs: number;
    /** Mean CPU use over the run, cores: the relay process, and this process (every client). */
    readonly relayCores: number;
    readonly clientCores: number;
  };
}

const FRAME_MS = 20;
const PAYLOAD_BYTES = 120;
const PROFILE = 'aes128gcm';
const TOLERANCE = { rssBytes: 24 * 1024 * 1024, heapUsedBytes: 16 * 1024 * 1024, fds: 8 } as const;

interface Member {
  readonly sessionId: string;
  readonly channel: number;
  readonly speaks: boolean;
  readonly transport: MediaTransport;
  readonly initialSequence: number;
  keys: MediaKeys;
  /** Listener key epochs so far (1 + rotations of this member). */
  epochs: number;
  /** Speaking: off before it leaves, so nothing is in flight when it is revoked. */
  sending: boolean;
  /** Per speaker SSRC: the index differences (speaker − this listener) seen, for the ROC check. */
  readonly offsets: Map<number, Set<number>>;
}

interface Tally {
  sentDatagrams: number;
  receivedDatagrams: number;
  voiceSent: number;
  voiceReceived: number;
  keepalivesReceived: number;
  refused: number;
  released: number;
  lost: number;
  rocMismatches: number;
  offsetChanges: number;
}

function randomKeys(): SrtpMasterKeys {
  const p = SRTP_PROFILES[PROFILE];
  return { masterKey: new Uint8Array(randomBytes(p.keyLength)), masterSalt: new Uint8Array(randomBytes(p.saltLength)) };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** A frame's payload: the speaker's SRTP index for it (48 bits), then filler. */
function voicePayload(index: number): Uint8Array {
  const payload = new Uint8Array(PAYLOAD_BYTES);
  new DataView(payload.buffer).setFloat64(0, index);
  payload.fill(index & 0xff, 8);
  return payload;
}

export async function runVoiceSoak(options: VoiceSoakOptions): Promise<VoiceSoakResult> {
  const { channels, members: perChannel, speakers: speakersPerChannel } = options;
  if (speakersPerChannel > perChannel || channels < 1 || perChannel < 2) throw new RangeError('soak: need at least 2 members per channel and no more speakers than members');
  const progress = options.onProgress ?? (() => {});
  const load =
    `${channels} channels × ${perChannel} members (${speakersPerChannel} speaking), ${1000 / FRAME_MS} frames/s of ${PAYLOAD_BYTES} B: ` +
    `${channels * speakersPerChannel * (1000 / FRAME_MS)} packets/s into the relay, ${channels * speakersPerChannel * (perChannel - 1) * (1000 / FRAME_MS)} out; ` +
    `a leave + join every ${options.churnEveryMs} ms, a rekey every ${options.rekeyEveryMs} ms, for ${(options.durationMs / 1000).toFixed(0)} s`;
  progress(`load: ${load}`);

  const relay = await startRelayProcess({ relayId: 'voice-soak', env: { RELAY_LOG_LEVEL: 'warn' } });
  const pid = relay.child.pid!;
  const run = `soak-${randomBytes(3).toString('hex')}`;
  const tally: Tally = { sentDatagrams: 0, receivedDatagrams: 0, voiceSent: 0, voiceReceived: 0, keepalivesReceived: 0, refused: 0, released: 0, lost: 0, rocMismatches: 0, offsetChanges: 0 };
  const live = new Set<Member>();
  let nextSsrc = 0x2500_0000 + randomInt(0x10000) * 0x100;
  let nextMember = 0;
  let joins = 0;
  let leaves = 0;
  let rekeys = 0;
  const errors: string[] = [];

  const newKeys = (): MediaKeys => ({ ssrc: nextSsrc++, profile: PROFILE, sendKeys: randomKeys(), receiveKeys: randomKeys() });

  async function join(channel: number, speaks: boolean): Promise<Member> {
    const keys = newKeys();
    const sessionId = `${run}-m${nextMember++}`;
    const installed = await relay.api.installSession({
      sessionId,
      userId: `user-${sessionId}`,
      channelId: `${run}-c${channel}`,
      ssrc: keys.ssrc,
      profile: keys.profile,
      permissions: { canSpeak: speaks, canListen: true, muted: false, deafened: false },
      expiresAt: Date.now() + options.durationMs + 600_000,
      keys: { clientToRelay: keys.sendKeys, relayToClient: keys.receiveKeys },
    });
    const initialSequence = randomInt(0x8000);
    const transport = await MediaTransport.open({ endpoint: installed.udpEndpoint, keys, initialSequence });
    const member: Member = { sessionId, channel, speaks, transport, initialSequence, keys, epochs: 1, sending: speaks, offsets: new Map() };
    transport.on('frame', (frame) => onFrame(member, frame));
    for (let waited = 0; !transport.addressProved; waited += 10) {
      if (waited > 10_000) throw new Error(`soak: ${sessionId}'s address was not proved in 10 s`);
      await sleep(10);
    }
    live.add(member);
    joins++;
    return member;
  }

  function onFrame(member: Member, frame: ReceivedFrame): void {
    tally.released++;
    tally.lost += frame.lostBefore;
    const sent = new DataView(frame.payload.buffer, frame.payload.byteOffset, frame.payload.byteLength).getFloat64(0);
    const difference = sent - frame.index;
    if (difference % 0x8000 !== 0) tally.rocMismatches++;
    let seen = member.offsets.get(frame.ssrc);
    if (seen === undefined) member.offsets.set(frame.ssrc, (seen = new Set()));
    if (!seen.has(difference)) {
      seen.add(difference);
      // One difference per listener key epoch at most (a rotation starts a new receiving context).
      if (seen.size > member.epochs) tally.offsetChanges++;
    }
  }

  async function leave(member: Member): Promise<void> {
    member.sending = false;
    await sleep(100); // what it sent reaches its listeners before its session goes
    live.delete(member);
    await relay.api.revokeSession(member.sessionId);
    await sleep(100); // what the relay sent it before the revocation arrives
    retire(member);
    await member.transport.close();
    leaves++;
  }

  function retire(member: Member): void {
    const stats = member.transport.stats();
    tally.sentDatagrams += stats.sent.packets + stats.sent.keepalives;
    tally.voiceSent += stats.sent.packets;
    tally.receivedDatagrams += stats.received.datagrams;
    tally.voiceReceived += stats.received.voice;
    tally.keepalivesReceived += stats.received.keepalives;
    tally.refused += stats.received.rejected;
  }

  async function rekey(member: Member): Promise<void> {
    const keys = newKeys();
    try {
      await relay.api.rotateSession(member.sessionId, keys.ssrc, keys.profile, { clientToRelay: keys.sendKeys, relayToClient: keys.receiveKeys });
    } catch (error) {
      // It left meanwhile (its session revoked): nothing to rotate.
      if (error instanceof RelayApiError && error.status === 404 && !live.has(member)) return;
      throw error;
    }
    if (!live.has(member)) return;
    member.transport.rotate(keys);
    member.keys = keys;
    member.epochs++;
    rekeys++;
  }

  const pick = <T>(items: readonly T[]): T => items[randomInt(items.length)]!;
  const samples: SoakSample[] = [];
  const relayCpu = CpuMeter.forPid(pid);
  const clientCpu = CpuMeter.forSelf();
  const relayCpuRun = CpuMeter.forPid(pid);
  const clientCpuRun = CpuMeter.forSelf();
  let started = performance.now();
  const elapsed = () => performance.now() - started;
  const sample = async (): Promise<SoakSample> => {
    const metrics = await readRelayMetrics(relay.ports.metrics);
    const s = { atMs: elapsed(), rssBytes: residentBytes(pid), heapUsedBytes: metrics.heapUsedBytes, fds: openFileDescriptors(pid) };
    samples.push(s);
    return s;
  };

  let stopping = false;
  let metricsAtEnd: RelayMetricsReading | null = null;
  let sessionsAtEnd = NaN;
  let cpu = { relayCores: NaN, clientCores: NaN };
  try {
    // Channels join side by side, each channel's members one after another.
    await Promise.all(Array.from({ length: channels }, async (_, c) => {
      for (let m = 0; m < perChannel; m++) await join(c, m < speakersPerChannel);
    }));
    progress(`all ${live.size} members joined in ${(elapsed() / 1000).toFixed(1)} s; the run starts now`);
    started = performance.now(); // the run (and its warm-up) counts from here
    relayCpuRun.lap();
    clientCpuRun.lap();
    // Speakers: one frame each per 20 ms, on a schedule (a late tick sends what is due, at most 5).
    let ticks = 0;
    const speaking = (async () => {
      const t0 = performance.now();
      while (!stopping) {
        const due = Math.floor((performance.now() - t0) / FRAME_MS);
        for (let n = 0; ticks <= due && n < 5; ticks++, n++) {
          for (const m of live) {
            if (!m.speaks || !m.sending || m.transport.closed) continue;
            const last = m.transport.stats().sent.lastIndex;
            m.transport.sendAudio(voicePayload(last < 0 ? m.initialSequence : last + 1));
          }
        }
        ticks = Math.max(ticks, due + 1);
        await sleep(Math.max(1, t0 + ticks * FRAME_MS - performance.now()));
      }
    })();
    // Start to start: a slow install (sealing, a loaded machine) does not stretch the schedule.
    const every = async (intervalMs: number, action: () => Promise<void>): Promise<void> => {
      for (let next = performance.now() + intervalMs; !stopping; next += intervalMs) {
        await sleep(Math.max(0, next - performance.now()));
        if (stopping) break;
        await action();
      }
    };
    const churning = every(options.churnEveryMs, async () => {
      const leaving = pick([...live]);
      await leave(leaving);
      await join(leaving.channel, leaving.speaks);
    });
    const rekeying = every(options.rekeyEveryMs, () => rekey(pick([...live])));
    const sampling = (async () => {
      let lastProgress = 0;
      while (!stopping) {
        const s = await sample();
        if (s.atMs - lastProgress >= (options.progressEveryMs ?? 5000)) {
          lastProgress = s.atMs;
          const lost = tally.lost;
          progress(
            `t=${(s.atMs / 1000).toFixed(0).padStart(4)}s members ${live.size}  joins ${joins} leaves ${leaves} rekeys ${rekeys}  ` +
              `frames released ${tally.released} lost ${lost}  relay rss ${mib(s.rssBytes)} heap ${mib(s.heapUsedBytes)} fds ${s.fds}  ` +
              `cpu relay ${relayCpu.lap().cores.toFixed(2)} clients ${clientCpu.lap().cores.toFixed(2)} cores`,
          );
        }
        await sleep(1000);
      }
    })();
    const background = [speaking, churning, rekeying, sampling].map((p) =>
      p.catch((error: unknown) => {
        errors.push(error instanceof Error ? error.message : String(error));
        stopping = true;
      }),
    );
    while (!stopping && elapsed() < options.durationMs) await sleep(100);
    stopping = true;
    await Promise.all(background);
    cpu = { relayCores: relayCpuRun.lap().cores, clientCores: clientCpuRun.lap().cores };
    await sleep(1000); // the last frames delivered, the jitter buffers drained
    sessionsAtEnd = (await readRelayMetrics(relay.ports.metrics)).sessions;
    // Every member ends as one that leaves does, so no datagram is in flight when counted.
    const ending = [...live];
    for (const member of ending) member.sending = false;
    live.clear();
    await Promise.all(ending.map((member) => relay.api.revokeSession(member.sessionId)));
    await sleep(200);
    for (const member of ending) {
      retire(member);
      void member.transport.close();
    }
    await sleep(200);
    metricsAtEnd = await readRelayMetrics(relay.ports.metrics);
  } finally {
    stopping = true;
    await Promise.all([...live].map((m) => m.transport.close()));
    relay.kill('SIGTERM');
    await Promise.race([relay.exited(), sleep(5000)]);
    relay.kill('SIGKILL');
  }

  const checks: SoakCheck[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  check('no errors', errors.length === 0, errors.join('; ') || 'none');
  const m = metricsAtEnd!;
  const warmupMs = Math.max(5000, options.durationMs / 5);
  const steady = samples.filter((s) => s.atMs >= warmupMs);
  if (steady.length < 10) {
    check('memory and fds flat', false, `only ${steady.length} samples after the ${warmupMs / 1000} s warm-up`);
  } else {
    for (const key of ['rssBytes', 'heapUsedBytes', 'fds'] as const) {
      const first = median(steady.slice(0, 5).map((s) => s[key]));
      const last = median(steady.slice(-5).map((s) => s[key]));
      const max = Math.max(...steady.map((s) => s[key]));
      const show = key === 'fds' ? String : mib;
      check(`${key} flat`, last - first <= TOLERANCE[key], `after warm-up ${show(first)} → ${show(last)} (max ${show(max)}, tolerance +${show(TOLERANCE[key])})`);
    }
  }
  const dropsOtherThanUnknown = Object.entries(m.dropped).filter(([reason, n]) => reason !== 'unknown-ssrc' && n > 0);
  check('sent = relay packets_in', tally.sentDatagrams === m.packetsIn, `clients sent ${tally.sentDatagrams} datagrams, relay received ${m.packetsIn}`);
  check(
    'relay drops counted, only after revocations',
    dropsOtherThanUnknown.length === 0,
    `${JSON.stringify(m.dropped)} (unknown-ssrc: keepalives of members that had left)`,
  );
  check('relay packets_out = received', m.packetsOut === tally.receivedDatagrams, `relay sent ${m.packetsOut} (send errors ${m.sendErrors}), clients received ${tally.receivedDatagrams}`);
  check(
    'client datagrams = voice + keepalives + refused, none refused',
    tally.receivedDatagrams === tally.voiceReceived + tally.keepalivesReceived + tally.refused && tally.refused === 0,
    `${tally.receivedDatagrams} = ${tally.voiceReceived} voice + ${tally.keepalivesReceived} keepalives + ${tally.refused} refused`,
  );
  check('voice received = released, none lost', tally.voiceReceived === tally.released && tally.lost === 0, `${tally.voiceReceived} received, ${tally.released} released, ${tally.lost} lost`);
  check('no ROC drift', tally.rocMismatches === 0 && tally.offsetChanges === 0, `${tally.rocMismatches} frames off modulo 2^15, ${tally.offsetChanges} numbering changes within a key epoch`);
  check(
    'sessions all accounted for',
    sessionsAtEnd === channels * perChannel && m.sessions === 0,
    `relay held ${sessionsAtEnd} sessions for ${channels * perChannel} members, ${m.sessions} after they all left`,
  );
  return {
    ok: checks.every((c) => c.ok),
    checks,
    samples,
    load,
    options,
    totals: { joins, leaves, rekeys, voiceSent: tally.voiceSent, voiceReceived: tally.voiceReceived, elapsedMs: elapsed(), ...cpu },
  };
}
