/**
 * When a client pings its relay, and when it decides the relay is unreachable. Pure: the caller
 * passes times (ms on a monotonic clock) and sets its one timer to `nextPingAt()`.
 *
 * - At once when the session starts or moves (docs/protocol.md §6.3: no voice until the
 *   address is proved), then every `intervalMs` (5 s: §6.3 asks for 5 s, at least every 15 s);
 *   every `activeIntervalMs` (1 s) while the client sends voice (`voiceSent`), so a relay that
 *   dies mid-call is noticed within about 3 s, not 8 (§5.9: one ping a second next to 50 voice
 *   packets costs 2 %).
 * - Challenges are answered at once by the media session itself (it knows which cookie is new).
 * - When a pong is overdue (`pongTimeoutMs` after a ping with no pong since), the client probes:
 *   a ping every `probeIntervalMs` (500 ms, §5.9). After `unreachableAfterMs` (2 s) of probing
 *   without a pong it reports the relay unreachable, once per outage (§5.9: the room probes the
 *   relay and moves the channel if it is down), and goes on probing more slowly.
 * - Any pong or challenge ends the outage.
 */

export interface KeepaliveScheduleOptions {
  readonly intervalMs?: number;
  /** The interval while voice was sent within the last `intervalMs`. */
  readonly activeIntervalMs?: number;
  readonly probeIntervalMs?: number;
  readonly pongTimeoutMs?: number;
  readonly unreachableAfterMs?: number;
  /** Probing interval after the report, so a dead relay is not pinged twice a second forever. */
  readonly reportedProbeIntervalMs?: number;
}

export const KEEPALIVE_DEFAULTS = {
  intervalMs: 5000,
  activeIntervalMs: 1000,
  probeIntervalMs: 500,
  pongTimeoutMs: 1000,
  unreachableAfterMs: 2000,
  reportedProbeIntervalMs: 2000,
} as const;

export class KeepaliveSchedule {
  readonly #options: Required<KeepaliveScheduleOptions>;
  /** When the last ping went out (null: none yet since the start). */
  #lastPingAt: number | null = null;
  /** When the oldest ping without a pong since went out (null: none outstanding). */
  #unansweredSince: number | null = null;
  /** When probing started (a pong was overdue). */
  #probingSince: number | null = null;
  #reported = false;
  /** When voice was last sent (null: never since the start). */
  #voiceAt: number | null = null;

  constructor(options: KeepaliveScheduleOptions = {}) {
    const merged = { ...KEEPALIVE_DEFAULTS, ...options };
    for (const [name, value] of Object.entries(merged)) {
      if (!Number.isFinite(value) || value <= 0) throw new RangeError(`keepalive schedule: ${name} must be a positive number`);
    }
    this.#options = merged;
  }

  /** Starts over: the next ping is due at once (a new session, a move to another relay). */
  restart(): void {
    this.#lastPingAt = null;
    this.#unansweredSince = null;
    this.#probingSince = null;
    this.#reported = false;
  }

  /**
   * Records voice sent at `now`. True when the client was silent until now: the next ping may be
   * due sooner than the caller's timer (re-arm it).
   */
  voiceSent(now: number): boolean {
    const wasActive = this.#active(now);
    this.#voiceAt = now;
    return !wasActive;
  }

  #active(now: number): boolean {
    return this.#voiceAt !== null && now - this.#voiceAt < this.#options.intervalMs;
  }

  /** Records a ping sent at `now` (scheduled or not). */
  pingSent(now: number): void {
    this.#lastPingAt = now;
    this.#unansweredSince ??= now;
  }

  /** Records a pong or challenge at `now`: the relay is there. */
  pongReceived(_now: number): void {
    this.#unansweredSince = null;
    this.#probingSince = null;
    this.#reported = false;
  }

  /** Whether the client is probing (a pong is overdue). */
  probing(now: number): boolean {
    this.#advance(now);
    return this.#probingSince !== null;
  }

  /** When the next ping is due (may be ≤ now: send it). */
  nextPingAt(now: number): number {
    this.#advance(now);
    if (this.#lastPingAt === null) return now;
    if (this.#probingSince === null) {
      // Not probing yet: the regular ping, or the moment the outstanding pong becomes overdue.
      const regular = this.#lastPingAt + (this.#active(now) ? Math.min(this.#options.activeIntervalMs, this.#options.intervalMs) : this.#options.intervalMs);
      return this.#unansweredSince === null ? regular : Math.min(regular, this.#unansweredSince + this.#options.pongTimeoutMs);
    }
    const interval = this.#reported ? this.#options.reportedProbeIntervalMs : this.#options.probeIntervalMs;
    return Math.max(this.#lastPingAt + interval, this.#probingSince);
  }

  /**
   * True exactly once per outage, when `unreachableAfterMs` of probing brought no pong: the
   * caller reports it (to the room).
   */
  takeUnreachableReport(now: number): boolean {
    this.#advance(now);
    if (this.#reported || this.#probingSince === null) return false;
    if (now - this.#probingSince < this.#options.unreachableAfterMs) return false;
    this.#reported = true;
    return true;
  }

  /** When takeUnreachableReport may next say true (null: not while no pong is overdue or once reported). */
  nextReportAt(now: number): number | null {
    this.#advance(now);
    if (this.#reported || this.#unansweredSince === null) return null;
    return (this.#probingSince ?? this.#unansweredSince + this.#options.pongTimeoutMs) + this.#options.unreachableAfterMs;
  }

  #advance(now: number): void {
    if (this.#probingSince === null && this.#unansweredSince !== null && now - this.#unansweredSince >= this.#options.pongTimeoutMs) {
      this.#probingSince = this.#unansweredSince + this.#options.pongTimeoutMs;
    }
  }
}
