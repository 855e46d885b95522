/**
 * Voice-room fixtures for workerd tests: the real relay process of the global setup
 * registered in the relay directory, channels pinned to its region (so rooms never pick a relay
 * another test file registered), sockets opened through the Worker, and the relay's own view
 * of its sessions (GET /v1/sessions, signed as the control plane signs).
 */
import { env, exports } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { channelMembers, channels, relays } from '../../../control/src/db/schema.js';
import type { Database } from '../../../control/src/db/client.js';
import { newId } from '../../../control/src/ids.js';
import { ALL_PERMISSION_BITS } from '../../../control/src/channels/access.js';
import { permissionBits, type ChannelRole, type Permission } from '../../../control/src/channels/permissions.js';
import type { ChannelRoom } from '../../../control/src/room/channel-room.js';
import { decodeBase64Url } from '../../../shared/relay-api/base64url.js';
import { RelayApiClient } from '../../../shared/relay-api/relay-api-client.js';
import type { RelaySessionSummary } from '../../../shared/relay-api/messages.js';
import type { RelayRegistrationBody } from '../../../shared/relay-api/messages.js';
import { CONTROL_PLANE_AUDIENCE, signRequest } from '../../../shared/relay-api/request-signing.js';
import { INSECURE_DEV_RELAY_CONTROL_KEYS } from '../../../control/src/config.js';
import { VoiceRoomClient } from '../../support/voice-room-client.js';
import { BASE_URL, workerConfig } from './control-api.js';

export interface TestRelay {
  readonly relayId: string;
  readonly apiUrl: string;
  readonly publicKey: string;
  readonly bootId: string;
  readonly udpHost: string;
  readonly udpPorts: readonly number[];
}

/** The region only the test relay is in: channels pinned to it can only use that relay. */
export const TEST_RELAY_REGION = 'voice-test';

export function testRelay(): TestRelay {
  const text = (env as unknown as { TEST_RELAY?: string }).TEST_RELAY;
  if (text === undefined) throw new Error('the workers project has no TEST_RELAY binding (test/support/relay-global-setup.ts)');
  return JSON.parse(text) as TestRelay;
}

/** The region only the failover relays are in (test/workers/voice-failover.test.ts). */
export const FAILOVER_REGION = 'voice-failover';

/** The two relays of the global setup only the failover tests register (in FAILOVER_REGION). */
export function failoverRelays(): readonly [TestRelay, TestRelay] {
  const text = (env as unknown as { TEST_FAILOVER_RELAYS?: string }).TEST_FAILOVER_RELAYS;
  if (text === undefined) throw new Error('the workers project has no TEST_FAILOVER_RELAYS binding (test/support/relay-global-setup.ts)');
  const relays = JSON.parse(text) as TestRelay[];
  return [relays[0]!, relays[1]!];
}

/** Registers (or refreshes) the test relay in the directory, as seen just now. */
export async function registerTestRelay(db: Database, now = Date.now()): Promise<TestRelay> {
  return registerRelay(db, testRelay(), TEST_RELAY_REGION, { now });
}

/** Writes a relay's directory entry as a registration would (the directory's view; the relay is not asked). */
export async function registerRelay(
  db: Database,
  relay: TestRelay,
  region: string,
  options: { now?: number; draining?: boolean; bootId?: string; lastSeenAt?: number } = {},
): Promise<TestRelay> {
  const now = options.now ?? Date.now();
  const values = {
    region,
    publicKey: relay.publicKey,
    udpEndpoints: relay.udpPorts.map((port) => ({ host: relay.udpHost, port })),
    sessions: 0,
    channels: 0,
    draining: options.draining ?? false,
    controlKeyId: 'insecure-dev-control',
    lastSeenAt: options.lastSeenAt ?? now,
    apiUrl: relay.apiUrl,
    bootId: options.bootId ?? relay.bootId,
  };
  await db
    .insert(relays)
    .values({ id: relay.relayId, registeredAt: now, ...values })
    .onConflictDoUpdate({ target: relays.id, set: values });
  return relay;
}

/** The control plane's signed client toward the test relay (or another relay of the global setup). */
export function relayApi(relay: TestRelay = testRelay()): RelayApiClient {
  const key = workerConfig().relays.apiKey;
  return new RelayApiClient({
    baseUrl: relay.apiUrl,
    relayId: relay.relayId,
    relayBootId: relay.bootId,
    relayPublicKey: decodeBase64Url(relay.publicKey)!,
    key: { keyId: key.id, secret: key.secret },
    fetch: (request) => fetch(request),
    now: Date.now,
  });
}

/** The relay's own list of one session, or undefined if it has none by that id. */
export async function relaySession(sessionId: string): Promise<RelaySessionSummary | undefined> {
  const list = await relayApi().listSessions();
  return list.sessions.find((s) => s.sessionId === sessionId);
}

