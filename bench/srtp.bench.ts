/**
 * `npm run bench:srtp`: SRTP protect and unprotect throughput per profile and backend, for a
 * voice-sized packet (12-byte RTP header, 160-byte payload). Prints packets/s; `--json` prints
 * one JSON object instead. A benchmark, not a test: nothing here asserts on time.
 *
 * Options: --seconds N (per measurement, default 1), --json.
 */
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { loadNativeGcmBackend, nativeGcmBackendError } from '../relay/src/media/native-gcm-backend.js';
import { nodeCryptoBackend } from '../shared/srtp/backends/node-crypto.js';
import { nobleBackend } from '../shared/srtp/backends/noble.js';
import { SrtpContext } from '../shared/srtp/context.js';
import type { SrtpCryptoBackend } from '../shared/srtp/crypto-backend.js';
import { SRTP_PROFILES, type SrtpProfileName } from '../shared/srtp/profiles.js';
import { serializeRtpPacket } from '../shared/srtp/rtp-header.js';

/**
 * The backend the relay picks (relay/src/relay-server.ts): native AES-GCM when the addon is
 * built (`npm ci` builds it), otherwise node:crypto.
 */
const native = loadNativeGcmBackend();
const RELAY_BACKEND: SrtpCryptoBackend = native ?? nodeCryptoBackend;
const BACKENDS: SrtpCryptoBackend[] = [nodeCryptoBackend, nobleBackend, ...(native ? [native] : [])];

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '1' }, json: { type: 'boolean', default: false } },
  strict: true,
});
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 60) {
  console.error('bench:srtp: --seconds must be a number in (0, 60]');
  process.exit(2);
}

const PACKETS = 65536; // one full sequence cycle, prepared up front so the loop measures crypto only

function voicePackets(): Uint8Array[] {
  const payload = new Uint8Array(randomBytes(160));
  return Array.from({ length: PACKETS }, (_, seq) =>
    serializeRtpPacket(
      { padding: false, marker: false, payloadType: 111, sequenceNumber: seq, timestamp: seq * 960, ssrc: 0x1234abcd, csrcs: [], extension: null },
      payload,
    ),
  );
}

/** Runs `op` over `inputs` until `seconds` pass (whole passes only); returns ops/s. */
function measure(inputs: Uint8Array[], makeOp: () => (packet: Uint8Array) => unknown): number {
  let done = 0;
  const started = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() - started < budget) {
    const op = makeOp(); // fresh context per pass: a pass covers one sequence cycle
    for (const packet of inputs) op(packet);
    done += inputs.length;
  }
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return done / elapsed;
}

interface Row {
  profile: SrtpProfileName;
  backend: string;
  protect_pps: number;
  unprotect_pps: number;
}

const plain = voicePackets();
const rows: Row[] = [];
for (const profile of Object.keys(SRTP_PROFILES) as SrtpProfileName[]) {
  for (const backend of BACKENDS) {
    const p = SRTP_PROFILES[profile];
    const keys = { profile, backend, masterKey: new Uint8Array(randomBytes(p.keyLength)), masterSalt: new Uint8Array(randomBytes(p.saltLength)) };
    const sealer = new SrtpContext(keys);
    const sealed = plain.map((packet) => sealer.protectRtp(packet));
    const protectPps = measure(plain, () => {
      const ctx = new SrtpContext(keys);
      return (packet) => ctx.protectRtp(packet);
    });
    const unprotectPps = measure(sealed, () => {
      const ctx = new SrtpContext(keys);
      return (packet) => ctx.unprotectRtp(packet);
    });
    rows.push({ profile, backend: backend.name, protect_pps: Math.round(protectPps), unprotect_pps: Math.round(unprotectPps) });
  }
}

if (values.json) {
  console.log(JSON.stringify({ packet: { header_bytes: 12, payload_bytes: 160 }, seconds_per_measurement: seconds, relay_backend: RELAY_BACKEND.name, results: rows }));
} else {
  console.log(`SRTP throughput, 12-byte header + 160-byte payload, ${seconds}s per figure, one core (node ${process.version})`);
  console.log('');
  console.log(`${'profile'.padEnd(15)}${'backend'.padEnd(17)}${'protect pkt/s'.padStart(15)}${'unprotect pkt/s'.padStart(17)}`);
  for (const r of rows) {
    console.log(`${r.profile.padEnd(15)}${r.backend.padEnd(17)}${r.protect_pps.toLocaleString('en-US').padStart(15)}${r.unprotect_pps.toLocaleString('en-US').padStart(17)}`);
  }
  console.log('');
  for (const profile of Object.keys(SRTP_PROFILES)) {
    const of = (name: string): Row | undefined => rows.find((r) => r.profile === profile && r.backend === name);
    const base = of(nobleBackend.name);
    const ratios = BACKENDS.filter((b) => b !== nobleBackend)
      .map((b) => [b.name, of(b.name)] as const)
      .filter((pair): pair is readonly [string, Row] => pair[1] !== undefined && base !== undefined)
      .map(([name, row]) => `${name} ${(row.protect_pps / base!.protect_pps).toFixed(1)}x / ${(row.unprotect_pps / base!.unprotect_pps).toFixed(1)}x`);
    console.log(`${profile}: protect / unprotect vs noble: ${ratios.join(', ')}`);
  }
  console.log(`The relay uses the ${RELAY_BACKEND.name} backend${native ? ' (AES-GCM in relay/native over the OpenSSL inside node; AES-CM and HMAC from node:crypto)' : ` (native AES-GCM unavailable: ${nativeGcmBackendError ?? 'unknown'})`}.`);
}
