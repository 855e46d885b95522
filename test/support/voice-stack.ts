/**
 * Voice over the real stack for end-to-end tests (test/e2e/voice-*.test.ts): relay processes that
 * register and heartbeat with a client stack's control plane (test/support/client-stack.ts),
 * each behind a recording UDP NAT (udp-capture-nat.ts) that it announces as its public
 * endpoint, and members signed up through the client SDK who send numbered frames.
 */
import { expect } from 'vitest';
import { startRelayProcess, type RelayProcess } from '../../cli/relay-process.js';
import { ParleyClient, type VoiceFrame, type VoiceSession } from '../../packages/client/src/index.js';
import type { ClientTestStack } from './client-stack.js';
import { UdpCaptureNat } from './udp-capture-nat.js';

export const VOICE_TEST_PASSWORD = 'correct horse battery staple';

/** Bytes at the start of every test frame: plaintext a capture must never show. */
export const FRAME_MARKER = Buffer.from('PRLY', 'latin1');

export interface CapturedRelay {
  readonly relay: RelayProcess;
  readonly nat: UdpCaptureNat;
}

/** What a test started, stopped (by PID) in stopVoiceStack. */
export interface VoiceStackParts {
  readonly relays: RelayProcess[];
  readonly nats: UdpCaptureNat[];
  readonly clients: ParleyClient[];
  readonly sessions: VoiceSession[];
}

export function voiceStackParts(): VoiceStackParts {
  return { relays: [], nats: [], clients: [], sessions: [] };
}

/** A relay registered with the stack's control plane (the directory has its boot id), reached through a recording NAT. */
export async function startCapturedRelay(stack: ClientTestStack, parts: VoiceStackParts, relayId: string): Promise<CapturedRelay> {
  const nat = await UdpCaptureNat.start();
  parts.nats.push(nat);
  // Ports drawn by startRelayProcess, which draws again if one is taken before the relay binds it.
  const relay = await startRelayProcess({
    relayId,
    env: {
      RELAY_REGISTER: 'true',
      CONTROL_PLANE_URL: `${stack.controlUrl}/`,
      RELAY_HEARTBEAT_INTERVAL_MS: '1000',
      RELAY_PUBLIC_UDP_ENDPOINT: `127.0.0.1:${nat.port}`,
      RELAY_LOG_LEVEL: 'warn',
    },
  });
  parts.relays.push(relay);
  nat.forwardTo(relay.ports.udp);
  const db = stack.libsql.client();
  await expect
    .poll(async () => (await db.execute({ sql: 'SELECT boot_id FROM relays WHERE id = ?', args: [relayId] })).rows[0]?.['boot_id'], { timeout: 30_000, interval: 200 })
    .toBe(relay.bootId);
  return { relay, nat };
}

export async function signedUp(stack: ClientTestStack, parts: VoiceStackParts, name: string): Promise<ParleyClient> {
  const client = new ParleyClient({ baseUrl: stack.controlUrl });
  parts.clients.push(client);
  await client.register(`${name}${Date.now().toString(36)}`, VOICE_TEST_PASSWORD);
  return client;
}

/** Frame `i` of speaker `speaker`: the marker, the speaker, the number. */
export function voiceFrame(speaker: number, i: number): Uint8Array {
  const payload = new Uint8Array(80);
  payload.set(FRAME_MARKER, 0);
  const view = new DataView(payload.buffer);
  view.setUint16(4, speaker);
  view.setUint32(6, i);
  return payload;
}

export interface Heard {
  readonly at: number;
  readonly frame: VoiceFrame;
}

/** Every session sends a frame every 20 ms until the returned function is called (a session between relays skips). */
export function keepTalking(sessions: readonly VoiceSession[]): () => void {
  let i = 0;
  const timer = setInterval(() => {
    i++;
    sessions.forEach((s, speaker) => {
      try {
        s.sendAudio(voiceFrame(speaker + 1, i));
      } catch {
        // mid-move or closed
      }
    });
  }, 20);
  return () => clearInterval(timer);
}

/** What each session hears, with when. */
export function recordHeard(session: VoiceSession): Heard[] {
  const heard: Heard[] = [];
  session.on('frame', (frame) => heard.push({ at: performance.now(), frame }));
  return heard;
}

export async function stopVoiceStack(parts: VoiceStackParts): Promise<void> {
  await Promise.allSettled(parts.sessions.map((s) => s.close()));
  for (const relay of parts.relays) {
    relay.kill('SIGTERM');
    await Promise.race([relay.exited(), new Promise((resolve) => setTimeout(resolve, 5000))]);
    relay.kill('SIGKILL');
  }
  await Promise.all(parts.nats.map((n) => n.close()));
}
