/**
 * A bounded random-input run over every entry point of relay/native, meant to run with the
 * addon built under AddressSanitizer and UBSan (test/system/native-sanitizers.test.ts starts it
 * with the sanitizers preloaded). Arguments of every shape and size — right types with wrong
 * lengths, offsets past the end, overlapping views, other types altogether, tampered
 * ciphertexts, low-order points, file descriptors that are not sockets — go to each function;
 * each answer must be a value or a TypeError/RangeError (or one of the addon's own coded errors:
 * ERR_SYSTEM for a descriptor the kernel refuses, ERR_PARLEY_* for OpenSSL or use after wipe),
 * and where the inputs are valid the answer must be right (round trips, node:crypto agreement).
 * Memory errors do not come back as answers: the sanitizers abort the process, which fails the
 * test that started it.
 *
 * Why not libFuzzer: the entry points are N-API functions, which need a live JS environment
 * (napi_env) for every argument and result; driving them from a libFuzzer harness would need a
 * fake N-API, which would test the fake. fast-check drives the real ones, under the same
 * sanitizers, with a fixed seed so a failure reproduces.
 *
 *   node --import tsx test/system/support/native-fuzz.ts --runs 300 --seed 42
 * prints one JSON line: {"ok":true,"addon":…,"runs":{…}}.
 */
import { createCipheriv } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { ADDON_PATH_VARIABLE, loadedNativeAddonPath, requireNativeAddon } from '../../../relay/src/io/native-addon.js';
import { dgramSocketFd } from '../../../relay/src/io/datagram-batch.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '300' }, seed: { type: 'string', default: '1' } } });
const runs = Number(values.runs);
const seed = Number(values.seed);
const addon = requireNativeAddon('native-fuzz') as Record<string, (...args: never[]) => unknown>;
const path = loadedNativeAddonPath();
if (process.env[ADDON_PATH_VARIABLE] !== undefined && path !== process.env[ADDON_PATH_VARIABLE]) {
  throw new Error(`native-fuzz: loaded ${path}, not ${process.env[ADDON_PATH_VARIABLE]}`);
}

type Fn = (...args: unknown[]) => unknown;
const call = (fn: unknown, ...args: unknown[]): unknown => (fn as Fn)(...args);

/** Runs `fn`; an API-misuse error is an answer too. Anything else is a finding. */
function answer(fn: () => unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) return { ok: false };
    const code = (error as { code?: unknown }).code;
    // The addon's own errors: a system call refused (a descriptor that is not a socket), OpenSSL.
    if (typeof code === 'string' && (code.startsWith('ERR_PARLEY_') || code === 'ERR_SYSTEM')) return { ok: false };
    throw error;
  }
}

/** Bytes of a length that is usually plausible and sometimes not. */
const bytes = (max: number) => fc.oneof({ weight: 4, arbitrary: fc.uint8Array({ maxLength: max }) }, { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) });
const sized = (...lengths: number[]) => fc.oneof(fc.constantFrom(...lengths).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })), fc.uint8Array({ maxLength: 64 }));
/** A value of the wrong type, now and then. */
const junk = fc.oneof(fc.constant(undefined), fc.constant(null), fc.string(), fc.integer(), fc.double(), fc.constant({}), fc.constant([1, 2]), fc.constant(new ArrayBuffer(8)), fc.constant(new Uint16Array(4)));
const orJunk = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ weight: 9, arbitrary }, { weight: 1, arbitrary: junk });
const index = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 3000 }) }, { weight: 1, arbitrary: fc.constantFrom(-1, -0.5, 1.5, Number.NaN, Infinity, 2 ** 40, 2 ** 53) });

/** `n` as an array length when it is one of modest size, else `fallback`. */
const reasonableLength = (n: number, fallback: number): number => (Number.isSafeInteger(n) && n >= 0 && n <= 4000 ? n : fallback);

const counts: Record<string, number> = {};
function property<T>(name: string, arbitrary: fc.Arbitrary<T>, check: (value: T) => void, numRuns = runs): void {
  counts[name] = 0;
  fc.assert(
    fc.property(arbitrary, (value) => {
      counts[name]!++;
      check(value);
    }),
    { numRuns, seed, endOnFailure: true },
  );
}

// ---- AES-GCM engines ----------------------------------------------------------------------------

