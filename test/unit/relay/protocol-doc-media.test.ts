/**
 * docs/protocol.md §6 is what a client in another language is written from: its keepalive
 * examples, its defaults and its sequence-numbering example must be what the code does.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONSENT_LIFETIME_MS, COOKIE_REUSE_MS, AMPLIFICATION_FACTOR } from '../../../relay/src/media/address-consent.js';
import { DEFAULT_MAX_UNLATCHED_PACKETS_PER_SECOND } from '../../../relay/src/media/datagram-router.js';
import { SequenceRewriter } from '../../../relay/src/media/sequence-rewriter.js';
import { SOURCE_BUDGET_CAPACITY } from '../../../relay/src/media/source-budgets.js';
import { loadRelayConfig } from '../../../relay/src/config.js';
import { encodeKeepalive, KEEPALIVE_LENGTH } from '../../../shared/protocol/keepalive.js';
import { nodeCryptoBackend } from '../../../shared/srtp/backends/node-crypto.js';
import { SrtpContext } from '../../../shared/srtp/context.js';

const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('## 6. The relay'), doc.indexOf('## 7. References'));
const seq = (length: number, start = 0): Uint8Array => Uint8Array.from({ length }, (_, i) => (start + i) & 0xff);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const spaced = (bytes: Uint8Array): string => [hex(bytes.subarray(0, 4)), hex(bytes.subarray(4, 8)), hex(bytes.subarray(8, 12)), hex(bytes.subarray(12, 20)), hex(bytes.subarray(20, 28))].join(' ');

describe('docs/protocol.md §6', () => {
  it('gives the keepalive handshake example the code produces (consent, §6.2–6.3)', () => {
    // The keys of the §8.4 example.
    const client = new SrtpContext({ profile: 'aes128gcm', backend: nodeCryptoBackend, masterKey: seq(16, 0x10), masterSalt: seq(12, 0x20) });
    const relay = new SrtpContext({ profile: 'aes128gcm', backend: nodeCryptoBackend, masterKey: seq(16, 0x30), masterSalt: seq(12, 0x40) });
    const ssrc = 0x12345678;
    const steps: Array<[string, Uint8Array, SrtpContext]> = [
      ['ping', encodeKeepalive('ping', ssrc, seq(8, 0x01)), client],
      ['challenge', encodeKeepalive('challenge', ssrc, seq(8, 0x01), seq(8, 0xc1)), relay],
      ['ping', encodeKeepalive('ping', ssrc, seq(8, 0x11), seq(8, 0xc1)), client],
      ['pong', encodeKeepalive('pong', ssrc, seq(8, 0x11), seq(8, 0xd1)), relay],
    ];
    for (const [name, plain, context] of steps) {
      expect(plain.length).toBe(KEEPALIVE_LENGTH);
      expect(section).toContain(`${name.padEnd(9)} ${spaced(plain)}`);
      expect(section).toContain(`datagram  ${hex(context.protectRtcp(plain))}`);
    }
  });

  it('states the defaults the relay uses (§6.3, §6.4)', () => {
    const config = loadRelayConfig({});
    const { session } = config.registry;
    const row = (label: string): string => section.split('\n').find((line) => line.startsWith(`| ${label}`)) ?? '';
    expect(row('packets per second from the latched address')).toContain(`${session.packetsPerSecond}/s; ${session.packetBurst}`);
    expect(row('forwarded voice bytes per second')).toContain(`${session.bytesPerSecond.toLocaleString('en-US')} B/s; ${session.byteBurst.toLocaleString('en-US')} B`);
    expect(row('packets per second from each other source')).toContain(`${session.unlatchedPacketsPerSecond}/s, for up to ${SOURCE_BUDGET_CAPACITY} sources`);
    expect(row('packets per second from unlatched sources')).toContain(`${DEFAULT_MAX_UNLATCHED_PACKETS_PER_SECOND.toLocaleString('en-US')}/s`);
    expect(row('idle timeout')).toContain(`${config.registry.idleTimeoutMs / 1000} s`);
    expect(row('consent')).toContain(`${CONSENT_LIFETIME_MS / 1000} s`);
    expect(row('largest datagram')).toContain(`${config.router.maxDatagramBytes} bytes`);
    expect(row('replay window')).toContain(`${session.replayWindowSize} packets`);
    expect(row('rotation overlap')).toContain(`${config.registry.rotationOverlapMs / 1000} s`);
    expect(section).toContain(`up to ${COOKIE_REUSE_MS / 1000} s before it draws a new one`);
    expect(AMPLIFICATION_FACTOR).toBe(3);
    expect(section).toContain('at most **three times the bytes it received from');
  });

  it('gives the sequence-numbering example the relay computes (§6.7)', () => {
    const arrivals = [1000, 1001, 1002, 1006, 1003, 1007, 1008, 1009, 1010, 1011];
    const deafened = new Set([1007, 1008, 1009]);
    const listener = SequenceRewriter.startingAt(arrivals[0]!);
    const out: string[] = [];
    for (const input of arrivals) {
      if (deafened.has(input)) {
        listener.withhold(input);
        out.push('    ');
      } else {
        out.push(String(listener.send(input)));
      }
    }
    const line = section.split('\n').find((l) => l.startsWith('listener SEQ'))!;
    expect(line.slice('listener SEQ   '.length).split(/\s+/).slice(0, 7)).toEqual(out.filter((o) => o.trim() !== ''));
  });
});
