/**
 * `npx tsx bench/native-gcm.bench.ts`: AES-GCM seals/s and opens/s of a voice packet (12-byte
 * AAD, 160-byte payload) on the native addon (relay/native) against node:crypto and noble, then
 * SrtpContext protectRtp/unprotectRtp per backend. One core; a benchmark, not a test.
 *
 * Options: --seconds N (per figure, default 1), --json. Each figure is the median of five slices. Build the addon first:
 * `npm run build:native`.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadNativeGcmBackend, nativeGcmBackendError } from '../relay/src/media/native-gcm-backend.js';
import { nobleBackend } from '../shared/srtp/backends/noble.js';
import { nodeCryptoBackend } from '../shared/srtp/backends/node-crypto.js';
import { SrtpContext } from '../shared/srtp/context.js';
import type { SrtpCryptoBackend } from '../shared/srtp/crypto-backend.js';
import { SRTP_PROFILES, type SrtpProfileName } from '../shared/srtp/profiles.js';
import { serializeRtpPacket } from '../shared/srtp/rtp-header.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '1' }, json: { type: 'boolean', default: false } },
  strict: true,
});
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 60) {
  console.error('bench:native-gcm: --seconds must be a number in (0, 60]');
  process.exit(2);
}

const AAD_BYTES = 12;
const PAYLOAD_BYTES = 160;
const INPUTS = 4096; // distinct IVs and payloads, prepared up front so the loop measures crypto only

/** The median of `rates`: this machine's neighbours come and go, and one slow slice should not decide. */
function median(rates: number[]): number {
  const sorted = [...rates].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const SLICES = 5;

/** Calls `op(i)` for i = 0 … INPUTS-1 over and over for `seconds`; returns the median calls/s of 5 slices. */
function measure(op: (i: number) => unknown): number {
  for (let i = 0; i < 20_000; i++) op(i & (INPUTS - 1)); // warm up the JIT
  const budget = BigInt(Math.round((seconds / SLICES) * 1e9));
  const rates: number[] = [];
  for (let slice = 0; slice < SLICES; slice++) {
    let done = 0;
    const started = process.hrtime.bigint();
    while (process.hrtime.bigint() - started < budget) {
      for (let i = 0; i < INPUTS; i++) op(i);
      done += INPUTS;
    }
    rates.push(done / (Number(process.hrtime.bigint() - started) / 1e9));
  }
  return median(rates);
}

/** Runs whole passes of `makeOp()` over `inputs` until `seconds` pass; returns ops/s. */
function measurePasses(inputs: Uint8Array[], makeOp: () => (packet: Uint8Array) => unknown): number {
  let done = 0;
  const started = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() - started < budget) {
    const op = makeOp();
    for (const packet of inputs) op(packet);
    done += inputs.length;
  }
  return done / (Number(process.hrtime.bigint() - started) / 1e9);
}

const native = loadNativeGcmBackend();
const backends: SrtpCryptoBackend[] = [...(native ? [native] : []), nodeCryptoBackend, nobleBackend];

interface GcmRow {
  backend: string;
  key_bits: number;
  seal_per_s: number;
  open_per_s: number;
  seal_into_per_s?: number;
}

interface SrtpRow {
  profile: SrtpProfileName;
  backend: string;
  protect_per_s: number;
  unprotect_per_s: number;
}

const ivs = Array.from({ length: INPUTS }, () => new Uint8Array(randomBytes(12)));
const aads = Array.from({ length: INPUTS }, () => new Uint8Array(randomBytes(AAD_BYTES)));
const payloads = Array.from({ length: INPUTS }, () => new Uint8Array(randomBytes(PAYLOAD_BYTES)));