property(
  'createAesGcm + seal/open/sealInto',
  fc.record({ key: orJunk(sized(16, 32)), tag: orJunk(fc.constantFrom(16, 16, 12, 0)), iv: orJunk(sized(12)), aad: orJunk(bytes(300)), pt: orJunk(bytes(2000)), outLength: index, offset: index }),
  ({ key, tag, iv, aad, pt, outLength, offset }) => {
    const engine = answer(() => call(addon['createAesGcm'], key, tag));
    if (!engine.ok) return;
    const e = engine.value as Record<string, Fn>;
    const sealed = answer(() => e['seal']!(iv, aad, pt));
    if (sealed.ok) {
      const opened = answer(() => e['open']!(iv, aad, sealed.value));
      if (!opened.ok || Buffer.compare(opened.value as Uint8Array, pt as Uint8Array) !== 0) throw new Error('seal/open round trip failed');
      const tampered = new Uint8Array(sealed.value as Uint8Array);
      if (tampered.length > 0) {
        tampered[tampered.length - 1]! ^= 1;
        if (e['open']!(iv, aad, tampered) !== null) throw new Error('a tampered tag opened');
      }
    }
    const out = new Uint8Array(reasonableLength(outLength, 8));
    answer(() => e['sealInto']!(iv, aad, pt, out, offset));
    answer(() => e['sealInto']!(iv, aad, pt, pt, 0)); // in place, when pt is a Uint8Array
    answer(() => e['open']!(iv, aad, pt)); // random bytes as a sealed blob
    e['wipe']!();
    e['wipe']!();
    if (answer(() => e['seal']!(iv, aad, pt)).ok) throw new Error('an engine sealed after wipe()');
  },
);

property(
  'sealPacketInto / openPacketInto',
  fc.record({ key: sized(16, 32), iv: orJunk(sized(12)), packet: orJunk(bytes(1600)), aadLength: index, outLength: index, offset: index, shareWith: fc.constantFrom('none', 'packet', 'overlap') }),
  ({ key, iv, packet, aadLength, outLength, offset, shareWith }) => {
    const engine = answer(() => call(addon['createAesGcm'], key, 16));
    if (!engine.ok) return;
    const e = engine.value as Record<string, Fn>;
    let out: unknown = new Uint8Array(reasonableLength(outLength, 4));
    if (packet instanceof Uint8Array && shareWith === 'packet') out = packet;
    if (packet instanceof Uint8Array && shareWith === 'overlap' && packet.length > 2) out = new Uint8Array(packet.buffer, packet.byteOffset + 1, packet.length - 1);
    const sealed = answer(() => e['sealPacketInto']!(iv, packet, aadLength, out, offset));
    if (sealed.ok && packet instanceof Uint8Array && out instanceof Uint8Array && shareWith === 'none') {
      const start = offset as number;
      const copy = out.slice(start, start + (sealed.value as number));
      const back = new Uint8Array(copy.length);
      const opened = e['openPacketInto']!(iv, copy, aadLength, back, 0) as number;
      if (opened !== packet.length || Buffer.compare(back.subarray(0, opened), packet) !== 0) throw new Error('sealPacketInto/openPacketInto round trip failed');
    }
    const opened = answer(() => e['openPacketInto']!(iv, packet, aadLength, out, offset));
    if (opened.ok && typeof opened.value === 'number' && opened.value > 0 && !(packet instanceof Uint8Array)) throw new Error('opened a non-packet');
    e['wipe']!();
  },
);

property(
  'sealFanout',
  fc.record({
    keys: fc.array(sized(16, 32), { maxLength: 70 }),
    ivs: orJunk(bytes(900)),
    seqs: orJunk(fc.uint16Array({ maxLength: 80 }).map((a) => a as unknown)),
    count: index,
    packet: orJunk(bytes(600)),
    aadLength: index,
    outLength: index,
    offset: index,
    oddEngine: fc.constantFrom('none', 'junk', 'wiped'),
    shareWith: fc.constantFrom('none', 'packet', 'ivs'),
    // ABI 7: the engines' handles in a Uint32Array instead, a junk one among them at times.
    byHandle: fc.boolean(),
    junkHandle: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
  }),
  ({ keys, ivs, seqs, count, packet, aadLength, outLength, offset, oddEngine, shareWith, byHandle, junkHandle }) => {
    const engines: unknown[] = [];
    for (const key of keys) {
      const engine = answer(() => call(addon['createAesGcm'], key, 16));
      if (engine.ok) engines.push(engine.value);
    }
    if (engines.length > 0 && oddEngine === 'junk') engines[engines.length >> 1] = {};
    if (engines.length > 0 && oddEngine === 'wiped') (engines[0] as Record<string, Fn>)['wipe']!();
    let out: unknown = new Uint8Array(reasonableLength(outLength, 40));
    if (shareWith === 'packet' && packet instanceof Uint8Array) out = packet;
    if (shareWith === 'ivs' && ivs instanceof Uint8Array) out = ivs;
    let first: unknown = engines;
    if (byHandle) {
      const handles = Uint32Array.from(engines, (engine) => (typeof engine === 'object' && engine !== null && 'handle' in engine ? (engine as { handle: number }).handle : 0));
      if (junkHandle !== undefined && handles.length > 0) handles[handles.length >> 1] = junkHandle;
      first = handles;
    }
    const sealed = answer(() => call(addon['sealFanout'], first, ivs, seqs, count, packet, aadLength, out, offset));
    if (sealed.ok && sealed.value !== count) throw new Error('sealFanout answered another count than it was asked for');
    for (const engine of engines) if (typeof engine === 'object' && engine !== null && 'wipe' in engine) (engine as Record<string, Fn>)['wipe']!();
  },
);

