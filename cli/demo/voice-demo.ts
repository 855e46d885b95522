/**
 * The demo's voice call, against a running control plane: an operator creates a channel,
 * mints an access token for each demo user (docs/protocol.md §4.5: no password hashing), and
 * each user joins the channel's voice through the client SDK (§5: the WebSocket to the room,
 * the X25519 key exchange, then SRTP over UDP to the relay the room chose). One speaks a
 * clip through Opus at 20 ms a packet; every other member decrypts what the relay forwards,
 * checks each packet against what was sent, and records it per speaker as a WAV file
 * (cli/audio/speaker-recorder.ts). At the end each recording is read back and analysed.
 *
 * Everything here is the SDK a user would write against; the operator's two requests are
 * plain HTTP with the operator app key (there is no operator client in the SDK).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ParleyClient, type VoiceSession } from '../../packages/client/src/index.js';
import { bestAlignment, dominantFrequency, type Alignment } from '../audio/analysis.js';
import { makeSpeakerClip, type SpeakerClip } from '../audio/clip.js';
import { FRAME_DURATION_MS, OPUS_SAMPLE_RATE, OpusDecoder, OpusEncoder } from '../audio/opus-codec.js';
import { concatSamples, splitIntoFrames } from '../audio/pcm.js';
import { SpeakerRecorder } from '../audio/speaker-recorder.js';
import { parseWav } from '../audio/wav.js';

export interface DemoUser {
  /** The app's user id in the minted token (§4.5), also the recording's file name. */
  readonly userId: string;
  readonly displayName: string;
}

/** Ada speaks; Grace and Alan listen. */
export const DEMO_USERS: readonly DemoUser[] = Object.freeze([
  { userId: 'ada', displayName: 'Ada' },
  { userId: 'grace', displayName: 'Grace' },
  { userId: 'alan', displayName: 'Alan' },
]);

export interface VoiceDemoOptions {
  readonly controlUrl: string;
  /** An app key with scope `operator` (the local stack's, <state dir>/operator-app-key). */
  readonly operatorKey: string;
  /** Where the recordings go: `<outputDir>/<listener>/<speaker>.wav`. */
  readonly outputDir: string;
  /** Length of the clip, ms (default 3000). */
  readonly clipMs?: number;
  /** The members; the first speaks, the others listen (default DEMO_USERS). */
  readonly users?: readonly DemoUser[];
  /** Called about every 100 ms while voice flows. */
  readonly onProgress?: (progress: VoiceDemoProgress) => void;
  /** Called at each step before voice flows (for a log line). */
  readonly onStep?: (step: string) => void;
  /** How long to wait for the last packets after the speaker stops (default 1500 ms). */
  readonly drainMs?: number;
}

export interface VoiceDemoProgress {
  readonly sent: number;
  readonly total: number;
  /** Packets received, per listener. */
  readonly received: readonly { readonly name: string; readonly packets: number }[];
}

export interface ListenerReport {
  readonly user: DemoUser;
  /** Packets from the speaker, decrypted. */
  readonly received: number;
  /** Of those, equal byte for byte to the packet sent at that place. */
  readonly identical: number;
  /** Frames the SDK's jitter buffer gave up as lost (lostBefore), plus those never seen at the end. */
  readonly lost: number;
  /** Send → `frame` event, ms, one per packet received (same process, one clock). */
  readonly latenciesMs: readonly number[];
  /** The speaker's recording. */
  readonly wavPath: string;
  readonly wavSeconds: number;
  /** Dominant frequency of the recording (NaN if silent). */
  readonly heardHz: number;
  /** The recording against the clip sent. */
  readonly alignment: Alignment;
  /** The Opus packets this listener decrypted, in order of arrival (for tests). */
  readonly packets: readonly Uint8Array[];
}