/** A channel pinned to the test relay's region, owned by `ownerId`, with these extra members. */
export async function createVoiceChannel(
  db: Database,
  ownerId: string | null,
  options: { visibility?: 'open' | 'private'; members?: ReadonlyArray<{ userId: string; role?: ChannelRole; permissions?: readonly Permission[] }> } = {},
): Promise<string> {
  const id = newId('chn');
  const now = Date.now();
  await db.insert(channels).values({
    id,
    name: `voice ${id.slice(-6)}`,
    visibility: options.visibility ?? 'open',
    ownerId,
    memberLimit: 50,
    region: TEST_RELAY_REGION,
    createdAt: now,
    updatedAt: now,
  });
  if (ownerId !== null) await db.insert(channelMembers).values({ channelId: id, userId: ownerId, role: 'owner', permissions: ALL_PERMISSION_BITS, joinedAt: now });
  for (const member of options.members ?? []) {
    await db.insert(channelMembers).values({
      channelId: id,
      userId: member.userId,
      role: member.role ?? 'member',
      permissions: permissionBits(member.permissions ?? ['speak', 'listen']),
      joinedAt: now,
    });
  }
  return id;
}

export interface OpenedSocket {
  readonly status: number;
  readonly client: VoiceRoomClient | null;
  readonly body: string;
}

/** Opens the channel's voice socket through the Worker (as a browser would with `origin`). */
export async function openVoiceSocket(channelId: string, options: { origin?: string; upgrade?: boolean } = {}): Promise<OpenedSocket> {
  const headers = new Headers();
  if (options.upgrade !== false) headers.set('Upgrade', 'websocket');
  if (options.origin !== undefined) headers.set('Origin', options.origin);
  const response = await exports.default.fetch(`${BASE_URL}/v1/channels/${channelId}/voice`, { headers });
  const socket = response.webSocket;
  if (socket === null || socket === undefined) return { status: response.status, client: null, body: await response.text() };
  socket.accept();
  return { status: response.status, client: new VoiceRoomClient(socket as unknown as ConstructorParameters<typeof VoiceRoomClient>[0]), body: '' };
}

/** Opens and authenticates; fails the test if the room refuses. */
export async function connect(channelId: string, token: string, extra: Record<string, unknown> = {}) {
  const opened = await openVoiceSocket(channelId);
  if (opened.client === null) throw new Error(`upgrade refused: ${opened.status} ${opened.body}`);
  const authenticated = await opened.client.authenticate(token, extra);
  return { client: opened.client, authenticated };
}

export function roomStub(channelId: string): DurableObjectStub<ChannelRoom> {
  return env.CHANNEL_ROOM.get(env.CHANNEL_ROOM.idFromName(channelId));
}

/** Moves the room's clock by `offsetMs` (deadlines become due without waiting). */
export async function shiftRoomClock(channelId: string, offsetMs: number): Promise<void> {
  await runInDurableObject(roomStub(channelId), (room: ChannelRoom) => {
    room.clock = () => Date.now() + offsetMs;
  });
}

/**
 * A relay's registration or heartbeat through the Worker's own route, signed with the relay's
 * development control key, as the relay process sends it (§8.6).
 */
export async function announceRelay(
  kind: 'register' | 'heartbeat',
  relay: TestRelay,
  region: string,
  report: Partial<Pick<RelayRegistrationBody, 'draining' | 'rekeyRequested' | 'lostSessions' | 'bootId'>> = {},
): Promise<Response> {
  const endpoints = relay.udpPorts.map((port) => ({ host: relay.udpHost, port }));
  const body: RelayRegistrationBody = {
    relayId: relay.relayId,
    bootId: report.bootId ?? relay.bootId,
    region,
    apiUrl: relay.apiUrl,
    udpEndpoint: endpoints[0]!,
    udpEndpoints: endpoints,
    publicKey: relay.publicKey,
    load: { sessions: 1, channels: 1 },
    draining: report.draining ?? false,
    rekeyRequested: report.rekeyRequested ?? [],
    lostSessions: report.lostSessions ?? [],
  };
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const url = `${BASE_URL}/internal/relays/${kind}`;
  const keys = JSON.parse(INSECURE_DEV_RELAY_CONTROL_KEYS) as Record<string, { secret: string }>;
  const [keyId, key] = Object.entries(keys)[0]!;
  const authorization = signRequest({ method: 'POST', url, body: bytes, audience: CONTROL_PLANE_AUDIENCE, key: { keyId, secret: decodeBase64Url(key.secret)! }, now: Date.now() });
  return exports.default.fetch(new Request(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: bytes }));
}
