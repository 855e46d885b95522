/**
 * Replay protection, RFC 3711 §3.3.2: a sliding window of the most recent indices received.
 *
 * `check` only reads; `commit` records an index and is called only after the packet's tag has
 * verified, so a forged packet can never move the window (RFC 3711 §3.3 step 5).
 *
 * The window is kept as a ring of bits addressed by index modulo the ring size, so advancing
 * costs the distance advanced (bounded by the ring size), not the window size.
 */
export const DEFAULT_REPLAY_WINDOW = 128;
export const MIN_REPLAY_WINDOW = 64;
export const MAX_REPLAY_WINDOW = 32768;

export type ReplayVerdict = 'new' | 'replay' | 'too-old';

export function checkReplayWindowSize(size: number): number {
  if (!Number.isInteger(size) || size < MIN_REPLAY_WINDOW || size > MAX_REPLAY_WINDOW) {
    throw new RangeError(`srtp: replay window must be an integer in [${MIN_REPLAY_WINDOW}, ${MAX_REPLAY_WINDOW}], got ${size}`);
  }
  return size;
}

export class ReplayWindow {
  readonly size: number;
  readonly #ringBits: number;
  readonly #ring: Uint32Array;
  /** Highest index committed so far, or -1 before the first commit. */
  #highest = -1;

  constructor(size: number = DEFAULT_REPLAY_WINDOW) {
    this.size = checkReplayWindowSize(size);
    // A power of two no smaller than the window, so index → bit is a cheap modulo.
    let ringBits = 32;
    while (ringBits < size) ringBits *= 2;
    this.#ringBits = ringBits;
    this.#ring = new Uint32Array(ringBits / 32);
  }

  get highest(): number {
    return this.#highest;
  }

  check(index: number): ReplayVerdict {
    if (index > this.#highest) return 'new';
    if (this.#highest - index >= this.size) return 'too-old';
    return this.#isSet(index) ? 'replay' : 'new';
  }

  commit(index: number): void {
    if (index > this.#highest) {
      if (this.#highest >= 0) {
        // The indices skipped over enter the window unreceived: clear their stale ring bits.
        const from = Math.max(this.#highest + 1, index - this.#ringBits + 1);
        for (let i = from; i < index; i++) this.#write(i, false);
      }
      this.#highest = index;
    }
    this.#write(index, true);
  }

  #isSet(index: number): boolean {
    const bit = index % this.#ringBits;
    return (this.#ring[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  #write(index: number, received: boolean): void {
    const bit = index % this.#ringBits;
    const word = bit >>> 5;
    const mask = 1 << (bit & 31);
    this.#ring[word] = received ? this.#ring[word]! | mask : this.#ring[word]! & ~mask;
  }
}
