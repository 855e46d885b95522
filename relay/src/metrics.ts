/**
 * Prometheus metrics for the relay, served by the main thread.
 *
 * The packet path runs in the relay workers, which only add to plain numbers (PacketStats,
 * packet-stats.ts): no label object is built, hashed or validated per packet, and no message is
 * posted per packet. When Prometheus scrapes, `text()` asks for one `RelaySnapshot` — the
 * workers' counters summed, and the session state — and every series is read from it. Every drop
 * reason's series exists from startup at 0, so `rate()` and alerts work before the first drop,
 * and no input can create a new series.
 *
 * The processing-time histogram arrives as bucket counts, so it is exported by a small
 * collector of our own (`processingHistogram`) rather than prom-client's Histogram, which can
 * only be fed one observation at a time.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { DROP_REASONS } from './media/packet-counters.js';
import { emptyPacketStats, PROCESSING_SECONDS_BUCKETS, type PacketStatsSnapshot } from './media/packet-stats.js';

export { PROCESSING_SECONDS_BUCKETS } from './media/packet-stats.js';

const PREFIX = 'parley_relay_';

/** Everything a scrape reports, gathered once per scrape. */
export interface RelaySnapshot {
  readonly sessions: number;
  readonly channels: number;
  readonly draining: boolean;
  /** Relay workers configured, and those running (fewer after a crash). */
  readonly workers: number;
  readonly workersUp: number;
  /** Every worker's packet counters, summed. */
  readonly packets: PacketStatsSnapshot;
}

export interface RelayMetricsOptions {
  /** Defaults to a fresh Registry (not prom-client's global one). */
  readonly registry?: Registry;
  /** Called once per scrape. */
  readonly snapshot?: () => RelaySnapshot | Promise<RelaySnapshot>;
  /** Node process metrics (CPU, memory, event loop lag, GC), prefixed parley_relay_. Default true. */
  readonly defaultMetrics?: boolean;
}

export interface RelayMetrics {
  readonly registry: Registry;
  /** Content-Type for the /metrics response. */
  readonly contentType: string;
  /** The exposition text for GET /metrics. */
  text(): Promise<string>;
}

export function idleRelaySnapshot(): RelaySnapshot {
  return { sessions: 0, channels: 0, draining: false, workers: 0, workersUp: 0, packets: emptyPacketStats() };
}

export function createRelayMetrics(options: RelayMetricsOptions = {}): RelayMetrics {
  const registry = options.registry ?? new Registry();
  const takeSnapshot = options.snapshot ?? idleRelaySnapshot;
  const registers = [registry];
  /** The snapshot of the scrape in progress (prom-client's collect() callbacks are per metric). */
  let latest = idleRelaySnapshot();

  /** A counter whose value is copied from the snapshot at each scrape. */
  function publishedCounter(name: string, help: string, read: (s: RelaySnapshot) => number): void {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read(latest));
      },
    });
  }
  function publishedGauge(name: string, help: string, read: (s: RelaySnapshot) => number): void {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(latest));
      },
    });
  }

  publishedCounter(`${PREFIX}packets_in_total`, 'Datagrams received on the UDP sockets.', (s) => s.packets.packetsIn);
  publishedCounter(`${PREFIX}packets_out_total`, 'Datagrams sent (forwarded voice and keepalive replies).', (s) => s.packets.packetsOut);
  publishedCounter(`${PREFIX}bytes_in_total`, 'Bytes received on the UDP sockets (UDP payload).', (s) => s.packets.bytesIn);
  publishedCounter(`${PREFIX}bytes_out_total`, 'Bytes sent on the UDP sockets (UDP payload).', (s) => s.packets.bytesOut);
  publishedCounter(
    `${PREFIX}send_errors_total`,
    'Datagrams the kernel refused or had no send-buffer room for (counted in packets_out_total too).',
    (s) => s.packets.sendErrors,
  );
  new Counter({
    name: `${PREFIX}packets_dropped_total`,
    help: 'Datagrams dropped, by reason (see relay/src/media/packet-counters.ts).',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.reset();
      for (const reason of DROP_REASONS) this.inc({ reason }, latest.packets.dropped[reason]);
    },
  });
  registry.registerMetric(
    processingHistogram(
      `${PREFIX}packet_processing_seconds`,
      'Time from a datagram arriving to its last send, sampled (one datagram in RouterOptions.timingSampleEvery).',
      () => latest.packets,
    ) as never,
  );

  publishedGauge(`${PREFIX}sessions`, 'Voice sessions installed on this relay.', (s) => s.sessions);
  publishedGauge(`${PREFIX}channels`, 'Channels with at least one session on this relay.', (s) => s.channels);
  publishedGauge(`${PREFIX}draining`, '1 while the relay refuses new sessions before shutting down, else 0.', (s) => (s.draining ? 1 : 0));
  publishedGauge(`${PREFIX}workers`, 'Relay workers configured (one UDP port each).', (s) => s.workers);
  publishedGauge(`${PREFIX}workers_up`, 'Relay workers running; below parley_relay_workers after a worker died.', (s) => s.workersUp);

  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: PREFIX });

  return {
    registry,
    get contentType() {
      return registry.contentType;
    },
    async text() {
      latest = await takeSnapshot();
      return registry.metrics();
    },
  };
}

/**
 * A histogram in prom-client's collector shape (what Registry.metrics() reads from `get()`),
 * built from bucket counts: cumulative `_bucket{le}` lines up to +Inf, then `_sum` and `_count`.
 */
interface SampleLine {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

function processingHistogram(name: string, help: string, read: () => PacketStatsSnapshot) {
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: SampleLine[] }> {
      const stats = read();
      const values: SampleLine[] = [];
      let cumulative = 0;
      PROCESSING_SECONDS_BUCKETS.forEach((le, i) => {
        cumulative += stats.processingBuckets[i] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { le }, value: cumulative });
      });
      cumulative += stats.processingBuckets[PROCESSING_SECONDS_BUCKETS.length] ?? 0;
      values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: cumulative });
      values.push({ metricName: `${name}_sum`, labels: {}, value: stats.processingSum });
      values.push({ metricName: `${name}_count`, labels: {}, value: stats.processingCount });
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
}
