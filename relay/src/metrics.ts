/**
 * Prometheus metrics for the relay, and the relay's `PacketCounters`.
 *
 * The packet path calls `received`, `sent` and `dropped` for every datagram, so they only add to
 * plain numbers; the prom-client counters copy those numbers when Prometheus scrapes (their
 * `collect`). No label object is built, hashed or validated per packet. Every drop reason's
 * series exists from startup at 0, so `rate()` and alerts work before the first drop, and no
 * input can create a new series. `observeProcessing` goes straight to the histogram: the router
 * calls it for one datagram in `timingSampleEvery`.
 *
 * Session, channel and draining gauges are read from the registry when Prometheus scrapes,
 * through `state`, instead of being updated on every change.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DROP_REASONS, type DropReason, type PacketCounters } from './packet-counters.js';

const PREFIX = 'parley_relay_';

/** 5 µs … 10 ms: a datagram is one decrypt plus one encrypt per listener. */
export const PROCESSING_SECONDS_BUCKETS = [
  0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
] as const;

export interface RelayStateSnapshot {
  readonly sessions: number;
  readonly channels: number;
  readonly draining: boolean;
  /** Datagrams the kernel refused or had no send-buffer room for (UdpTransport.sendErrors). */
  readonly sendErrors?: number;
}

export interface RelayMetricsOptions {
  /** Defaults to a fresh Registry (not prom-client's global one). */
  readonly registry?: Registry;
  /** Read at each scrape; e.g. `() => ({ sessions: reg.size, channels: reg.channelCount, draining: reg.draining })`. */
  readonly state?: () => RelayStateSnapshot;
  /** Node process metrics (CPU, memory, event loop lag, GC), prefixed parley_relay_. Default true. */
  readonly defaultMetrics?: boolean;
}

export interface RelayMetrics extends PacketCounters {
  readonly registry: Registry;
  /** Content-Type for the /metrics response. */
  readonly contentType: string;
  /** The exposition text for GET /metrics. */
  text(): Promise<string>;
}

export function createRelayMetrics(options: RelayMetricsOptions = {}): RelayMetrics {
  const registry = options.registry ?? new Registry();
  const state: () => RelayStateSnapshot = options.state ?? (() => ({ sessions: 0, channels: 0, draining: false }));
  const registers = [registry];

  // Hot-path totals. Doubles count exactly to 2^53: centuries of traffic for one process.
  const totals = { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 };
  const drops = Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<DropReason, number>;

  /** A counter whose value is copied from `read()` at each scrape. */
  function publishedCounter(name: string, help: string, read: () => number): void {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }
  publishedCounter(`${PREFIX}packets_in_total`, 'Datagrams received on the UDP socket.', () => totals.packetsIn);
  publishedCounter(`${PREFIX}packets_out_total`, 'Datagrams sent (forwarded voice and keepalive replies).', () => totals.packetsOut);
  publishedCounter(`${PREFIX}bytes_in_total`, 'Bytes received on the UDP socket (UDP payload).', () => totals.bytesIn);
  publishedCounter(`${PREFIX}bytes_out_total`, 'Bytes sent on the UDP socket (UDP payload).', () => totals.bytesOut);
  publishedCounter(
    `${PREFIX}send_errors_total`,
    'Datagrams the kernel refused or had no send-buffer room for (counted in packets_out_total too).',
    () => state().sendErrors ?? 0,
  );
  new Counter({
    name: `${PREFIX}packets_dropped_total`,
    help: 'Datagrams dropped, by reason (see relay/src/packet-counters.ts).',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.reset();
      for (const reason of DROP_REASONS) this.inc({ reason }, drops[reason]);
    },
  });
  const processing = new Histogram({
    name: `${PREFIX}packet_processing_seconds`,
    help: 'Time from a datagram arriving to its last send, sampled (one datagram in RouterOptions.timingSampleEvery).',
    buckets: [...PROCESSING_SECONDS_BUCKETS],
    registers,
  });

  new Gauge({
    name: `${PREFIX}sessions`,
    help: 'Voice sessions installed on this relay.',
    registers,
    collect() {
      this.set(state().sessions);
    },
  });
  new Gauge({
    name: `${PREFIX}channels`,
    help: 'Channels with at least one session on this relay.',
    registers,
    collect() {
      this.set(state().channels);
    },
  });
  new Gauge({
    name: `${PREFIX}draining`,
    help: '1 while the relay refuses new sessions before shutting down, else 0.',
    registers,
    collect() {
      this.set(state().draining ? 1 : 0);
    },
  });

  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: PREFIX });

  return {
    registry,
    get contentType() {
      return registry.contentType;
    },
    received(bytes) {
      totals.packetsIn++;
      totals.bytesIn += bytes;
    },
    sent(bytes) {
      totals.packetsOut++;
      totals.bytesOut += bytes;
    },
    dropped(reason) {
      drops[reason]++;
    },
    observeProcessing(seconds) {
      processing.observe(seconds);
    },
    text() {
      return registry.metrics();
    },
  };
}
