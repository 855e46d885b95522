/**
 * `parley join CHANNEL`: the stored login joins a channel's voice through the client SDK (the
 * WebSocket to the channel's room, the X25519 key exchange with both confirmations, SRTP over
 * UDP to the relay the room chose; docs/protocol.md §5, §6), then shows the roster and presence
 * events live. It can speak a WAV file through Opus (--send), record each speaker it hears to a
 * WAV file of their own (--record, cli/audio/speaker-recorder.ts), and print the negotiated SRTP
 * parameters (--export-keys, account/srtp-parameters-json.ts) for standard SRTP tools.
 *
 * It leaves after --seconds, or once the file is sent (with --send and no --seconds), or on
 * Ctrl-C (the first leaves cleanly and finishes the recordings; the entry point's second quits).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Channel, ParleyClient, RosterEntry, VoiceCloseReason, VoiceSession } from '../packages/client/src/index.js';
import { CommandFailure, EXIT } from './account/command-failure.js';
import { resolveControlUrl } from './account/control-url.js';
import { CredentialStore } from './account/credential-store.js';
import { signedInClient } from './account/signed-in-client.js';
import { srtpParametersJson } from './account/srtp-parameters-json.js';
import { CONTROL_URL_HELP, EXIT_CODES_HELP, runAccountCommand, type AccountIo } from './account-commands.js';
import { FRAME_DURATION_MS, OPUS_SAMPLE_RATE, OpusEncoder } from './audio/opus-codec.js';
import { splitIntoFrames, toVoicePcm } from './audio/pcm.js';
import { SpeakerRecorder } from './audio/speaker-recorder.js';
import { readWavFile } from './audio/wav-file.js';

export const JOIN_USAGE = `usage: parley join CHANNEL [--send FILE.wav] [--record DIR] [--seconds N] [--export-keys] [--url URL]

Joins a channel's voice as the logged-in user (CHANNEL: its id, or its name) and shows the
roster and presence events live. An open channel you are not a member of is joined first.

  --send FILE.wav  speak this file (48 kHz, mono or stereo, 16-bit PCM) through Opus, 20 ms a
                   packet, once everyone in the room could hear it; then leave (unless --seconds)
  --record DIR     write what each speaker says to DIR/<speaker>.wav (48 kHz mono), gaps from
                   lost packets concealed, silences kept, so each file lasts as the speech did
  --seconds N      leave after N seconds in voice (1-3600); without it (and --send), stay until Ctrl-C
  --export-keys    print the negotiated SRTP parameters as JSON on stdout, one line per key
                   exchange (join, rotation, move): the profile, the SSRC, the relay's endpoint,
                   and both directions' master keys and salts (hex, and key||salt base64 as SDES
                   inline: and GStreamer srtpdec's srtp-key take it). THESE ARE SECRETS: anyone
                   with them can listen to this session and speak as you until the keys rotate.
                   The roster and events then go to stderr.
${CONTROL_URL_HELP}

${EXIT_CODES_HELP}
`;

export interface JoinIo extends AccountIo {
  /** Aborted on Ctrl-C by the entry point: leave cleanly. */
  readonly signal?: AbortSignal;
}

/** Waiting for every member's address to be proved before speaking, at most this long. */
const READY_TIMEOUT_MS = 10_000;
/** After the last packet is sent, time for it to arrive before leaving. */
const SEND_DRAIN_MS = 500;
/** Channel names looked through when CHANNEL is not an id. */
const MAX_CHANNELS_SEARCHED = 1000;

interface JoinOptions {
  readonly channel: string;
  readonly send: string | null;
  readonly record: string | null;
  readonly seconds: number | null;
  readonly exportKeys: boolean;
  readonly url: string | undefined;
}

function parseJoinArgs(argv: readonly string[]): JoinOptions | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: { send: { type: 'string' }, record: { type: 'string' }, seconds: { type: 'string' }, 'export-keys': { type: 'boolean' }, url: { type: 'string' } },
    });
  } catch (error) {
    return error instanceof Error ? error.message.split('\n')[0]! : 'invalid arguments';
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || positionals[0]!.trim() === '') return 'give one CHANNEL (its id or name)';
  let seconds: number | null = null;
  if (values.seconds !== undefined) {
    seconds = Number(values.seconds);
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) return '--seconds must be an integer from 1 to 3600';
  }
  if (values.send !== undefined && !values.send.toLowerCase().endsWith('.wav')) return '--send must name a .wav file';
  return { channel: positionals[0]!, send: values.send ?? null, record: values.record ?? null, seconds, exportKeys: values['export-keys'] === true, url: values.url };
}

