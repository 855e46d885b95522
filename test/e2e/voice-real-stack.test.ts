/**
 * Voice over the real stack on loopback, as `npm start` runs it (control/dev/local-stack: the
 * local libSQL server, the control plane in `wrangler dev` with the channel's room Durable
 * Object, the compiled relay registered with it), driven by the client SDK as an application
 * would (docs/protocol.md §4, §5, §6):
 *
 * - three members who got their access token three ways — a password login, a refresh (§4.3.8),
 *   a token minted by an app key (§4.5) — join one channel; the SDK runs the exchange with both
 *   key confirmations (§5.5); what each sends arrives decrypted at the others, byte for byte and
 *   in order, through the relay;
 * - a member's socket to the room cut by the network (a TCP reset, no `leave`) resumes within the
 *   window (§5.10): same voice session, same SSRC, not one packet lost either way;
 * - a kick (§5.7) ends the member's voice: its relay session is gone from the relay's own list
 *   (its signed internal API, §8.5) by the time `moderated` arrives; the test prints how fast;
 * - hibernation is not a disconnect (§5.10): with voice flowing over UDP and nothing said on the
 *   sockets, the room is evicted from memory — proved by its `room_started` log line, written
 *   each time workerd constructs the object, again with every socket and session found — and a
 *   moderator's message wakes it: the server mute reaches the relay, the roster is intact, no
 *   socket dropped and no audio stopped.
 *
 * Timings are printed; only generous bounds are asserted.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { devRelayApiClient } from '../../cli/relay-process.js';
import { EPHEMERAL_PORTS, startLocalStack, type LocalStack } from '../../control/dev/local-stack/local-stack.js';
import { findStackProcesses } from '../../control/dev/local-stack/stack-lock.js';
import { ParleyClient, type VoiceCloseReason, type VoiceFrame, type VoiceSession } from '../../packages/client/src/index.js';
import type { RosterEntry } from '../../shared/client/voice-messages.js';
import type { RelayApiClient } from '../../shared/relay-api/relay-api-client.js';
import { TcpCutProxy } from '../support/tcp-cut-proxy.js';

const PASSWORD = 'correct horse battery staple';
/** A frame every 20 ms, as Opus sends them. */
const FRAME_INTERVAL_MS = 20;
/** An idle Durable Object is evicted after about 10 s without an event (wrangler dev's workerd). */
const IDLE_BEFORE_WAKING_MS = 15_000;

let stack: LocalStack;
let stateDir: string;
let relayApi: RelayApiClient;
const clients: ParleyClient[] = [];
const proxies: TcpCutProxy[] = [];
const talkers: Talker[] = [];

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'parley-e2e-voice-'));
  stack = await startLocalStack({
    stateDir,
    ports: EPHEMERAL_PORTS,
    controlBindings: {
      PASSWORD_HASH_MEMORY_KIB: '64',
      PASSWORD_HASH_ITERATIONS: '1',
      THROTTLE_LOGIN_PER_ADDRESS_FREE_ATTEMPTS: '100000',
      THROTTLE_REGISTER_PER_ADDRESS_FREE_ATTEMPTS: '100000',
    },
  });
  const relay = stack.relay!;
  expect(relay.announcement.bootId).toBeDefined();
  expect(relay.announcement.publicKey).toBeDefined();
  relayApi = devRelayApiClient({ apiPort: relay.announcement.apiPort, relayId: relay.relayId, bootId: relay.announcement.bootId!, publicKey: relay.announcement.publicKey! });
}, 240_000);

