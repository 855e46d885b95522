/**
 * A relay worker's packet counters: plain numbers the packet path adds to, and a snapshot of
 * them that crosses to the main thread when Prometheus scrapes (relay/src/metrics.ts sums the
 * workers' snapshots). Nothing here posts a message or allocates per packet.
 *
 * The processing-time histogram is kept the way Prometheus exports it: a count per bucket (not
 * cumulative here), a sum and a count; `PROCESSING_SECONDS_BUCKETS` are its upper bounds.
 */
import { DROP_REASONS, type DropReason, type PacketCounters } from './packet-counters.js';

/** 5 µs … 10 ms: a datagram is one decrypt plus one encrypt per listener. */
export const PROCESSING_SECONDS_BUCKETS = [
  0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
] as const;

export interface PacketStatsSnapshot {
  readonly packetsIn: number;
  readonly bytesIn: number;
  readonly packetsOut: number;
  readonly bytesOut: number;
  /** Datagrams the kernel refused or had no send-buffer room for (UdpTransport.sendErrors). */
  readonly sendErrors: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
  /** Observations per bucket of PROCESSING_SECONDS_BUCKETS, then one for +Inf; not cumulative. */
  readonly processingBuckets: readonly number[];
  readonly processingSum: number;
  readonly processingCount: number;
}

export function emptyPacketStats(): PacketStatsSnapshot {
  return {
    packetsIn: 0,
    bytesIn: 0,
    packetsOut: 0,
    bytesOut: 0,
    sendErrors: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<DropReason, number>,
    processingBuckets: new Array<number>(PROCESSING_SECONDS_BUCKETS.length + 1).fill(0),
    processingSum: 0,
    processingCount: 0,
  };
}

/** The sum of several workers' snapshots. */
export function sumPacketStats(snapshots: readonly PacketStatsSnapshot[]): PacketStatsSnapshot {
  const total = emptyPacketStats();
  const dropped = { ...total.dropped };
  const buckets = [...total.processingBuckets];
  let { packetsIn, bytesIn, packetsOut, bytesOut, sendErrors, processingSum, processingCount } = total;
  for (const s of snapshots) {
    packetsIn += s.packetsIn;
    bytesIn += s.bytesIn;
    packetsOut += s.packetsOut;
    bytesOut += s.bytesOut;
    sendErrors += s.sendErrors;
    processingSum += s.processingSum;
    processingCount += s.processingCount;
    for (const reason of DROP_REASONS) dropped[reason] += s.dropped[reason];
    for (let i = 0; i < buckets.length; i++) buckets[i]! += s.processingBuckets[i] ?? 0;
  }
  return { packetsIn, bytesIn, packetsOut, bytesOut, sendErrors, dropped, processingBuckets: buckets, processingSum, processingCount };
}

/** The counters one worker's DatagramRouter reports to. */
export class PacketStats implements PacketCounters {
  // Doubles count exactly to 2^53: centuries of traffic for one worker.
  #packetsIn = 0;
  #bytesIn = 0;
  #packetsOut = 0;
  #bytesOut = 0;
  readonly #dropped = emptyPacketStats().dropped as Record<DropReason, number>;
  readonly #buckets = new Float64Array(PROCESSING_SECONDS_BUCKETS.length + 1);
  #processingSum = 0;
  #processingCount = 0;

  received(bytes: number): void {
    this.#packetsIn++;
    this.#bytesIn += bytes;
  }

  sent(bytes: number): void {
    this.#packetsOut++;
    this.#bytesOut += bytes;
  }

  dropped(reason: DropReason): void {
    this.#dropped[reason]++;
  }

  observeProcessing(seconds: number): void {
    let bucket = 0;
    while (bucket < PROCESSING_SECONDS_BUCKETS.length && seconds > PROCESSING_SECONDS_BUCKETS[bucket]!) bucket++;
    this.#buckets[bucket]!++;
    this.#processingSum += seconds;
    this.#processingCount++;
  }

  /** A copy of every counter; `sendErrors` comes from the transport, which counts them itself. */
  snapshot(sendErrors: number): PacketStatsSnapshot {
    return {
      packetsIn: this.#packetsIn,
      bytesIn: this.#bytesIn,
      packetsOut: this.#packetsOut,
      bytesOut: this.#bytesOut,
      sendErrors,
      dropped: { ...this.#dropped },
      processingBuckets: Array.from(this.#buckets),
      processingSum: this.#processingSum,
      processingCount: this.#processingCount,
    };
  }
}
