/**
 * A small jitter buffer for one received RTP stream (one speaker's SSRC): it puts packets back
 * in sequence order, waits a bounded time for a missing one, then gives it up as lost and
 * moves on; a packet that arrives after its place was passed is late and dropped. It reports
 * loss, lateness and the interarrival jitter of RFC 3550 §6.4.1 / Appendix A.8.
 *
 * Pure: the caller passes arrival times (milliseconds on any monotonic clock) and asks for
 * what is ready with `release(now)`; `nextDeadline()` says when to ask again. No timers here.
 *
 * Sequence numbers are 16-bit and wrap; they are extended to a running count relative to the
 * newest packet (RFC 3550 Appendix A.1), so a wrap is just the next number. What Parley's relay
 * sends a listener is numbered by the relay for that listener (docs/protocol.md §6.7): a gap is
 * always loss on the network, never something the relay withheld, so giving a gap up after a
 * short wait is right. A jump of more than `maxDropout` ahead is taken as a restart of the
 * stream (RFC 3550 A.1's MAX_DROPOUT): what is held goes out, and numbering starts again there.
 */

import { InterarrivalJitter, RTP_TIMESTAMP_MODULUS } from './interarrival-jitter.js';

export interface JitterBufferOptions {
  /**
   * How long (ms) the buffer waits for a missing packet once a later one has arrived, before
   * the missing one is given up as lost. Default 60 (three 20 ms frames).
   */
  readonly maxWaitMs?: number;
  /** At most this many packets are held; one more gives the oldest gap up at once. Default 50. */
  readonly capacity?: number;
  /** RTP clock rate of the stream, for the jitter estimate (default 48000, Opus). */
  readonly clockRate?: number;
  /** A packet this many numbers ahead of the newest restarts the stream (default 3000, RFC 3550 A.1). */
  readonly maxDropout?: number;
}

export interface JitterPacket {
  /** The RTP sequence number, 0..65535. */
  readonly sequenceNumber: number;
  /** The RTP timestamp, uint32. */
  readonly timestamp: number;
  readonly payload: Uint8Array;
  /** The SRTP packet index it was authenticated under, if the caller knows it; carried through unchanged. */
  readonly index?: number;
}

/** What `push` did with a packet. */
export type JitterPushResult =
  /** Held until its turn (which may be at once). */
  | 'buffered'
  /** The same sequence number is held, or was released recently: dropped. */
  | 'duplicate'
  /** Its place was already passed (released or given up): dropped. */
  | 'late'
  /** Far ahead of the stream: what was held was flushed and the stream starts again here. */
  | 'restarted';

export interface ReleasedFrame extends JitterPacket {
  /** The sequence number extended past wraps (first packet's number + packets since). */
  readonly extendedSequence: number;
  /** Frames given up as lost right before this one (0 if none): a decoder can conceal them. */
  readonly lostBefore: number;
}

export interface JitterStats {
  /** Distinct packets accepted (not duplicates, not late). */
  readonly received: number;
  /** Frames handed out by `release`. */
  readonly released: number;
  /** Sequence numbers given up as lost (a packet that turns up later also counts as late). */
  readonly lost: number;
  /** Packets that arrived after their place was passed, and were dropped. */
  readonly late: number;
  readonly duplicates: number;
  /** Times the stream was taken as restarted (a jump beyond `maxDropout`). */
  readonly restarts: number;
  /** Packets held now. */
  readonly buffered: number;
  /** Interarrival jitter (RFC 3550 A.8), in milliseconds. */
  readonly jitterMs: number;
  /** The same, in RTP timestamp units, as RTCP receiver reports carry it. */
  readonly jitterTimestampUnits: number;
}

interface Held {
  readonly packet: JitterPacket;
  readonly arrivalMs: number;
}

/** How many recently passed numbers are remembered, to tell a duplicate from a late packet. */
const PASSED_MEMORY = 128;
const PASSED_RELEASED = 1;
const PASSED_LOST = 2;

