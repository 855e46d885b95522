/**
 * Every copy of a session's keys is wiped, in a real relay process: its whole memory (every
 * thread's heap, malloc arenas, stacks; /proc/<pid>/mem) is searched for the session's SRTP
 * master keys and salts. While the session is installed and unused there is exactly one copy
 * (its key epoch's, in the worker's secret memory): none left in the main thread after it opened
 * the seal, none in the buffer that carried the keys to the worker. Once both directions have
 * derived their SRTP session keys, or once the session is revoked, there is none at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelayProcess, type RelayProcess } from '../../cli/relay-process.js';
import { UdpVoiceClient } from '../../cli/udp-voice-client.js';
import type { SessionKeyMaterial } from '../../shared/relay-api/sealed-keys.js';
import { countInProcessMemory } from '../support/process-memory.js';
import { clientFor } from '../support/relay-fixtures.js';
import { randomKeyMaterial } from '../unit/relay-api/helpers.js';

let relay: RelayProcess;
const clients: UdpVoiceClient[] = [];

beforeAll(async () => {
  relay = await startRelayProcess({ relayId: 'wipe-relay' });
}, 30_000);

afterAll(async () => {
  for (const client of clients) await client.close();
  relay?.kill('SIGKILL');
  await relay?.exited();
});

async function install(sessionId: string, ssrc: number, keys: SessionKeyMaterial): Promise<void> {
  await relay.api.installSession({
    sessionId,
    userId: `user-${sessionId}`,
    channelId: 'room-wipe',
    ssrc,
    profile: 'aes128gcm',
    permissions: { canSpeak: true, canListen: true, muted: false, deafened: false },
    expiresAt: Date.now() + 600_000,
    keys,
  });
}

/** Copies of each of the four secrets of `keys` in the relay process. */
function copies(keys: SessionKeyMaterial): number[] {
  const { clientToRelay: c2r, relayToClient: r2c } = keys;
  return countInProcessMemory(relay.child.pid!, [c2r.masterKey, c2r.masterSalt, r2c.masterKey, r2c.masterSalt]);
}

describe('a session\'s keys in the relay process', () => {
  it('one copy while installed and unused (the key epoch\'s), none once both directions derived their keys', async () => {
    const keys = randomKeyMaterial();
    await install('ses-wipe-used', 0x6001, keys);
    expect(copies(keys)).toEqual([1, 1, 1, 1]);
    // A keepalive and its pong: the relay derives both directions' contexts and drops the master keys.
    const client = await UdpVoiceClient.connect(clientFor({ ssrc: 0x6001, profile: 'aes128gcm', ...keys }), relay.ports.udp);
    clients.push(client);
    await client.ping();
    expect(copies(keys)).toEqual([0, 0, 0, 0]);
  });

  it('none once a session is revoked', async () => {
    const keys = randomKeyMaterial();
    await install('ses-wipe-revoked', 0x6002, keys);
    expect(copies(keys)).toEqual([1, 1, 1, 1]);
    await relay.api.revokeSession('ses-wipe-revoked');
    expect(copies(keys)).toEqual([0, 0, 0, 0]);
  });
});
