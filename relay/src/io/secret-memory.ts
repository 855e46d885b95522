/**
 * Memory for keys a thread keeps for a while: a key epoch's SRTP master keys, until each
 * direction's context has derived its session keys (relay/src/media/relay-session.ts).
 *
 * "Wiping works" only for bytes that stay where they were written, and that are wiped on every
 * way out. In V8 that rules out small typed arrays: `new Uint8Array(56)` lives on the JS heap,
 * where a scavenge copies it (and asking for its `.buffer` copies it off the heap), so zeroing the
 * array leaves earlier copies in memory the GC has released but not cleared. An ArrayBuffer's
 * backing store never moves, but is freed without being cleared when a thread dies (a crashed or
 * terminated relay worker), and N-API is the only way to run code then.
 *
 * So keys live in slots of slabs from the native addon's createSecretBuffer (never moved, cleansed
 * by the addon when the slab is freed: by the GC, or when the worker's environment is torn down,
 * crash included). `allocateSecretBytes` hands out a zeroed slot; `releaseSecretBytes` zeroes it
 * and puts it back. Without the addon the slabs are plain ArrayBuffers: zeroed on release, but
 * not on a crash (the relay logs that the addon is missing). Each slot costs its bytes and one
 * Uint8Array view, what a small typed array costs, not an ArrayBuffer per key.
 *
 * Per thread (module state), like every native handle: a worker's slabs belong to its isolate.
 */
import { loadNativeKeys } from './native-keys.js';

/** Slot size: the largest key epoch, aes256gcm's 2 × (32 + 12) = 88 bytes, rounded up. */
export const SECRET_SLOT_BYTES = 96;
const SLOTS_PER_SLAB = 512;

interface Slab {
  readonly buffer: ArrayBuffer;
  /** Indices of free slots (a stack). */
  readonly free: number[];
}

const slabs = new Map<ArrayBuffer, Slab>();
/** Slabs with a free slot, most recently freed-into last. */
const withRoom: Slab[] = [];

function newSlab(): Slab {
  const native = loadNativeKeys();
  const buffer = native !== null ? native.createSecretBuffer(SECRET_SLOT_BYTES * SLOTS_PER_SLAB) : new ArrayBuffer(SECRET_SLOT_BYTES * SLOTS_PER_SLAB);
  const slab: Slab = { buffer, free: Array.from({ length: SLOTS_PER_SLAB }, (_, i) => SLOTS_PER_SLAB - 1 - i) };
  slabs.set(buffer, slab);
  return slab;
}

/** Whether slabs come from the addon (cleansed even when the thread dies). */
export function secretMemoryIsNative(): boolean {
  return loadNativeKeys() !== null;
}

/** A zeroed view of `length` bytes (1..96) in secret memory; give it back with releaseSecretBytes. */
export function allocateSecretBytes(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > SECRET_SLOT_BYTES) throw new RangeError(`secret-memory: length must be 1..${SECRET_SLOT_BYTES}`);
  let slab = withRoom[withRoom.length - 1];
  if (slab === undefined) {
    slab = newSlab();
    withRoom.push(slab);
  }
  const slot = slab.free.pop()!;
  if (slab.free.length === 0) withRoom.pop();
  return new Uint8Array(slab.buffer, slot * SECRET_SLOT_BYTES, length);
}

/** Zeroes the slot of `bytes` (from allocateSecretBytes) and frees it. Releasing twice is a TypeError. */
export function releaseSecretBytes(bytes: Uint8Array): void {
  const slab = slabs.get(bytes.buffer as ArrayBuffer);
  const slot = bytes.byteOffset / SECRET_SLOT_BYTES;
  if (slab === undefined || !Number.isInteger(slot)) throw new TypeError('secret-memory: not secret bytes');
  if (slab.free.includes(slot)) throw new TypeError('secret-memory: released twice');
  new Uint8Array(slab.buffer, slot * SECRET_SLOT_BYTES, SECRET_SLOT_BYTES).fill(0);
  if (slab.free.length === 0) withRoom.push(slab);
  slab.free.push(slot);
}

/** Slots in use, for tests and diagnostics. */
export function secretSlotsInUse(): number {
  let used = 0;
  for (const slab of slabs.values()) used += SLOTS_PER_SLAB - slab.free.length;
  return used;
}
