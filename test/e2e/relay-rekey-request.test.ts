/**
 * The soft key-usage limit (docs/protocol.md §2.8, RFC 3711 §9.2) asks for a rekey: a real relay
 * (RelayServer, a real worker thread, real UDP) whose session's keys reach the limit lists the
 * session in its heartbeat's rekeyRequested to a control plane (a stand-in HTTP server verifying
 * every signature), until the session is rotated. Reaching 2^31 SRTCP packets for real is out of
 * reach, so the session's contexts start at one packet below the limit (keyUsageAtInstall, a
 * test-only registry limit); the one keepalive that crosses it is a real one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../cli/relay-process.js';
import { UdpVoiceClient } from '../../cli/udp-voice-client.js';
import { loadRelayConfig, type RelayConfig } from '../../relay/src/config.js';
import { createRelayLogger } from '../../relay/src/logger.js';
import { RelayServer } from '../../relay/src/relay-server.js';
import { RelayApiClient } from '../../shared/relay-api/relay-api-client.js';
import { decodeBase64Url } from '../../shared/relay-api/base64url.js';
import { SRTCP_SOFT_LIMIT } from '../../shared/srtp/key-usage.js';
import { clientFor } from '../support/relay-fixtures.js';
import { ControlPlaneStandIn } from '../support/control-plane-stand-in.js';
import { randomKeyMaterial } from '../unit/relay-api/helpers.js';
import { INSECURE_DEV_API_KEYS } from '../../relay/src/config.js';

let controlPlane: ControlPlaneStandIn;
let server: RelayServer;
let api: RelayApiClient;
const clients: UdpVoiceClient[] = [];

beforeAll(async () => {
  const loaded = loadRelayConfig({
    PARLEY_ENV: 'development',
    RELAY_UDP_HOST: '127.0.0.1',
    RELAY_UDP_PORT: '0',
    RELAY_API_PORT: String(await freePort('tcp')),
    RELAY_METRICS_PORT: String(await freePort('tcp')),
    RELAY_LOG_LEVEL: 'silent',
    RELAY_HEARTBEAT_INTERVAL_MS: '100',
  });
  controlPlane = await ControlPlaneStandIn.start(loaded.controlPlaneKey);
  const config: RelayConfig = {
    ...loaded,
    controlPlaneUrl: controlPlane.url,
    registry: { ...loaded.registry, session: { ...loaded.registry.session, keyUsageAtInstall: { srtp: 0, srtcp: SRTCP_SOFT_LIMIT - 1 } } },
  };
  server = await RelayServer.start({ config, logger: createRelayLogger(config), register: true });
  const [keyId, secret] = INSECURE_DEV_API_KEYS.split(':') as [string, string];
  api = new RelayApiClient({
    baseUrl: `http://127.0.0.1:${server.apiPort}/`,
    relayId: config.relayId,
    relayBootId: server.bootId,
    relayPublicKey: config.publicKey,
    key: { keyId, secret: decodeBase64Url(secret)! },
    fetch: (request) => fetch(request),
    now: Date.now,
  });
}, 30_000);

afterAll(async () => {
  for (const client of clients) await client.close();
  await server?.close();
  await controlPlane?.close();
});

describe('the soft key-usage limit asks the control plane for a rekey', () => {
  it('lists the session in rekeyRequested once its keys reach the limit, and no longer once it is rotated', async () => {
    await controlPlane.waitFor((b) => b.bootId === server.bootId, 5000, 'the registration');
    const keys = randomKeyMaterial();
    const session = { sessionId: 'ses-worn', userId: 'user-worn', channelId: 'room-worn', ssrc: 0x8001, profile: 'aes128gcm' as const };
    await api.installSession({ ...session, permissions: { canSpeak: true, canListen: true, muted: false, deafened: false }, expiresAt: Date.now() + 600_000, keys });
    // Installed, unused: no context has processed anything yet.
    const before = controlPlane.received.length;
    await controlPlane.waitFor(() => true, 5000, 'a heartbeat after the install', before);
    expect(controlPlane.received.slice(before).every((r) => r.body.rekeyRequested.length === 0)).toBe(true);

    // One keepalive: its SRTCP packet is the one that reaches the soft limit (the pong's too).
    const client = await UdpVoiceClient.connect(clientFor({ ...session, ...keys }), server.udpPort);
    clients.push(client);
    await client.ping();
    const asked = await controlPlane.waitFor((b) => b.rekeyRequested.includes('ses-worn'), 5000, 'rekeyRequested: [ses-worn]');
    expect(asked.path).toBe('/internal/relays/heartbeat');

    // The control plane rotates the session: fresh keys, fresh contexts, no longer due.
    await api.rotateSession('ses-worn', 0x8002, 'aes128gcm', randomKeyMaterial());
    const afterRotation = controlPlane.received.length;
    await controlPlane.waitFor(() => true, 5000, 'a heartbeat after the rotation', afterRotation);
    await controlPlane.waitFor(() => true, 5000, 'a second heartbeat after the rotation', afterRotation + 1);
    expect(controlPlane.received.at(-1)!.body.rekeyRequested).toEqual([]);
    expect(controlPlane.refused).toEqual([]);
  });
});
