/**
 * What the packet path reports. The relay's Prometheus metrics implement it (metrics.ts);
 * tests can count with `createTallyCounters`. Labels are fixed and few, so a flood of junk can
 * never create new time series.
 */
export const DROP_REASONS = [
  /** Not RTP/RTCP, or fields running past the end (SrtpError malformed / bad-version). */
  'malformed',
  /** Larger than the relay's maximum datagram size. */
  'oversize',
  /** No session holds this SSRC. */
  'unknown-ssrc',
  /** Authentication tag did not verify, or SRTCP without encryption. */
  'auth',
  /** Replayed, or older than the replay window. */
  'replay',
  /** Over the session's packet or byte rate, or too many tries from an unlatched address. */
  'rate-limit',
  /** Authentic, but the speaker is muted or may not speak. */
  'muted',
  /** The key reached its usage limit (RFC 3711 §9.2). */
  'key-exhausted',
  /** An outbound context refused to protect (it would have reused an index). */
  'protect-refused',
  /**
   * A late voice packet behind one the relay withheld from its listeners (sequence-rewriter.ts):
   * no sequence number is left for it.
   */
  'reordered',
  /** A keepalive answer not sent: the address has not proved it receives, and has used its 3× byte credit. */
  'amplification',
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export interface PacketCounters {
  /** A datagram arrived. */
  received(bytes: number): void;
  /** A datagram was sent (forwarded voice or a keepalive reply). */
  sent(bytes: number): void;
  dropped(reason: DropReason): void;
  /** Time spent on one datagram, from arrival to the last send, in seconds. */
  observeProcessing(seconds: number): void;
}

export interface TallyCounters extends PacketCounters {
  readonly tally: {
    received: number;
    sent: number;
    receivedBytes: number;
    sentBytes: number;
    dropped: Record<DropReason, number>;
    processingSamples: number;
  };
}

/** Plain in-memory counters (tests, benchmarks). */
export function createTallyCounters(): TallyCounters {
  const tally = {
    received: 0,
    sent: 0,
    receivedBytes: 0,
    sentBytes: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    processingSamples: 0,
  };
  return {
    tally,
    received(bytes) {
      tally.received++;
      tally.receivedBytes += bytes;
    },
    sent(bytes) {
      tally.sent++;
      tally.sentBytes += bytes;
    },
    dropped(reason) {
      tally.dropped[reason]++;
    },
    observeProcessing() {
      tally.processingSamples++;
    },
  };
}