afterEach(async () => {
  await Promise.all(talkers.splice(0).map((t) => t.stop()));
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await stack?.stop();
  if (stateDir !== undefined) {
    // A run killed mid-way must not leave a stack behind for the next one.
    for (const leftover of findStackProcesses(stateDir)) process.kill(-leftover.processGroup, 'SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
  }
}, 60_000);

// ---- members -------------------------------------------------------------------------------

interface Member {
  readonly name: string;
  readonly client: ParleyClient;
  readonly voice: VoiceSession;
  /** Every frame the SDK gave this member, with when (performance.now()). */
  readonly frames: Array<{ readonly frame: VoiceFrame; readonly at: number }>;
  readonly events: string[];
  readonly closed: Promise<VoiceCloseReason>;
}

async function joinVoice(name: string, client: ParleyClient, channelId: string): Promise<Member> {
  const started = performance.now();
  const voice = await client.joinVoice(channelId);
  console.log(`${name} joined voice: SSRC ${voice.ssrc} on ${voice.relayId} (${Math.round(performance.now() - started)} ms: upgrade, authenticate, exchange, both confirmations, relay install)`);
  const frames: Member['frames'] = [];
  const events: string[] = [];
  voice.on('frame', (frame) => frames.push({ frame, at: performance.now() }));
  voice.on('reconnecting', ({ closeCode }) => events.push(`reconnecting ${closeCode}`));
  voice.on('reconnected', ({ resumed }) => events.push(`reconnected ${resumed ? 'resumed' : 'afresh'}`));
  voice.on('memberLeft', ({ subject, reason }) => events.push(`left ${subject} ${reason}`));
  const closed = new Promise<VoiceCloseReason>((resolve) => voice.once('closed', resolve));
  return { name, client, voice, frames, events, closed };
}

function newClient(baseUrl = stack.control.url): ParleyClient {
  const client = new ParleyClient({ baseUrl });
  clients.push(client);
  return client;
}

async function mint(userId: string, channelId: string): Promise<string> {
  const response = await fetch(`${stack.control.url}/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.operatorKey.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ userId, displayName: userId, grants: [{ channelId, permissions: ['speak', 'listen'] }], ttlSeconds: 900 }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { accessToken: string }).accessToken;
}

/**
 * Ada logs in by password and owns an open channel; Bob's token comes from a refresh (a new
 * client holding only his refresh token); Cyd's is minted by an app key, and her client talks to
 * the control plane through a proxy that can cut her connections.
 */
async function threeMembers(): Promise<{ channelId: string; ada: Member; bob: Member; cyd: Member; cydProxy: TcpCutProxy }> {
  const tag = randomBytes(4).toString('hex');
  const signup = newClient();
  await signup.register(`ada-${tag}`, PASSWORD);
  const bobSignup = await signup.register(`bob-${tag}`, PASSWORD);
  await signup.close(); // Bob keeps only his refresh token

  const adaClient = newClient();
  const adaLogin = await adaClient.login(`ada-${tag}`, PASSWORD);
  const channel = await adaClient.channels.create({ name: `voice ${tag}`, visibility: 'open' });

  const bobClient = newClient();
  const refreshed = await bobClient.useRefreshToken(bobSignup.refreshToken);
  expect(refreshed.accessToken).not.toBe(bobSignup.accessToken);
  expect(refreshed.refreshToken).not.toBe(bobSignup.refreshToken);
  expect(await bobClient.accessToken()).toBe(refreshed.accessToken); // the token Bob joins with
  await bobClient.channels.join(channel.id);

  const cydProxy = await TcpCutProxy.start(Number(new URL(stack.control.url).port));
  proxies.push(cydProxy);
  const cydClient = newClient(cydProxy.url);
  const cydId = `cyd-${tag}`;
  cydClient.useToken(await mint(cydId, channel.id), { renew: () => mint(cydId, channel.id) });

  const ada = await joinVoice('Ada (password login)', adaClient, channel.id);
  const bob = await joinVoice('Bob (token from a refresh)', bobClient, channel.id);
  const cyd = await joinVoice('Cyd (token minted by an app key)', cydClient, channel.id);
  expect(ada.voice.subject).toBe(adaLogin.user.id);
  expect(bob.voice.subject).toBe(bobSignup.user.id);
  expect(cyd.voice.subject).toMatch(new RegExp(`^ak_[a-z0-9]+:${cydId}$`)); // §4.5: the app key's id, then the app's user id

  // The relay forwards only to proved addresses (§6.3); each member names the others' SSRCs (§5.6).
  const members = [ada, bob, cyd];
  await until(
    () => members.every((m) => m.voice.stats()?.addressProved === true && members.every((o) => o === m || m.voice.memberBySsrc(o.voice.ssrc)?.subject === o.voice.subject)),
    'every member proved to the relay and named in every roster',
  );
  return { channelId: channel.id, ada, bob, cyd, cydProxy };
}

// ---- voice ---------------------------------------------------------------------------------

/** A member sending numbered frames every 20 ms until stopped (or until its session ends). */
interface Talker {
  readonly sent: Uint8Array[];
  /** Why it stopped sending on its own (the session closed), if it did. */
  stoppedBy: string | null;
  stop(): Promise<void>;
}

function talk(member: Member, speaker: number): Talker {
  const sent: Uint8Array[] = [];
  let timer: NodeJS.Timeout | null = null;
  const talker: Talker = {
    sent,
    stoppedBy: null,
    async stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
  timer = setInterval(() => {
    const payload = new Uint8Array(80);
    const view = new DataView(payload.buffer);
    view.setUint16(0, speaker);
    view.setUint32(2, sent.length);
    for (let k = 6; k < payload.length; k++) payload[k] = (speaker * 31 + sent.length + k) & 0xff;
    try {
      member.voice.sendAudio(payload);
      sent.push(payload);
    } catch (error) {
      talker.stoppedBy = error instanceof Error ? error.name : String(error);
      void talker.stop();
    }
  }, FRAME_INTERVAL_MS);
  talkers.push(talker);
  return talker;
}

const hex = (payloads: readonly Uint8Array[]) => payloads.map((p) => Buffer.from(p).toString('hex'));

/** What `listener` received from `speaker`'s SSRC, in order of the SDK's frame events. */
function heard(listener: Member, speaker: Member): VoiceFrame[] {
  return listener.frames.filter((f) => f.frame.subject === speaker.voice.subject).map((f) => f.frame);
}

/** Waits until `listener` has every frame `talker` sent, then checks them: byte for byte, in order, none lost. */
async function expectHeardEverything(listener: Member, speaker: Member, talker: Talker): Promise<void> {
  const total = talker.sent.length;
  await until(() => heard(listener, speaker).length >= total, `${listener.name} hearing all ${total} frames of ${speaker.name}`);
  const frames = heard(listener, speaker);
  expect(hex(frames.map((f) => f.payload))).toEqual(hex(talker.sent));
  expect(frames.filter((f) => f.lostBefore > 0)).toEqual([]);
}

async function until(condition: () => boolean | Promise<boolean>, what: string, limitMs = 20_000): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function relaySessionsOf(channelId: string) {
  return (await relayApi.listSessions()).sessions.filter((s) => s.channelId === channelId);
}

// ---- the room's constructions, from the control plane's log -----------------------------------

interface RoomStart {
  readonly sockets: number;
  readonly sessions: number;
  readonly orphaned: number;
}

/**
 * Every `room_started` line of this channel's room (channel-room.ts #load, run once per object
 * construction): a new line while the sockets stayed open means workerd evicted the object and
 * built it again.
 */
function roomStarts(channelId: string): RoomStart[] {
  const log = readFileSync(join(stack.stateDir, 'logs', 'control-plane.log'), 'utf8');
  const starts: RoomStart[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes('"event":"room_started"') || !line.includes(channelId)) continue;
    const json = line.slice(line.indexOf('{'), line.lastIndexOf('}') + 1);
    const entry = JSON.parse(json) as RoomStart & { channelId?: string };
    if (entry.channelId === channelId) starts.push({ sockets: entry.sockets, sessions: entry.sessions, orphaned: entry.orphaned });
  }
  return starts;
}

// ---- the tests ----------------------------------------------------------------------------

describe('voice over the real stack (libSQL server, wrangler dev, the relay)', () => {
  it('password, refresh and app-key members hear each other through the relay; a cut socket resumes losing nothing; a kick removes the relay session', async () => {
    const { channelId, ada, bob, cyd, cydProxy } = await threeMembers();
    const sessions = await relaySessionsOf(channelId);
    expect(sessions.map((s) => s.sessionId).sort()).toEqual([ada, bob, cyd].map((m) => m.voice.sessionId).sort());
    expect(Object.fromEntries(sessions.map((s) => [s.sessionId, s.ssrcs[0]]))).toEqual(Object.fromEntries([ada, bob, cyd].map((m) => [m.voice.sessionId, m.voice.ssrc])));

    // Everyone speaks at once for a second; each hears the other two exactly.
    const first = [talk(ada, 1), talk(bob, 2), talk(cyd, 3)];
    await sleep(1_000);
    await Promise.all(first.map((t) => t.stop()));
    const members = [ada, bob, cyd];
    for (const [i, speaker] of members.entries()) {
      for (const listener of members) if (listener !== speaker) await expectHeardEverything(listener, speaker, first[i]!);
      expect(heard(speaker, speaker)).toEqual([]); // never back to the sender
    }
    for (const m of members) m.frames.length = 0;

    // Cyd's socket to the room is cut (a reset, no leave) while Ada and Cyd speak.
    const sessionBefore = cyd.voice.sessionId;
    const ssrcBefore = cyd.voice.ssrc;
    const adaTalks = talk(ada, 1);
    const cydTalks = talk(cyd, 3);
    await sleep(300);
    const cutAt = performance.now();
    expect(cydProxy.cutAll()).toBeGreaterThanOrEqual(1);
    await until(() => cyd.events.some((e) => e.startsWith('reconnected')), 'Cyd reconnecting to the room', 35_000);
    const resumedMs = performance.now() - cutAt;
    await sleep(500);
    await Promise.all([adaTalks.stop(), cydTalks.stop()]);
    console.log(`cut socket: Cyd ${cyd.events.join(', ')} ${Math.round(resumedMs)} ms after the cut; ${adaTalks.sent.length} and ${cydTalks.sent.length} frames sent meanwhile`);
    expect(cyd.events[0]).toMatch(/^reconnecting 1006$/);
    expect(cyd.events).toContain('reconnected resumed');
    expect(cyd.voice.sessionId).toBe(sessionBefore);
    expect(cyd.voice.ssrc).toBe(ssrcBefore);
    await expectHeardEverything(cyd, ada, adaTalks);
    await expectHeardEverything(ada, cyd, cydTalks);
    await expectHeardEverything(bob, cyd, cydTalks);
    expect((await relaySessionsOf(channelId)).map((s) => s.sessionId)).toContain(sessionBefore);
    for (const m of [ada, bob]) expect(m.events.filter((e) => e.includes(cyd.voice.subject))).toEqual([]); // never left
    await until(() => ada.voice.members.find((e: RosterEntry) => e.subject === cyd.voice.subject)?.connection === 'connected', 'Cyd connected again in Ada\'s roster');

    // Ada kicks Bob while he speaks.
    const bobTalks = talk(bob, 2);
    await sleep(300);
    const sentBeforeKick = bobTalks.sent.length;
    const kickAt = performance.now();
    await ada.voice.moderate('kick', bob.voice.subject, { reason: 'test' });
    const moderatedMs = performance.now() - kickAt;
    const sentByModerated = bobTalks.sent.length;
    // By `moderated` the relay session is gone (§5.7): the relay's own list says so.
    const afterKick = await relaySessionsOf(channelId);
    expect(afterKick.map((s) => s.sessionId).sort()).toEqual([ada, cyd].map((m) => m.voice.sessionId).sort());
    const bobClosed = await bob.closed;
    const closedMs = performance.now() - kickAt;
    expect(bobClosed.kind === 'ended' && bobClosed.error.code).toBe('kicked');
    await sleep(500);
    const lastFromBob = Math.max(...[ada, cyd].flatMap((m) => m.frames.filter((f) => f.frame.subject === bob.voice.subject).map((f) => f.at)));
    console.log(
      `kick: moderated (relay session revoked) ${Math.round(moderatedMs)} ms after Ada sent it; Bob's session closed at ${Math.round(closedMs)} ms; ` +
        `his last frame reached a listener ${Math.round(lastFromBob - kickAt)} ms after the kick (${bobTalks.stoppedBy ?? 'still sending'})`,
    );
    expect(moderatedMs).toBeLessThan(10_000); // a generous bound, not a timing
    for (const listener of [ada, cyd]) {
      const got = heard(listener, bob).map((f) => f.payload);
      // A prefix of what he sent: everything before the kick, nothing sent after it was applied.
      expect(hex(got)).toEqual(hex(bobTalks.sent.slice(0, got.length)));
      expect(got.length).toBeGreaterThanOrEqual(sentBeforeKick - 5); // the last few may still have been on their way
      expect(got.length).toBeLessThanOrEqual(sentByModerated);
      expect(listener.events).toContain(`left ${bob.voice.subject} kicked`);
    }
    // Ada and Cyd go on.
    for (const m of [ada, cyd]) m.frames.length = 0;
    const after = talk(ada, 1);
    await sleep(300);
    await after.stop();
    await expectHeardEverything(cyd, ada, after);
  }, 180_000);

  it('hibernation is not a disconnect: the room is evicted while voice flows, and a moderator\'s message wakes it with every socket, session and member intact', async () => {
    const { channelId, ada, bob, cyd } = await threeMembers();
    const members = [ada, bob, cyd];
    const adaTalks = talk(ada, 1);
    const cydTalks = talk(cyd, 3);
    const idleFrom = performance.now();

    // Nothing on the sockets (the SDK's own pings are answered by the runtime without waking the
    // room, §5.3); voice over UDP never reaches the room. Wait for a construction of the room
    // with its sockets open — the room's own alarm (§5.14) brings an evicted room back — then
    // for long enough after the latest one that the room is evicted again.
    let starts = roomStarts(channelId);
    let latestAt = performance.now();
    const initial = starts.length;
    await until(
      () => {
        const now = roomStarts(channelId);
        if (now.length !== starts.length) {
          starts = now;
          latestAt = performance.now();
        }
        return starts.length > initial && performance.now() - latestAt >= IDLE_BEFORE_WAKING_MS;
      },
      'the room evicted and built again while its sockets stayed open',
      120_000,
    );
    const idleMs = performance.now() - idleFrom;
    const woken = starts.slice(initial);
    console.log(`idle ${Math.round(idleMs / 1000)} s on the sockets: the room was constructed again ${woken.length} time(s) meanwhile: ${JSON.stringify(woken)}`);
    for (const start of woken) expect(start).toEqual({ sockets: 3, sessions: 3, orphaned: 0 });

    // Ada's server mute of Cyd is the message that wakes it.
    const beforeWake = roomStarts(channelId).length;
    const cydSentBeforeMute = cydTalks.sent.length;
    const muteAt = performance.now();
    await ada.voice.moderate('server_mute', cyd.voice.subject);
    const mutedMs = performance.now() - muteAt;
    const cydSentByMuted = cydTalks.sent.length;
    const wake = roomStarts(channelId).slice(beforeWake);
    console.log(`the server mute woke the room (${JSON.stringify(wake)}); moderated after ${Math.round(mutedMs)} ms`);
    expect(wake).toEqual([{ sockets: 3, sessions: 3, orphaned: 0 }]);
    // It reached the relay…
    const cydOnRelay = (await relaySessionsOf(channelId)).find((s) => s.sessionId === cyd.voice.sessionId);
    expect(cydOnRelay?.muted).toBe(true);
    // …and every roster, which the woken room still knew whole.
    for (const m of members) {
      await until(() => m.voice.members.find((e) => e.subject === cyd.voice.subject)?.serverMuted === true, `${m.name} seeing Cyd server-muted`);
      expect(m.voice.members.map((e) => e.subject).sort()).toEqual(members.map((o) => o.voice.subject).sort());
      expect(m.voice.members.every((e) => e.connection === 'connected')).toBe(true);
    }

    await sleep(500);
    await Promise.all([adaTalks.stop(), cydTalks.stop()]);
    // No socket dropped, nobody left.
    for (const m of members) expect(m.events).toEqual([]);
    expect((await relaySessionsOf(channelId)).map((s) => s.sessionId).sort()).toEqual(members.map((m) => m.voice.sessionId).sort());
    // No audio stopped: Ada was heard throughout, every frame, none lost…
    console.log(`Ada sent ${adaTalks.sent.length} frames across the hibernation; Cyd ${cydTalks.sent.length} (${cydSentBeforeMute} before the mute was sent)`);
    await expectHeardEverything(bob, ada, adaTalks);
    await expectHeardEverything(cyd, ada, adaTalks);
    // …and Cyd until the relay muted her: everything sent before the mute, nothing sent after it applied.
    for (const listener of [ada, bob]) {
      const got = heard(listener, cyd);
      expect(hex(got.map((f) => f.payload))).toEqual(hex(cydTalks.sent.slice(0, got.length)));
      expect(got.filter((f) => f.lostBefore > 0)).toEqual([]);
      expect(got.length).toBeGreaterThanOrEqual(cydSentBeforeMute - 5); // the last few may still have been on their way
      expect(got.length).toBeLessThanOrEqual(cydSentByMuted);
    }
  }, 240_000);
});
