/**
 * Reads a relay's Prometheus endpoint (relay/src/metrics.ts) into numbers: the packet counters,
 * every drop reason, sessions, and the main thread's heap (prom-client's default metrics, which
 * the relay prefixes parley_relay_), and its own per-datagram processing-time histogram. For
 * tests, soak runs and bench:relay's load generator that check that counters add up; between
 * measurement windows, never per packet.
 */
import { DROP_REASONS, type DropReason } from '../../relay/src/media/packet-counters.js';

export interface RelayMetricsReading {
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly sendErrors: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
  readonly sessions: number;
  readonly channels: number;
  /** V8 heap in use on the relay's main thread, bytes (the workers' heaps are in its RSS). */
  readonly heapUsedBytes: number;
  /**
   * parley_relay_packet_processing_seconds as Prometheus exports it: cumulative
   * [upper bound in seconds, count] per bucket, the last one +Inf (Infinity).
   */
  readonly processing: ReadonlyArray<readonly [number, number]>;
}

export async function readRelayMetrics(metricsPort: number, host = '127.0.0.1'): Promise<RelayMetricsReading> {
  return fetchRelayMetrics(`http://${host}:${metricsPort}/metrics`);
}

/** GETs a relay's metrics URL and parses it; throws on an HTTP error or a missing series. */
export async function fetchRelayMetrics(metricsUrl: string, timeoutMs = 5000): Promise<RelayMetricsReading> {
  const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`relay metrics: HTTP ${response.status}`);
  return parseRelayMetrics(await response.text());
}

/** Reads the Prometheus text exposition of relay/src/metrics.ts; throws on a missing series. */
export function parseRelayMetrics(text: string): RelayMetricsReading {
  const value = (name: string): number => {
    const match = new RegExp(`^parley_relay_${name}(?:\\{\\})? ([0-9.e+-]+)$`, 'm').exec(text);
    if (match === null) throw new Error(`relay metrics: no parley_relay_${name}`);
    return Number(match[1]);
  };
  const dropped = Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<DropReason, number>;
  for (const match of text.matchAll(/^parley_relay_packets_dropped_total\{reason="([a-z-]+)"\} ([0-9.e+-]+)$/gm)) {
    if ((DROP_REASONS as readonly string[]).includes(match[1]!)) dropped[match[1] as DropReason] = Number(match[2]);
  }
  const processing: Array<[number, number]> = [];
  for (const match of text.matchAll(/^parley_relay_packet_processing_seconds_bucket\{le="([^"]+)"\} ([0-9.e+-]+)$/gm)) {
    processing.push([match[1] === '+Inf' ? Infinity : Number(match[1]), Number(match[2])]);
  }
  if (processing.length === 0) throw new Error('relay metrics: no parley_relay_packet_processing_seconds_bucket');
  return {
    packetsIn: value('packets_in_total'),
    packetsOut: value('packets_out_total'),
    sendErrors: value('send_errors_total'),
    dropped,
    sessions: value('sessions'),
    channels: value('channels'),
    heapUsedBytes: value('nodejs_heap_size_used_bytes'),
    processing,
  };
}

/** Counter growth between two readings, the histogram's buckets too (gauges taken from `after`). */
export function relayMetricsDelta(before: RelayMetricsReading, after: RelayMetricsReading): RelayMetricsReading {
  const dropped = Object.fromEntries(DROP_REASONS.map((reason) => [reason, after.dropped[reason] - before.dropped[reason]])) as Record<DropReason, number>;
  return {
    ...after,
    packetsIn: after.packetsIn - before.packetsIn,
    packetsOut: after.packetsOut - before.packetsOut,
    sendErrors: after.sendErrors - before.sendErrors,
    dropped,
    processing: after.processing.map(([le, count], i) => [le, count - (before.processing[i]?.[1] ?? 0)] as const),
  };
}