// ABI 8: engines holding their salt; the fan-out and the inbound open build the IVs natively.
const rtpIndex = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 2 ** 48 - 1 }) }, { weight: 1, arbitrary: fc.constantFrom(-1, 0.5, 2 ** 48, Number.NaN, Infinity) });
property(
  'sealFanoutIndexed',
  fc.record({
    keys: fc.array(sized(16, 32), { maxLength: 70 }),
    salt: orJunk(sized(12)),
    ssrc: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(-1, 2 ** 32, 0.5, Number.NaN)),
    indices: orJunk(fc.array(rtpIndex, { maxLength: 80 }).map((a) => Float64Array.from(a) as unknown)),
    count: index,
    packet: orJunk(bytes(600)),
    aadLength: index,
    outLength: index,
    offset: index,
    unsalted: fc.boolean(),
    junkHandle: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
    shareWithPacket: fc.boolean(),
  }),
  ({ keys, salt, ssrc, indices, count, packet, aadLength, outLength, offset, unsalted, junkHandle, shareWithPacket }) => {
    const engines: Record<string, Fn>[] = [];
    for (const [i, key] of keys.entries()) {
      const engine = answer(() => (unsalted && i === 0 ? call(addon['createAesGcm'], key, 16) : call(addon['createAesGcm'], key, 16, salt)));
      if (engine.ok) engines.push(engine.value as Record<string, Fn>);
    }
    const handles = Uint32Array.from(engines, (engine) => (engine as unknown as { handle: number }).handle);
    if (junkHandle !== undefined && handles.length > 0) handles[handles.length >> 1] = junkHandle;
    const out: unknown = shareWithPacket && packet instanceof Uint8Array ? packet : new Uint8Array(reasonableLength(outLength, 40));
    const sealed = answer(() => call(addon['sealFanoutIndexed'], handles, ssrc, indices, count, packet, aadLength, out, offset));
    if (sealed.ok && sealed.value !== count) throw new Error('sealFanoutIndexed answered another count than it was asked for');
    // Each engine opens what it may have sealed, or refuses: never anything else.
    const first = engines[0];
    if (first !== undefined && packet instanceof Uint8Array) {
      const opened = answer(() => call(addon['openRtpIndexed'], handles[0], ssrc, indices instanceof Float64Array ? indices[0] : 0, packet, aadLength, new Uint8Array(reasonableLength(outLength, 40)), offset));
      if (opened.ok && typeof opened.value !== 'number') throw new Error('openRtpIndexed answered something else');
    }
    for (const engine of engines) engine['wipe']!();
    if (first !== undefined && answer(() => call(addon['openRtpIndexed'], handles[0], 1, 1, new Uint8Array(40), 12, new Uint8Array(40), 0)).ok) {
      throw new Error('openRtpIndexed worked after wipe()');
    }
  },
);

// ---- the seal opener ----------------------------------------------------------------------------

const LOW_ORDER = [new Uint8Array(32), Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0)), new Uint8Array(32).fill(0xff)];
property(
  'createSealOpener / openInto',
  fc.record({
    key: orJunk(sized(32)),
    c: orJunk(bytes(5000)),
    epk: orJunk(fc.oneof(sized(32), fc.constantFrom(...LOW_ORDER))),
    ct: orJunk(bytes(1200)),
    outDelta: fc.integer({ min: -3, max: 3 }),
    overlap: fc.boolean(),
  }),
  ({ key, c, epk, ct, outDelta, overlap }) => {
    const opener = answer(() => call(addon['createSealOpener'], key));
    if (!opener.ok) return;
    const o = opener.value as { publicKey: Uint8Array } & Record<string, Fn>;
    if (!(o.publicKey instanceof Uint8Array) || o.publicKey.length !== 32) throw new Error('no public key');
    const length = ct instanceof Uint8Array ? Math.max(0, ct.length - 16 + outDelta) : 8;
    const out = overlap && ct instanceof Uint8Array ? new Uint8Array(ct.buffer, ct.byteOffset, Math.min(length, ct.length)) : new Uint8Array(length);
    const opened = answer(() => o['openInto']!(c, epk, ct, out));
    if (opened.ok && ![0, 1, 2].includes(opened.value as number)) throw new Error('openInto answered something else');
    if (opened.ok && opened.value === 0) throw new Error('random bytes opened');
    o['close']!();
    o['close']!();
    if (answer(() => o['openInto']!(c, epk, ct, out)).ok) throw new Error('opened after close()');
  },
);

