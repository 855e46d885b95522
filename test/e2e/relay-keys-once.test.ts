/**
 * Keys are used once, against the real relay process: a control-plane retry that re-signs an
 * accepted install is refused (409 keys-reused), and a signed install captured before the relay
 * restarted cannot install its keys after the restart, even replayed within the 60 s skew
 * window when the restarted relay's nonce cache is empty: the seal names the previous boot id.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startRelayProcess, type RelayProcess } from '../../cli/relay-process.js';
import { INSECURE_DEV_API_KEYS } from '../../relay/src/config.js';
import { decodeBase64Url } from '../../shared/relay-api/base64url.js';
import type { InstallSessionBody } from '../../shared/relay-api/messages.js';
import { signRequest, type SigningKey } from '../../shared/relay-api/request-signing.js';
import { sealSessionKeys } from '../../shared/relay-api/sealed-keys.js';
import { randomKeyMaterial } from '../unit/relay-api/helpers.js';

const RELAY_ID = 'keys-once-relay';
const [keyId, secret] = INSECURE_DEV_API_KEYS.split(':') as [string, string];
const API_KEY: SigningKey = { keyId, secret: decodeBase64Url(secret)! };

const started: RelayProcess[] = [];
afterEach(async () => {
  for (const relay of started.splice(0)) {
    relay.kill('SIGKILL');
    await relay.exited();
  }
});

async function start(ports?: RelayProcess['ports']): Promise<RelayProcess> {
  const relay = await startRelayProcess({ relayId: RELAY_ID, ...(ports === undefined ? {} : { ports }) });
  started.push(relay);
  return relay;
}

/** A signed install request for `relay`'s current run, as the control plane would send it. */
function signedInstall(relay: RelayProcess, sessionId: string, ssrc: number): { url: string; init: RequestInit } {
  const publicKey = decodeBase64Url(JSON.parse(relay.output.find((l) => l.includes('"parleyRelay":"ready"'))!).publicKey as string)!;
  const body: InstallSessionBody = {
    sessionId,
    userId: `user-${sessionId}`,
    channelId: 'room-once',
    ssrc,
    profile: 'aes128gcm',
    permissions: { canSpeak: true, canListen: true, muted: false, deafened: false },
    expiresAt: Date.now() + 3_600_000,
    sealedKeys: sealSessionKeys(publicKey, { relayId: RELAY_ID, bootId: relay.bootId, sessionId, ssrc, profile: 'aes128gcm' }, randomKeyMaterial()),
  };
  return sign(relay, body);
}

function sign(relay: RelayProcess, body: unknown): { url: string; init: RequestInit } {
  const url = `http://127.0.0.1:${relay.ports.api}/v1/sessions`;
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const authorization = signRequest({ method: 'POST', url, body: bytes, audience: RELAY_ID, key: API_KEY, now: Date.now() });
  return { url, init: { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: bytes } };
}

describe('keys are used once (the real relay process)', () => {
  it('refuses a reinstall of accepted keys: a control-plane retry, signed again, gets 409 keys-reused', async () => {
    const relay = await start();
    const first = signedInstall(relay, 'ses-retry', 0x5001);
    expect((await fetch(first.url, first.init)).status).toBe(201);
    // The very same request again: the nonce was seen.
    expect((await fetch(first.url, first.init)).status).toBe(401);
    // Re-signed (a retry after a timeout), and after the session was revoked: the keys stay spent.
    await relay.api.revokeSession('ses-retry');
    const body = JSON.parse(new TextDecoder().decode(first.init.body as Uint8Array)) as InstallSessionBody;
    const retry = sign(relay, body);
    const answer = await fetch(retry.url, retry.init);
    expect(answer.status).toBe(409);
    expect(await answer.json()).toEqual({ error: 'conflict', reason: 'keys-reused' });
    expect((await relay.api.listSessions()).sessions).toEqual([]);
  });

  it('a request signed before a restart cannot install keys after it (the seal names the old boot id)', async () => {
    const relay = await start();
    const captured = signedInstall(relay, 'ses-boot', 0x5002);
    expect((await fetch(captured.url, captured.init)).status).toBe(201);
    relay.kill('SIGKILL');
    await relay.exited();
    const restarted = await start(relay.ports);
    expect(restarted.bootId).not.toBe(relay.bootId);
    // Replayed seconds later, inside the skew window: the restarted relay has seen no nonce.
    const replayed = await fetch(captured.url, captured.init);
    expect(replayed.status).toBe(400);
    expect(await replayed.json()).toEqual({ error: 'bad_request', detail: 'sealedKeys could not be opened (authentication-failed)' });
    expect((await restarted.api.listSessions()).sessions).toEqual([]);
    // Sealed for the new boot id, a fresh install works.
    const fresh = signedInstall(restarted, 'ses-boot', 0x5003);
    expect((await fetch(fresh.url, fresh.init)).status).toBe(201);
  });
});