export class JitterBuffer {
  readonly #maxWaitMs: number;
  readonly #capacity: number;
  readonly #clockRate: number;
  readonly #maxDropout: number;
  /** Packets waiting, by extended sequence number. */
  readonly #held = new Map<number, Held>();
  /** Extended number of the next frame to release; null before the first packet. */
  #next: number | null = null;
  /** Highest extended number seen: the reference that 16-bit numbers are extended against. */
  #highest = 0;
  /** Frames given up since the last release, reported with the next frame. */
  #pendingLost = 0;
  /** For passed numbers: which ext number a slot holds, and whether it was released or lost. */
  readonly #passedNumber = new Float64Array(PASSED_MEMORY).fill(-1);
  readonly #passedState = new Uint8Array(PASSED_MEMORY);
  /** RFC 3550 §6.4.1 over RTP timestamps and arrivals in timestamp units. */
  readonly #jitter = new InterarrivalJitter({ sendTimeModulus: RTP_TIMESTAMP_MODULUS });
  #received = 0;
  #released = 0;
  #lost = 0;
  #late = 0;
  #duplicates = 0;
  #restarts = 0;

  constructor(options: JitterBufferOptions = {}) {
    this.#maxWaitMs = positiveNumber(options.maxWaitMs ?? 60, 'maxWaitMs', true);
    this.#capacity = positiveInteger(options.capacity ?? 50, 'capacity');
    this.#clockRate = positiveInteger(options.clockRate ?? 48_000, 'clockRate');
    this.#maxDropout = positiveInteger(options.maxDropout ?? 3000, 'maxDropout');
    if (this.#maxDropout >= 0x8000) throw new RangeError('jitter buffer: maxDropout must be below 32768');
  }

  /** Takes one packet that arrived at `arrivalMs`. Call `release` afterwards. */
  push(packet: JitterPacket, arrivalMs: number): JitterPushResult {
    checkPacket(packet);
    if (!Number.isFinite(arrivalMs)) throw new RangeError('jitter buffer: arrivalMs must be a finite number');
    if (this.#next === null) {
      this.#next = packet.sequenceNumber;
      this.#highest = packet.sequenceNumber;
      this.#accept(packet, packet.sequenceNumber, arrivalMs);
      return 'buffered';
    }
    const extended = this.#extend(packet.sequenceNumber);
    if (extended - this.#highest > this.#maxDropout) {
      this.#restart(extended);
      this.#accept(packet, extended, arrivalMs);
      return 'restarted';
    }
    if (extended < this.#next) {
      const slot = passedSlot(extended);
      if (this.#passedNumber[slot] === extended && this.#passedState[slot] === PASSED_RELEASED) {
        this.#duplicates++;
        return 'duplicate';
      }
      this.#late++;
      return 'late';
    }
    if (this.#held.has(extended)) {
      this.#duplicates++;
      return 'duplicate';
    }
    this.#accept(packet, extended, arrivalMs);
    return 'buffered';
  }

  /**
   * Frames ready at `nowMs`, in sequence order: every frame whose predecessors are all out,
   * after giving up gaps that waited `maxWaitMs` (or that a full buffer cannot wait for).
   */
  release(nowMs: number): ReleasedFrame[] {
    const out: ReleasedFrame[] = [];
    if (this.#next === null) return out;
    for (;;) {
      const head = this.#held.get(this.#next);
      if (head !== undefined) {
        this.#held.delete(this.#next);
        out.push({ ...head.packet, extendedSequence: this.#next, lostBefore: this.#pendingLost });
        this.#markPassed(this.#next, PASSED_RELEASED);
        this.#pendingLost = 0;
        this.#released++;
        this.#next++;
        continue;
      }
      if (this.#held.size === 0) break;
      const waitingSince = this.#earliestArrival();
      if (this.#held.size <= this.#capacity && waitingSince + this.#maxWaitMs > nowMs) break;
      // Give the gap up: every number up to the oldest held packet is lost.
      const resume = this.#lowestHeld();
      for (let n = this.#next; n < resume; n++) this.#markPassed(n, PASSED_LOST);
      this.#lost += resume - this.#next;
      this.#pendingLost += resume - this.#next;
      this.#next = resume;
    }
    return out;
  }

  /**
   * When `release` may next have something (a gap's wait ends), or null while nothing is held.
   * While the next frame is held (or the buffer is over capacity) it is -Infinity: release now.
   */
  nextDeadline(): number | null {
    if (this.#next === null || this.#held.size === 0) return null;
    if (this.#held.has(this.#next) || this.#held.size > this.#capacity) return -Infinity;
    return this.#earliestArrival() + this.#maxWaitMs;
  }

  /** Releases everything held, in order, giving up every gap (the stream ends or restarts). */
  flush(): ReleasedFrame[] {
    return this.release(Infinity);
  }

  stats(): JitterStats {
    return {
      received: this.#received,
      released: this.#released,
      lost: this.#lost,
      late: this.#late,
      duplicates: this.#duplicates,
      restarts: this.#restarts,
      buffered: this.#held.size,
      jitterMs: (this.#jitter.value / this.#clockRate) * 1000,
      jitterTimestampUnits: Math.floor(this.#jitter.value),
    };
  }

  #accept(packet: JitterPacket, extended: number, arrivalMs: number): void {
    this.#held.set(extended, { packet, arrivalMs });
    if (extended > this.#highest) this.#highest = extended;
    this.#received++;
    // Arrival order, the receiver's clock in timestamp units (RFC 3550 §6.4.1).
    this.#jitter.add(packet.timestamp, (arrivalMs * this.#clockRate) / 1000);
  }

  #restart(extended: number): void {
    // What is held belongs to the old numbering. It goes out first, in its order and with no
    // loss counted across the jump (the stream jumped; nothing between was sent): renumbered to
    // sit right before the restart point.
    this.#restarts++;
    const held = [...this.#held.entries()].sort((a, b) => a[0] - b[0]);
    this.#held.clear();
    let n = extended - held.length;
    this.#next = n;
    for (const [, h] of held) this.#held.set(n++, h);
    this.#highest = extended;
    this.#jitter.restart();
  }

  #extend(sequenceNumber: number): number {
    const delta = ((sequenceNumber - (this.#highest & 0xffff) + 0x8000) & 0xffff) - 0x8000;
    return this.#highest + delta;
  }

  #markPassed(extended: number, state: number): void {
    const slot = passedSlot(extended);
    this.#passedNumber[slot] = extended;
    this.#passedState[slot] = state;
  }

  #earliestArrival(): number {
    let earliest = Infinity;
    for (const held of this.#held.values()) if (held.arrivalMs < earliest) earliest = held.arrivalMs;
    return earliest;
  }

  #lowestHeld(): number {
    let lowest = Infinity;
    for (const n of this.#held.keys()) if (n < lowest) lowest = n;
    return lowest;
  }
}

function passedSlot(extended: number): number {
  return ((extended % PASSED_MEMORY) + PASSED_MEMORY) % PASSED_MEMORY;
}

function checkPacket(packet: JitterPacket): void {
  if (typeof packet !== 'object' || packet === null) throw new TypeError('jitter buffer: packet must be an object');
  const { sequenceNumber, timestamp, payload } = packet;
  if (!Number.isInteger(sequenceNumber) || sequenceNumber < 0 || sequenceNumber > 0xffff) {
    throw new RangeError('jitter buffer: sequenceNumber must be an integer in 0..65535');
  }
  if (!Number.isInteger(timestamp) || timestamp < 0 || timestamp > 0xffffffff) {
    throw new RangeError('jitter buffer: timestamp must be an integer in 0..2^32-1');
  }
  if (!(payload instanceof Uint8Array)) throw new TypeError('jitter buffer: payload must be a Uint8Array');
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`jitter buffer: ${name} must be a positive integer`);
  return value;
}

function positiveNumber(value: number, name: string, zeroAllowed: boolean): number {
  if (!Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) {
    throw new RangeError(`jitter buffer: ${name} must be a ${zeroAllowed ? 'non-negative' : 'positive'} number`);
  }
  return value;
}
