/**
 * `parley demo --relay-only`: the media plane alone, through a real relay on this machine. Starts the relay process, installs
 * one channel of sessions through the signed internal API (keys sealed to the relay), and runs
 * speakers and listeners on their own UDP sockets: every speaker sends a 20 ms frame (50
 * packets/s), every listener decrypts what the relay re-encrypted for it and checks it. Prints
 * progress each second and a summary; exits 0 only if every frame reached every listener.
 *
 * Development only: the relay runs with its well-known insecure keys on loopback. The control
 * plane's part (accounts, channels, the key exchange) is played by this command.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ClientMediaSession } from '../../shared/client/media-session.js';
import { nodeCryptoBackend } from '../../shared/srtp/backends/node-crypto.js';
import { DEFAULT_SRTP_PROFILE, isSrtpProfileName, SRTP_PROFILES, type SrtpProfileName } from '../../shared/srtp/profiles.js';
import type { CommandIo } from '../srtp-command.js';
import { startRelayProcess, type RelayProcess } from '../relay-process.js';
import { timeToken, UdpVoiceClient } from '../udp-voice-client.js';

export const RELAY_ONLY_DEMO_USAGE = `usage: parley demo --relay-only [--speakers N] [--listeners N] [--seconds N] [--profile NAME]

No control plane: starts a relay on 127.0.0.1 (development keys), installs one channel through
its signed API, and streams test frames (not audio): each speaker sends 50 packets/s of 160-byte frames, each member hears every
other speaker. Prints delivery and round-trip time each second; exits 0 if nothing was lost.

options:
  --speakers N     members who talk (1-20, default 2)
  --listeners N    members who only listen (0-50, default 3)
  --seconds N      how long to talk (1-600, default 10)
  --profile NAME   ${Object.keys(SRTP_PROFILES).join(' | ')} (default ${DEFAULT_SRTP_PROFILE})
`;

const FRAME_MS = 20;
const FRAME_BYTES = 160;

interface DemoOptions {
  readonly speakers: number;
  readonly listeners: number;
  readonly seconds: number;
  readonly profile: SrtpProfileName;
}

interface Member {
  readonly name: string;
  readonly speaks: boolean;
  readonly client: UdpVoiceClient;
  /** Frames heard, per speaker index. */
  readonly heard: Map<number, number>;
  readonly rttMs: number[];
  corrupt: number;
}

function parseDemoArgs(argv: readonly string[]): DemoOptions | string {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        speakers: { type: 'string', default: '2' },
        listeners: { type: 'string', default: '3' },
        seconds: { type: 'string', default: '10' },
        profile: { type: 'string', default: DEFAULT_SRTP_PROFILE },
      },
    }));
  } catch {
    return 'invalid arguments';
  }
  const integer = (text: string, name: string, min: number, max: number): number | string => {
    const n = Number(text);
    return Number.isInteger(n) && n >= min && n <= max ? n : `--${name} must be an integer from ${min} to ${max}`;
  };
  const speakers = integer(values.speakers, 'speakers', 1, 20);
  const listeners = integer(values.listeners, 'listeners', 0, 50);
  const seconds = integer(values.seconds, 'seconds', 1, 600);
  for (const v of [speakers, listeners, seconds]) if (typeof v === 'string') return v;
  if (!isSrtpProfileName(values.profile)) return `--profile must be one of ${Object.keys(SRTP_PROFILES).join(', ')}`;
  if ((speakers as number) + (listeners as number) < 2) return 'a channel needs at least two members';
  return { speakers: speakers as number, listeners: listeners as number, seconds: seconds as number, profile: values.profile };
}

/** A frame: speaker index, frame number, then a fill pattern the listener can check. */
function makeFrame(speaker: number, frame: number): Uint8Array {
  const payload = new Uint8Array(FRAME_BYTES);
  const view = new DataView(payload.buffer);
  view.setUint16(0, speaker);
  view.setUint32(2, frame);
  for (let i = 6; i < FRAME_BYTES; i++) payload[i] = (speaker * 31 + frame + i) & 0xff;
  return payload;
}