/** The channel CHANNEL names: an id (`chn_…`) or the one channel of that name the user can see. */
async function findChannel(client: ParleyClient, wanted: string): Promise<Channel> {
  if (/^chn_[A-Za-z0-9_-]+$/.test(wanted)) return client.channels.get(wanted);
  const matches: Channel[] = [];
  let searched = 0;
  for await (const channel of client.channels.all({ membership: 'all', limit: 100 })) {
    if (channel.name === wanted) matches.push(channel);
    if (++searched >= MAX_CHANNELS_SEARCHED) break;
  }
  if (matches.length === 0) throw new CommandFailure(`no channel named '${wanted.slice(0, 64)}' among yours and the open ones (parley channels lists them)`, EXIT.refused);
  if (matches.length > 1) throw new CommandFailure(`${matches.length} channels are named '${wanted.slice(0, 64)}': give the id (${matches.map((c) => c.id).join(', ')})`, EXIT.usage);
  return matches[0]!;
}

function describeMember(member: RosterEntry, self: string): string {
  const flags = [member.subject === self ? 'you' : null, member.muted ? 'muted' : null, member.deafened ? 'deafened' : null, member.serverMuted ? 'muted by a moderator' : null, member.speaking ? 'speaking' : null, member.connection === 'reconnecting' ? 'reconnecting' : null].filter((f) => f !== null);
  return `${member.name}${flags.length === 0 ? '' : ` (${flags.join(', ')})`}`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((done) => {
    if (signal?.aborted === true) return done();
    const timer = setTimeout(finish, Math.max(0, ms));
    function finish(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      done();
    }
    signal?.addEventListener('abort', finish, { once: true });
  });
}

