/** docs/protocol.md §8 is a spec the control plane is built from: its labels and examples must be the code's. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hexToBytes } from '../../../shared/bytes.js';
import { x25519PublicKey } from '../../../shared/keys/x25519.js';
import { canonicalRequest, SIGNATURE_SCHEME, SIGNING_LABEL, signRequest } from '../../../shared/relay-api/request-signing.js';
import { encodeSealContext, openSessionKeys, SEAL_HKDF_INFO, SEAL_LABEL, sealSessionKeys } from '../../../shared/relay-api/sealed-keys.js';
import { INTERNAL_API_REALM } from '../../../relay/src/api/internal-api.js';
import { parseRelayRegistration } from '../../../shared/relay-api/messages.js';
import { fnv1a32, workerForChannel } from '../../../relay/src/workers/channel-shard.js';
import { INSECURE_DEV_API_KEYS, INSECURE_DEV_CONTROL_KEY, INSECURE_DEV_RELAY_PRIVATE_KEY, INSECURE_DEV_RELAY_PUBLIC_KEY, loadRelayConfig } from '../../../relay/src/config.js';
import { HEARTBEAT_PATH, REGISTER_PATH } from '../../../relay/src/api/control-plane-client.js';

const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('## 8. Relay internal API'));
const sectionWithoutSpace = section.replace(/\s+/g, '');
const seq = (length: number, start = 0): Uint8Array => Uint8Array.from({ length }, (_, i) => (start + i) & 0xff);

describe('docs/protocol.md §8', () => {
  it('quotes the labels, the scheme and the challenge', () => {
    expect(section.length).toBeGreaterThan(1000);
    for (const label of [SIGNING_LABEL, SEAL_LABEL, SEAL_HKDF_INFO.key, SEAL_HKDF_INFO.iv]) expect(section).toContain(label);
    expect(section).toContain(`Authorization: ${SIGNATURE_SCHEME} keyId=<kid>, ts=<ms>, nonce=<nonce>, sig=<sig>`);
    expect(section).toContain(`WWW-Authenticate: ${SIGNATURE_SCHEME} realm="${INTERNAL_API_REALM}"`);
  });

  it('gives the signing example the code produces', () => {
    const body = new TextEncoder().encode('{"muted":true}');
    const header = signRequest({
      method: 'PATCH',
      url: 'https://relay-fra-1.internal:7000/v1/sessions/ses-example',
      body,
      audience: 'relay-fra-1',
      key: { keyId: 'example-key', secret: seq(32) },
      now: 1_760_000_000_000,
      randomBytes: () => seq(16, 0xa0),
    });
    expect(section).toContain(`Authorization: ${header}`);
    const canonical = canonicalRequest({
      keyId: 'example-key',
      audience: 'relay-fra-1',
      timestamp: 1_760_000_000_000,
      nonce: 'oKGio6SlpqeoqaqrrK2urw',
      method: 'PATCH',
      target: '/v1/sessions/ses-example',
      body,
    });
    expect(section).toContain(new TextDecoder().decode(canonical));
  });

  it('gives the sealing example the code produces, and it opens', () => {
    const relayPrivateKey = hexToBytes('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    const esk = hexToBytes('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const relayPublicKey = x25519PublicKey(relayPrivateKey);
    const context = { relayId: 'relay-fra-1', bootId: 'AAECAwQFBgcICQoLDA0ODw', sessionId: 'ses-example', ssrc: 0x12345678, profile: 'aes128gcm' as const };
    const keys = {
      clientToRelay: { masterKey: seq(16, 0x10), masterSalt: seq(12, 0x20) },
      relayToClient: { masterKey: seq(16, 0x30), masterSalt: seq(12, 0x40) },
    };
    const sealed = sealSessionKeys(relayPublicKey, context, keys, { randomBytes: () => esk.slice() });
    expect(section).toContain(`sealed = ${JSON.stringify(sealed)}`);
    expect(sectionWithoutSpace).toContain(Buffer.from(encodeSealContext(context, x25519PublicKey(esk), relayPublicKey)).toString('hex'));
    expect(openSessionKeys(relayPrivateKey, context, sealed)).toEqual(keys);
    expect(Buffer.from(hexToBytes('000102030405060708090a0b0c0d0e0f')).toString('base64url')).toBe(context.bootId);
    // The same seal, opened for the next run of that relay: the boot id is bound.
    expect(() => openSessionKeys(relayPrivateKey, { ...context, bootId: 'EBESExQVFhcYGRobHB0eHw' }, sealed)).toThrow(/authenticate/);
  });

  it('gives a registration example (§8.6) that is valid JSON and that parseRelayRegistration accepts', () => {
    const registration = section.slice(section.indexOf('### 8.6'));
    const example = /```json\n([\s\S]*?)```/.exec(registration)?.[1];
    expect(example).toBeDefined();
    const parsed = parseRelayRegistration(JSON.parse(example!));
    expect(parsed.ok ? parsed.value : parsed).toMatchObject({ relayId: 'relay-fra-1', bootId: 'AAECAwQFBgcICQoLDA0ODw' });
    const bob = x25519PublicKey(hexToBytes('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
    expect(parsed.ok && parsed.value.publicKey).toBe(Buffer.from(bob).toString('base64url'));
  });

  it('says what fly.toml does with the API port: public, behind TLS on 443; metrics on a private listener only', () => {
    const toml = readFileSync(new URL('../../../fly.toml', import.meta.url), 'utf8');
    const services = toml.split('\n[[services]]').slice(1);
    const api = services.find((block) => /internal_port = 7400\b/.test(block));
    expect(api, 'fly.toml publishes the API port').toBeDefined();
    expect(api).toMatch(/port = 443\s+handlers = \["tls", "http"\]/);
    expect(api).not.toMatch(/port = 80\b/);
    expect(services.some((block) => /internal_port = 9091\b/.test(block))).toBe(false);
    const overview = section.slice(section.indexOf('### 8.1'), section.indexOf('### 8.2'));
    expect(overview).toContain('TLS-terminating proxy');
    expect(overview).not.toMatch(/MUST be reachable only on the private network/);
    expect(overview).not.toMatch(/\| `GET \/metrics` \|/);
    expect(overview).toContain('`GET /metrics`\nthere answers `404`');
  });

  it('is the whole contract: no pointer into source code outside its informative note', () => {
    const normative = section.slice(0, section.indexOf('Reference implementation (informative)'));
    expect(normative.length).toBeGreaterThan(10_000);
    expect(normative).not.toMatch(/\.ts\b|shared\/relay-api|relay\/src|test\//);
  });

  it('specifies the worker sharding (FNV-1a, 32 bits, over UTF-8) with examples the relay reproduces', () => {
    for (const [channelId, bytes] of [['chn-1', ''], ['chn-2', ''], ['ü', ' (bytes `c3 bc`)']] as const) {
      const hash = `0x${fnv1a32(channelId).toString(16)}`;
      const expected = `\`${channelId}\`${bytes} hashes to \`${hash}\` (worker ${workerForChannel(channelId, 2)} of 2, worker ${workerForChannel(channelId, 4)} of 4)`;
      expect(sectionWithoutSpace).toContain(expected.replace(/\s+/g, ''));
    }
    expect(fnv1a32('chn-1')).toBe(0xaf059b72);
    expect(section).toContain('`0x811c9dc5`');
    expect(section).toContain('`0x01000193`');
  });

  it('says how the control-plane URL and the paths join, as the relay joins them', () => {
    expect(section).toContain(`\`POST /${REGISTER_PATH}\``);
    expect(section).toContain(`\`POST /${HEARTBEAT_PATH}\``);
    const base = loadRelayConfig({ CONTROL_PLANE_URL: 'https://control.example.com/api' }).controlPlaneUrl;
    expect(section).toContain(`\`${new URL(REGISTER_PATH, base).href}\``);
    expect(section).toContain(`\`${new URL(REGISTER_PATH, 'https://control.example.com/').href}\``);
  });

  it('lists the development keys a local relay uses (§8.7), and the public key that goes with them', () => {
    const development = section.slice(section.indexOf('### 8.7'));
    for (const value of [INSECURE_DEV_API_KEYS, INSECURE_DEV_CONTROL_KEY, INSECURE_DEV_RELAY_PRIVATE_KEY, INSECURE_DEV_RELAY_PUBLIC_KEY]) expect(development).toContain(`\`${value}\``);
    expect(Buffer.from(loadRelayConfig({}).publicKey).toString('base64url')).toBe(INSECURE_DEV_RELAY_PUBLIC_KEY);
  });
});