function checkFrame(payload: Uint8Array): { speaker: number; frame: number } | null {
  if (payload.length !== FRAME_BYTES) return null;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const speaker = view.getUint16(0);
  const frame = view.getUint32(2);
  for (let i = 6; i < FRAME_BYTES; i++) if (payload[i] !== ((speaker * 31 + frame + i) & 0xff)) return null;
  return { speaker, frame };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function join(relay: RelayProcess, index: number, speaks: boolean, profile: SrtpProfileName): Promise<Member> {
  const p = SRTP_PROFILES[profile];
  const key = () => ({ masterKey: new Uint8Array(randomBytes(p.keyLength)), masterSalt: new Uint8Array(randomBytes(p.saltLength)) });
  const clientToRelay = key();
  const relayToClient = key();
  // SSRCs are the control plane's to assign; here: random, and unique within the demo.
  const ssrc = ((randomBytes(4).readUInt32BE(0) & 0xfffff000) | index) >>> 0;
  const name = `${speaks ? 'speaker' : 'listener'}-${index}`;
  await relay.api.installSession({
    sessionId: `demo-${name}`,
    userId: `demo-user-${index}`,
    channelId: 'demo-channel',
    ssrc,
    profile,
    permissions: { canSpeak: speaks, canListen: true, muted: false, deafened: false },
    expiresAt: Date.now() + 3_600_000,
    keys: { clientToRelay, relayToClient },
  });
  const media = new ClientMediaSession({
    profile,
    ssrc,
    sendKeys: clientToRelay,
    receiveKeys: relayToClient,
    backend: nodeCryptoBackend,
    initialSequence: randomBytes(2).readUInt16BE(0) & 0x7fff,
  });
  const client = await UdpVoiceClient.connect(media, relay.ports.udp);
  await client.ping();
  return { name, speaks, client, heard: new Map(), rttMs: [], corrupt: 0 };
}

export async function runRelayOnlyDemo(argv: readonly string[], io: CommandIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(RELAY_ONLY_DEMO_USAGE);
    return 0;
  }
  const options = parseDemoArgs(argv);
  if (typeof options === 'string') {
    io.stderr.write(`parley demo --relay-only: ${options}\n\n${RELAY_ONLY_DEMO_USAGE}`);
    return 2;
  }
  const say = (line: string): void => void io.stdout.write(`${line}\n`);
  const relay = await startRelayProcess({ relayId: 'demo-relay', env: { RELAY_LOG_LEVEL: 'warn' } });
  const members: Member[] = [];
  try {
    say(`relay: udp 127.0.0.1:${relay.ports.udp}, internal API 127.0.0.1:${relay.ports.api}, metrics 127.0.0.1:${relay.ports.metrics}/metrics`);
    for (let i = 0; i < options.speakers + options.listeners; i++) members.push(await join(relay, i, i < options.speakers, options.profile));
    say(`channel: ${options.speakers} speaker(s), ${options.listeners} listener(s), ${options.profile}, sessions installed through the signed API`);

    // Decode what arrives: voice frames are checked byte for byte; pongs give the round-trip time.
    for (const m of members) {
      m.client.socket.on('message', () => {
        for (const r of m.client.received.splice(0)) {
          if (r.kind === 'voice') {
            const frame = checkFrame(r.payload);
            if (frame === null) m.corrupt++;
            else m.heard.set(frame.speaker, (m.heard.get(frame.speaker) ?? 0) + 1);
          } else if (r.kind === 'pong' && r.token.some((b) => b !== 0)) {
            // (A challenge the relay sends unprompted carries a zero token: no round trip in it.)
            m.rttMs.push(performance.now() - new DataView(r.token.buffer, r.token.byteOffset).getFloat64(0));
          }
        }
      });
    }

    const speakers = members.filter((m) => m.speaks);
    const started = performance.now();
    const totalFrames = (options.seconds * 1000) / FRAME_MS;
    let sent = 0;
    for (let frame = 0; frame < totalFrames; frame++) {
      speakers.forEach((s, index) => s.client.sendVoice(makeFrame(index, frame)));
      sent++;
      if (frame % (1000 / FRAME_MS) === 0) {
        for (const m of members) m.client.send(m.client.media.protectKeepalive(timeToken()));
      }
      if ((frame + 1) % (1000 / FRAME_MS) === 0) say(progressLine(members, speakers.length, sent, (frame + 1) * FRAME_MS));
      const due = started + (frame + 1) * FRAME_MS;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    }
    await new Promise((resolve) => setTimeout(resolve, 200)); // the last frames in flight

    const expected = members.reduce((n, m) => n + (speakers.length - (m.speaks ? 1 : 0)) * sent, 0);
    const delivered = members.reduce((n, m) => n + [...m.heard.values()].reduce((a, b) => a + b, 0), 0);
    const corrupt = members.reduce((n, m) => n + m.corrupt + m.client.rejected, 0);
    const rtts = members.flatMap((m) => m.rttMs);
    say(
      `summary: ${sent} frames per speaker, ${delivered}/${expected} copies delivered, lost ${expected - delivered}, ` +
        `corrupt or unauthenticated ${corrupt}, keepalive rtt p50 ${percentile(rtts, 50).toFixed(2)} ms p99 ${percentile(rtts, 99).toFixed(2)} ms`,
    );
    return delivered === expected && corrupt === 0 ? 0 : 1;
  } finally {
    await Promise.all(members.map((m) => m.client.close()));
    // Revoke every session, then SIGTERM: the relay drains (nothing left) and exits.
    await Promise.allSettled(members.map((m) => relay.api.revokeSession(`demo-${m.name}`)));
    relay.kill('SIGTERM');
    await Promise.race([relay.exited(), new Promise((resolve) => setTimeout(resolve, 5000))]);
    relay.kill('SIGKILL');
  }
}

function progressLine(members: Member[], speakers: number, sentPerSpeaker: number, elapsedMs: number): string {
  const expected = members.reduce((n, m) => n + (speakers - (m.speaks ? 1 : 0)) * sentPerSpeaker, 0);
  const delivered = members.reduce((n, m) => n + [...m.heard.values()].reduce((a, b) => a + b, 0), 0);
  return `t=${(elapsedMs / 1000).toFixed(0).padStart(3)}s  sent ${sentPerSpeaker * speakers} frames, delivered ${delivered}/${expected} copies`;
}