export async function runJoinCommand(argv: readonly string[], io: JoinIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(JOIN_USAGE);
    return EXIT.ok;
  }
  const options = parseJoinArgs(argv);
  if (typeof options === 'string') {
    io.stderr.write(`parley join: ${options}\n\n${JOIN_USAGE}`);
    return EXIT.usage;
  }
  const env = io.env ?? process.env;
  let controlUrl: string;
  try {
    controlUrl = resolveControlUrl(options.url, env).url;
  } catch (error) {
    io.stderr.write(`parley join: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.usage;
  }
  // With --export-keys stdout carries only the JSON.
  const events = options.exportKeys ? io.stderr : io.stdout;
  const say = (line: string): void => void events.write(`${line}\n`);

  return runAccountCommand('join', controlUrl, io, async () => {
    // The file is read (and refused) before anyone joins.
    let frames: Int16Array[] | null = null;
    if (options.send !== null) {
      const audio = await readWavFile(options.send).catch((error: unknown) => {
        throw new CommandFailure(`cannot send ${options.send}: ${error instanceof Error ? error.message.replace(/^\w+: /, '') : String(error)}`, EXIT.usage);
      });
      let samples: Int16Array;
      try {
        samples = toVoicePcm(audio, options.send);
      } catch (error) {
        throw new CommandFailure(error instanceof Error ? error.message : String(error), EXIT.usage);
      }
      frames = splitIntoFrames(samples);
    }

    const client = await signedInClient(CredentialStore.forEnvironment(env), controlUrl);
    let session: VoiceSession | null = null;
    let recorder: SpeakerRecorder | null = null;
    try {
      const channel = await findChannel(client, options.channel);
      if ((channel.you?.role ?? null) === null) {
        if (channel.visibility !== 'open') throw new CommandFailure(`you are not a member of the private channel ${channel.name} (${channel.id}): its owner or an admin adds members`, EXIT.refused);
        await client.channels.join(channel.id);
        say(`Became a member of ${channel.name} (${channel.id}).`);
      }

      const started = performance.now();
      session = await client.joinVoice(channel.id, { exportKeys: options.exportKeys });
      const handshakeMs = performance.now() - started;
      const self = session.subject;
      const stats = session.stats();
      say(
        `Joined voice in ${channel.name} (${channel.id}) as ${client.identity?.user?.username ?? self}: relay ${session.relayId ?? '?'} at ` +
          `${stats?.endpoint.host ?? '?'}:${stats?.endpoint.port ?? '?'}, SSRC ${session.ssrc}, handshake ${handshakeMs.toFixed(0)} ms`,
      );
      say(`In the room: ${session.members.map((m) => describeMember(m, self)).join(', ')}`);
      const active = session;
      const exportKeys = (purpose: 'join' | 'rotate' | 'move'): void => {
        const parameters = active.exportKeys();
        try {
          io.stdout.write(`${JSON.stringify(srtpParametersJson(parameters, purpose))}\n`);
        } finally {
          parameters.clientToRelay.masterKey.fill(0);
          parameters.clientToRelay.masterSalt.fill(0);
          parameters.relayToClient.masterKey.fill(0);
          parameters.relayToClient.masterSalt.fill(0);
        }
      };
      if (options.exportKeys) exportKeys('join');

      if (options.record !== null) {
        const store = new SpeakerRecorder(resolve(options.record));
        recorder = store;
        session.on('frame', (frame) => {
          if (store.closed) return;
          store.push(frame.member?.name ?? frame.subject ?? `ssrc-${frame.ssrc}`, { sequence: frame.sequenceNumber, timestamp: frame.timestamp, payload: frame.payload });
        });
        say(`Recording each speaker to ${resolve(options.record)}/<speaker>.wav`);
      }

      let ended: VoiceCloseReason | null = null;
      const leave = new AbortController();
      const onInterrupt = (): void => leave.abort();
      io.signal?.addEventListener('abort', onInterrupt, { once: true });
      session.on('memberJoined', (m) => say(`+ ${describeMember(m, self)} joined`));
      session.on('memberLeft', (info) => say(`- ${info.member?.name ?? info.subject} left (${info.reason})`));
      session.on('memberUpdated', (m, previous) => {
        if (previous !== undefined && previous.speaking !== m.speaking) say(`  ${m.name} ${m.speaking ? 'is speaking' : 'stopped speaking'}`);
        else if (previous !== undefined && previous.ssrc !== m.ssrc) say(`  ${m.name} is in voice (SSRC ${m.ssrc ?? 'none'})`);
        else say(`  ${describeMember(m, self)}`);
      });
      session.on('reconnecting', ({ attempt }) => say(`  connection to the room lost; reconnecting (attempt ${attempt})…`));
      session.on('reconnected', ({ resumed }) => say(`  reconnected (${resumed ? 'voice session resumed' : 'joined afresh'})`));
      session.on('rekeyed', ({ purpose, ssrc, relayId }) => {
        if (purpose === 'join') return;
        say(`  new keys (${purpose === 'rotate' ? 'rotation' : `moved to relay ${relayId}`}), SSRC ${ssrc}`);
        if (options.exportKeys) exportKeys(purpose);
      });
      session.on('relayUnreachable', () => say('  the relay stopped answering; the room is told'));
      session.on('relayReachable', () => say('  the relay answers again'));
      session.on('roomError', (error) => say(`  the room: ${error.code}: ${error.message}`));
      session.on('closed', (reason) => {
        ended = reason;
        leave.abort();
      });

      const deadline = options.seconds === null ? null : performance.now() + options.seconds * 1000;
      if (frames !== null) await speak(session, frames, options.send!, say, leave.signal);
      if (deadline !== null) await sleep(deadline - performance.now(), leave.signal);
      else if (frames !== null) await sleep(SEND_DRAIN_MS, leave.signal);
      else await new Promise<void>((done) => (leave.signal.aborted ? done() : leave.signal.addEventListener('abort', () => done(), { once: true })));
      io.signal?.removeEventListener('abort', onInterrupt);

      const reason = ended as VoiceCloseReason | null;
      if (reason !== null && reason.kind === 'ended') throw reason.error;
      await session.close();
      say(`Left ${channel.name}.`);
      return EXIT.ok;
    } finally {
      if (recorder !== null) {
        for (const file of recorder.close()) say(`Recorded ${file.speaker}: ${file.path} (${file.seconds.toFixed(2)} s, ${file.stats.packets} packets, ${file.stats.lostPackets} lost)`);
      }
      await session?.close();
      await client.close();
    }
  });
}

/** Speaks the frames through Opus at 20 ms a packet, once the room can hear it. */
async function speak(session: VoiceSession, frames: readonly Int16Array[], file: string, say: (line: string) => void, signal: AbortSignal): Promise<void> {
  // The relay forwards only from and to proved addresses (§6.3): wait for ours.
  const readyBy = performance.now() + READY_TIMEOUT_MS;
  while (session.stats()?.addressProved !== true) {
    if (performance.now() > readyBy) throw new CommandFailure('the relay did not prove this address within 10 s (is UDP to it blocked?)', EXIT.unreachable);
    await sleep(20, signal);
    if (signal.aborted) return;
  }
  const encoder = new OpusEncoder();
  try {
    say(`Sending ${file}: ${frames.length} packets (${((frames.length * FRAME_DURATION_MS) / 1000).toFixed(2)} s of ${OPUS_SAMPLE_RATE / 1000} kHz audio, Opus)…`);
    session.setSpeaking(true);
    const start = performance.now();
    let sent = 0;
    for (const frame of frames) {
      if (signal.aborted) break;
      session.sendAudio(encoder.encode(frame));
      sent++;
      // An absolute schedule, so timer lateness does not add up.
      await sleep(start + sent * FRAME_DURATION_MS - performance.now());
    }
    if (!signal.aborted) session.setSpeaking(false);
    say(`Sent ${sent} packets.`);
  } finally {
    encoder.close();
  }
}