const gcmRows: GcmRow[] = [];
for (const keyLength of [16, 32]) {
  const key = new Uint8Array(randomBytes(keyLength));
  for (const backend of backends) {
    const engine = backend.createAesGcm(key, 16);
    const sealed = payloads.map((payload, i) => engine.seal(ivs[i]!, aads[i]!, payload));
    const row: GcmRow = {
      backend: backend.name,
      key_bits: keyLength * 8,
      seal_per_s: Math.round(measure((i) => engine.seal(ivs[i]!, aads[i]!, payloads[i]!))),
      open_per_s: Math.round(measure((i) => engine.open(ivs[i]!, aads[i]!, sealed[i]!))),
    };
    if (native && backend === native) {
      const nativeEngine = native.createAesGcm(key, 16);
      const out = new Uint8Array(PAYLOAD_BYTES + 16);
      row.seal_into_per_s = Math.round(measure((i) => nativeEngine.sealInto(ivs[i]!, aads[i]!, payloads[i]!, out, 0)));
      nativeEngine.wipe();
    }
    engine.wipe();
    gcmRows.push(row);
  }
}

const srtpRows: SrtpRow[] = [];
const rtpPackets = Array.from({ length: 65536 }, (_, seq) =>
  serializeRtpPacket(
    { padding: false, marker: false, payloadType: 111, sequenceNumber: seq, timestamp: seq * 960, ssrc: 0x1234abcd, csrcs: [], extension: null },
    payloads[seq & (INPUTS - 1)]!,
  ),
);
for (const profile of ['aes128gcm', 'aes256gcm'] as const) {
  const p = SRTP_PROFILES[profile];
  const masterKey = new Uint8Array(randomBytes(p.keyLength));
  const masterSalt = new Uint8Array(randomBytes(p.saltLength));
  for (const backend of backends) {
    const options = { profile, backend, masterKey, masterSalt };
    const sealed = ((sender) => rtpPackets.map((packet) => sender.protectRtp(packet)))(new SrtpContext(options));
    // A fresh context per pass over the 65,536 sequence numbers, as bench/srtp.bench.ts does: a
    // sender never reuses an index, and the receiver's replay window would refuse a second pass.
    const protect = measurePasses(rtpPackets, () => {
      const ctx = new SrtpContext(options);
      return (packet) => ctx.protectRtp(packet);
    });
    const unprotect = measurePasses(sealed, () => {
      const ctx = new SrtpContext(options);
      return (packet) => ctx.unprotectRtp(packet);
    });
    srtpRows.push({ profile, backend: backend.name, protect_per_s: Math.round(protect), unprotect_per_s: Math.round(unprotect) });
  }
}

const n = (value: number | undefined): string => (value === undefined ? '-' : value.toLocaleString('en-US'));
if (values.json) {
  console.log(JSON.stringify({ packet: { aad_bytes: AAD_BYTES, payload_bytes: PAYLOAD_BYTES }, seconds_per_measurement: seconds, native_error: nativeGcmBackendError, opensslVersion: native?.opensslVersion ?? null, gcm: gcmRows, srtp: srtpRows }));
} else {
  console.log(`AES-GCM, ${AAD_BYTES}-byte AAD + ${PAYLOAD_BYTES}-byte payload, ${seconds}s per figure, one core (node ${process.version}${native ? `, ${native.opensslVersion}` : ''})`);
  if (!native) console.log(`native backend unavailable: ${nativeGcmBackendError ?? 'unknown'}`);
  console.log('');
  console.log(`${'backend'.padEnd(16)}${'key'.padEnd(6)}${'seal/s'.padStart(12)}${'open/s'.padStart(12)}${'sealInto/s'.padStart(13)}`);
  for (const r of gcmRows) {
    console.log(`${r.backend.padEnd(16)}${String(r.key_bits).padEnd(6)}${n(r.seal_per_s).padStart(12)}${n(r.open_per_s).padStart(12)}${n(r.seal_into_per_s).padStart(13)}`);
  }
  console.log('');
  console.log(`${'SrtpContext'.padEnd(16)}${'profile'.padEnd(11)}${'protectRtp/s'.padStart(14)}${'unprotectRtp/s'.padStart(16)}`);
  for (const r of srtpRows) {
    console.log(`${r.backend.padEnd(16)}${r.profile.padEnd(11)}${n(r.protect_per_s).padStart(14)}${n(r.unprotect_per_s).padStart(16)}`);
  }
}