export interface VoiceDemoResult {
  readonly channelId: string;
  readonly relayId: string;
  readonly speaker: DemoUser;
  readonly clip: SpeakerClip;
  /** The Opus packets sent, in order. */
  readonly sentPackets: readonly Uint8Array[];
  readonly listeners: readonly ListenerReport[];
  /** The sent packets decoded by a fresh decoder: what a lossless listener's file holds. */
  readonly referenceDecoded: Int16Array;
}

/** The control plane refused an operator request. */
export class DemoSetupError extends Error {
  override readonly name = 'DemoSetupError';
}

async function operatorRequest<T>(options: VoiceDemoOptions, path: string, body: unknown): Promise<T> {
  const response = await fetch(new URL(path, options.controlUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${options.operatorKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    // The error body is the API's (§4.2): a code and a message, never the key.
    const error = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
    throw new DemoSetupError(`POST ${path}: HTTP ${response.status} ${error.error ?? ''} ${error.message ?? ''}`.trim());
  }
  return (await response.json()) as T;
}

function mintToken(options: VoiceDemoOptions, user: DemoUser, channelId: string, speaks: boolean): Promise<string> {
  return operatorRequest<{ accessToken: string }>(options, '/v1/tokens', {
    userId: user.userId,
    displayName: user.displayName,
    grants: [{ channelId, permissions: speaks ? ['speak', 'listen'] : ['listen'] }],
    ttlSeconds: 900,
  }).then((minted) => minted.accessToken);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(condition: () => boolean, limitMs: number): Promise<boolean> {
  const deadline = performance.now() + limitMs;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

interface Listening {
  readonly user: DemoUser;
  readonly recorder: SpeakerRecorder;
  readonly packets: Uint8Array[];
  readonly latenciesMs: number[];
  identical: number;
  lost: number;
  /** The sent index of the next frame expected (the stream's position). */
  next: number;
}

export async function runVoiceDemo(options: VoiceDemoOptions): Promise<VoiceDemoResult> {
  const users = options.users ?? DEMO_USERS;
  if (users.length < 2) throw new RangeError('demo: a call needs at least two users');
  const [speaker, ...listenerUsers] = users as [DemoUser, ...DemoUser[]];
  const step = options.onStep ?? (() => {});

  const channel = await operatorRequest<{ id: string }>(options, '/v1/admin/channels', { name: 'Parley demo', visibility: 'private' });
  step(`channel ${channel.id} created (operator app key)`);

  const clients: ParleyClient[] = [];
  const sessions: VoiceSession[] = [];
  const recorders: SpeakerRecorder[] = [];
  const encoder = new OpusEncoder();
  try {
    // Listeners first, so the room's roster already holds them when the speaker arrives.
    const joinOrder = [...listenerUsers, speaker];
    for (const user of joinOrder) {
      const speaks = user === speaker;
      const client = new ParleyClient({ baseUrl: options.controlUrl });
      clients.push(client);
      // A minted token, renewed by minting another (as an app's server would).
      client.useToken(await mintToken(options, user, channel.id, speaks), { renew: () => mintToken(options, user, channel.id, speaks) });
      const started = performance.now();
      const session = await client.joinVoice(channel.id);
      sessions.push(session);
      step(`${user.displayName} joined voice (${speaks ? 'speaks' : 'listens'}; WSS, key exchange, SRTP to relay ${session.relayId}, SSRC ${session.ssrc}; ${Math.round(performance.now() - started)} ms)`);
    }
    const speakerSession = sessions.at(-1)!;
    const listenerSessions = sessions.slice(0, -1);

    // The relay forwards only to addresses it has proved (§6.3), and a listener can name the
    // speaker only once the room announced the speaker's SSRC (§5.6).
    const ready = await until(
      () => sessions.every((s) => s.stats()?.addressProved === true) && listenerSessions.every((s) => s.memberBySsrc(speakerSession.ssrc) !== undefined),
      10_000,
    );
    if (!ready) throw new DemoSetupError('the members did not all reach the relay within 10 s');

    const clip = makeSpeakerClip(0, { durationMs: options.clipMs ?? 3_000 });
    const frames = splitIntoFrames(clip.samples);
    const sentPackets: Uint8Array[] = [];
    const sentAt: number[] = [];

    const listening: Listening[] = listenerSessions.map((session, index) => {
      const user = listenerUsers[index]!;
      const recorder = new SpeakerRecorder(join(options.outputDir, user.userId));
      recorders.push(recorder);
      const state: Listening = { user, recorder, packets: [], latenciesMs: [], identical: 0, lost: 0, next: 0 };
      session.on('frame', (frame) => {
        if (frame.ssrc !== speakerSession.ssrc) return;
        const arrived = performance.now();
        state.lost += frame.lostBefore;
        const index = state.next + frame.lostBefore;
        state.next = index + 1;
        const payload = new Uint8Array(frame.payload);
        state.packets.push(payload);
        const expected = sentPackets[index];
        if (expected !== undefined && Buffer.from(expected).equals(payload)) state.identical++;
        const sentTime = sentAt[index];
        if (sentTime !== undefined) state.latenciesMs.push(arrived - sentTime);
        recorder.push(frame.member?.name ?? frame.subject ?? String(frame.ssrc), { sequence: frame.sequenceNumber, timestamp: frame.timestamp, payload });
      });
      return state;
    });

    const progress = () => options.onProgress?.({ sent: sentPackets.length, total: frames.length, received: listening.map((l) => ({ name: l.user.displayName, packets: l.packets.length })) });
    const progressTimer = setInterval(progress, 100);
    try {
      speakerSession.setSpeaking(true);
      const start = performance.now();
      for (let i = 0; i < frames.length; i++) {
        const packet = encoder.encode(frames[i]!);
        sentPackets.push(packet);
        sentAt.push(performance.now());
        speakerSession.sendAudio(packet);
        // One packet per 20 ms on an absolute schedule, so timer lateness does not accumulate.
        const due = start + (i + 1) * FRAME_DURATION_MS;
        await sleep(Math.max(0, due - performance.now()));
      }
      speakerSession.setSpeaking(false);
      await until(() => listening.every((l) => l.packets.length + l.lost >= sentPackets.length), options.drainMs ?? 1_500);
    } finally {
      clearInterval(progressTimer);
    }
    progress();

    const reference = new OpusDecoder();
    let referenceDecoded: Int16Array;
    try {
      referenceDecoded = concatSamples(sentPackets.map((p) => reference.decode(p)));
    } finally {
      reference.close();
    }

    const reports: ListenerReport[] = [];
    for (const l of listening) {
      const recorded = l.recorder.close();
      const file = recorded[0];
      const samples = file === undefined ? new Int16Array(0) : parseWav(new Uint8Array(await readFile(file.path))).samples;
      reports.push({
        user: l.user,
        received: l.packets.length,
        identical: l.identical,
        lost: l.lost + Math.max(0, sentPackets.length - l.next),
        latenciesMs: l.latenciesMs,
        wavPath: file?.path ?? join(options.outputDir, l.user.userId),
        wavSeconds: samples.length / OPUS_SAMPLE_RATE,
        heardHz: samples.length === 0 ? Number.NaN : dominantFrequency(samples, OPUS_SAMPLE_RATE),
        alignment: samples.length === 0 ? { lagSamples: 0, correlation: Number.NaN } : bestAlignment(clip.samples, samples),
        packets: l.packets,
      });
    }
    return { channelId: channel.id, relayId: speakerSession.relayId ?? '', speaker, clip, sentPackets, listeners: reports, referenceDecoded };
  } finally {
    encoder.close();
    for (const recorder of recorders) {
      try {
        recorder.close();
      } catch {
        // Already reported through the result, or the run is failing for another reason.
      }
    }
    await Promise.allSettled(sessions.map((s) => s.close()));
    await Promise.allSettled(clients.map((c) => c.close()));
  }
}

/** The p-th percentile (nearest rank) of some values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