// ---- AES-CTR and secret buffers -----------------------------------------------------------------

property('createAesCtr / xor', fc.record({ key: orJunk(sized(16, 32, 24)), iv: orJunk(sized(16)), input: orJunk(bytes(5000)) }), ({ key, iv, input }) => {
  const engine = answer(() => call(addon['createAesCtr'], key));
  if (!engine.ok) return;
  const e = engine.value as Record<string, Fn>;
  const ours = answer(() => e['xor']!(iv, input));
  if (ours.ok) {
    const k = key as Uint8Array;
    const theirs = createCipheriv(`aes-${k.length * 8}-ctr`, k, iv as Uint8Array).update(input as Uint8Array);
    if (Buffer.compare(ours.value as Uint8Array, theirs) !== 0) throw new Error('AES-CTR disagrees with node:crypto');
  }
  e['wipe']!();
  if (answer(() => e['xor']!(iv, input)).ok) throw new Error('xor after wipe()');
});

property('createSecretBuffer', orJunk(fc.oneof(index, fc.integer({ min: 1, max: 1 << 16 }))), (length) => {
  const made = answer(() => call(addon['createSecretBuffer'], length));
  if (made.ok) {
    const buffer = made.value as ArrayBuffer;
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength !== length || !new Uint8Array(buffer).every((b) => b === 0)) throw new Error('secret buffer not as asked');
    new Uint8Array(buffer).fill(0xa5);
  }
});

// ---- batched UDP I/O, on real loopback sockets only -----------------------------------------------

async function boundSocket(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}
const a = await boundSocket();
const b = await boundSocket();
const fdA = dgramSocketFd(a)!;
const fdB = dgramSocketFd(b)!;
// Not sockets of ours, but never a descriptor another part of this process uses: one past a
// range nothing here opens, and negative ones.
const fds = fc.constantFrom(fdA, fdB, -1, -100, 1_000_000, 2 ** 31 - 1);
const LOOPBACK = 0x7f00_0001;

property(
  'sendBatch / recvBatch',
  fc.record({
    fd: orJunk(fds),
    data: orJunk(bytes(4000)),
    datagrams: fc.array(fc.record({ offset: fc.integer({ min: 0, max: 5000 }), length: fc.integer({ min: 0, max: 2000 }), port: fc.oneof(fc.constant(b.address().port), fc.integer({ min: 0, max: 65535 })) }), { maxLength: 70 }),
    count: index,
    capacity: index,
    slot: index,
  }),
  ({ fd, data, datagrams, count, capacity, slot }) => {
    const meta = new Uint32Array(datagrams.length * 4);
    datagrams.forEach((d, i) => meta.set([d.offset, d.length, LOOPBACK, d.port], i * 4)); // 127.0.0.1 only
    answer(() => call(addon['sendBatch'], fd, data, meta, count));
    const slotBytes = Number.isSafeInteger(slot) && slot > 0 ? Math.min(slot, 2000) : 64;
    const cap = Number.isSafeInteger(capacity) && capacity > 0 ? Math.min(capacity, 64) : 4;
    answer(() => call(addon['recvBatch'], fd, new Uint8Array(cap * slotBytes), new Uint32Array(cap * 4), capacity, slot));
    answer(() => call(addon['recvBatch'], fdB, new Uint8Array(8 * 1501), new Uint32Array(8 * 4), 8, 1501));
    answer(() => call(addon['udp4SocketPort'], fd));
    answer(() => call(addon['clearSocketError'], fd));
  },
  Math.max(50, Math.floor(runs / 2)),
);

property('watchReadable / restart / close', fc.record({ fd: orJunk(fds), callback: fc.oneof(fc.constant(() => {}), junk) }), ({ fd, callback }) => {
  const watch = answer(() => call(addon['watchReadable'], fd, callback));
  if (!watch.ok) return;
  const w = watch.value as Record<string, Fn>;
  w['restart']!();
  w['close']!();
  w['close']!();
  w['restart']!();
});

a.close();
b.close();
// Let libuv close the sockets and run the finalizers of everything made above.
await new Promise((resolve) => setTimeout(resolve, 50));
(globalThis as { gc?: () => void }).gc?.();
process.stdout.write(`${JSON.stringify({ ok: true, addon: path, seed, runs: counts})}\n`);
