import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { nodeCryptoBackend } from '../../../shared/srtp/backends/node-crypto.js';
import { loadRelayConfig } from '../../../relay/src/config.js';
import { DatagramRouter } from '../../../relay/src/media/datagram-router.js';
import { createRelayMetrics, idleRelaySnapshot, type RelaySnapshot } from '../../../relay/src/metrics.js';
import { DROP_REASONS } from '../../../relay/src/media/packet-counters.js';
import { PacketStats, sumPacketStats } from '../../../relay/src/media/packet-stats.js';
import { SessionRegistry } from '../../../relay/src/media/session-registry.js';

/** The value of one sample line, e.g. `parley_relay_packets_in_total 3`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Metrics over the given workers' counters, as the main thread builds them. */
function metricsOver(workers: readonly PacketStats[], state: Partial<RelaySnapshot> = {}) {
  return createRelayMetrics({
    defaultMetrics: false,
    snapshot: () => ({ ...idleRelaySnapshot(), workers: workers.length, workersUp: workers.length, ...state, packets: sumPacketStats(workers.map((w) => w.snapshot(0))) }),
  });
}

describe('createRelayMetrics', () => {
  it('exposes every series from the start, each drop reason at 0', async () => {
    const text = await createRelayMetrics({ defaultMetrics: false }).text();
    for (const name of ['packets_in_total', 'packets_out_total', 'bytes_in_total', 'bytes_out_total', 'sessions', 'channels', 'draining']) {
      expect(sample(text, `parley_relay_${name}`)).toBe(0);
    }
    for (const reason of DROP_REASONS) {
      expect(sample(text, `parley_relay_packets_dropped_total{reason="${reason}"}`)).toBe(0);
    }
    expect(sample(text, 'parley_relay_packet_processing_seconds_count')).toBe(0);
    expect(text).toContain('parley_relay_packet_processing_seconds_bucket{le="0.000005"} 0');
    expect(text).toContain('parley_relay_packet_processing_seconds_bucket{le="0.01"} 0');
    expect(text).toContain('parley_relay_packet_processing_seconds_bucket{le="+Inf"} 0');
    expect(text).toContain('# TYPE parley_relay_packet_processing_seconds histogram');
  });

  it('counts packets, bytes, drops and processing time', async () => {
    const stats = new PacketStats();
    const metrics = metricsOver([stats]);
    stats.received(100);
    stats.received(60);
    stats.sent(90);
    stats.dropped('replay');
    stats.dropped('replay');
    stats.dropped('oversize');
    stats.observeProcessing(0.00002);
    const text = await metrics.text();
    expect(sample(text, 'parley_relay_packets_in_total')).toBe(2);
    expect(sample(text, 'parley_relay_bytes_in_total')).toBe(160);
    expect(sample(text, 'parley_relay_packets_out_total')).toBe(1);
    expect(sample(text, 'parley_relay_bytes_out_total')).toBe(90);
    expect(sample(text, 'parley_relay_packets_dropped_total{reason="replay"}')).toBe(2);
    expect(sample(text, 'parley_relay_packets_dropped_total{reason="oversize"}')).toBe(1);
    expect(sample(text, 'parley_relay_packets_dropped_total{reason="auth"}')).toBe(0);
    expect(sample(text, 'parley_relay_packet_processing_seconds_count')).toBe(1);
    expect(sample(text, 'parley_relay_packet_processing_seconds_sum')).toBeCloseTo(0.00002, 9);
    expect(sample(text, 'parley_relay_packet_processing_seconds_bucket{le="0.00001"}')).toBe(0);
    expect(sample(text, 'parley_relay_packet_processing_seconds_bucket{le="0.000025"}')).toBe(1);
    expect(sample(text, 'parley_relay_packet_processing_seconds_bucket{le="+Inf"}')).toBe(1);
  });

  it('sums every worker: counters, drops and histogram buckets', async () => {
    const [a, b] = [new PacketStats(), new PacketStats()];
    const metrics = metricsOver([a, b]);
    a.received(10);
    b.received(20);
    b.received(30);
    a.dropped('auth');
    b.dropped('auth');
    a.observeProcessing(0.000004); // first bucket
    b.observeProcessing(0.02); // above the last bound: +Inf only
    const text = await metrics.text();
    expect(sample(text, 'parley_relay_packets_in_total')).toBe(3);
    expect(sample(text, 'parley_relay_bytes_in_total')).toBe(60);
    expect(sample(text, 'parley_relay_packets_dropped_total{reason="auth"}')).toBe(2);
    expect(sample(text, 'parley_relay_packet_processing_seconds_bucket{le="0.000005"}')).toBe(1);
    expect(sample(text, 'parley_relay_packet_processing_seconds_bucket{le="0.01"}')).toBe(1);
    expect(sample(text, 'parley_relay_packet_processing_seconds_bucket{le="+Inf"}')).toBe(2);
    expect(sample(text, 'parley_relay_packet_processing_seconds_count')).toBe(2);
    expect(sample(text, 'parley_relay_workers')).toBe(2);
  });

  it('keeps counting across scrapes', async () => {
    const stats = new PacketStats();
    const metrics = metricsOver([stats]);
    stats.dropped('auth');
    await metrics.text();
    stats.dropped('auth');
    expect(sample(await metrics.text(), 'parley_relay_packets_dropped_total{reason="auth"}')).toBe(2);
  });

  it('accepts only known drop reasons, and no call can create a new series', async () => {
    const stats = new PacketStats();
    const metrics = metricsOver([stats]);
    // @ts-expect-error 'bogus' is not a DropReason: the type system refuses unknown reasons.
    expect(() => stats.dropped('bogus')).not.toThrow();
    const text = await metrics.text();
    expect(text).not.toContain('bogus');
    expect(text.split('\n').filter((l) => l.startsWith('parley_relay_packets_dropped_total{'))).toHaveLength(DROP_REASONS.length);
  });

  it('reads the gauges from the snapshot at each scrape', async () => {
    let state: Partial<RelaySnapshot> = { sessions: 3, channels: 2, draining: false };
    const metrics = createRelayMetrics({ defaultMetrics: false, snapshot: () => ({ ...idleRelaySnapshot(), workers: 2, workersUp: 2, ...state }) });
    let text = await metrics.text();
    expect(sample(text, 'parley_relay_sessions')).toBe(3);
    expect(sample(text, 'parley_relay_channels')).toBe(2);
    expect(sample(text, 'parley_relay_draining')).toBe(0);
    expect(sample(text, 'parley_relay_workers_up')).toBe(2);
    expect(sample(text, 'parley_relay_send_errors_total')).toBe(0);
    state = { sessions: 1, channels: 1, draining: true, workersUp: 1, packets: { ...idleRelaySnapshot().packets, sendErrors: 7 } };
    text = await metrics.text();
    expect(sample(text, 'parley_relay_sessions')).toBe(1);
    expect(sample(text, 'parley_relay_draining')).toBe(1);
    expect(sample(text, 'parley_relay_workers_up')).toBe(1);
    expect(sample(text, 'parley_relay_send_errors_total')).toBe(7);
  });

  it('adds Node process metrics with the relay prefix, per registry', async () => {
    const registry = new Registry();
    const metrics = createRelayMetrics({ registry });
    const another = createRelayMetrics(); // its own registry: no duplicate-metric error
    expect(metrics.registry).toBe(registry);
    const text = await metrics.text();
    expect(text).toContain('parley_relay_process_cpu_user_seconds_total');
    expect(text).toContain('parley_relay_nodejs_eventloop_lag_seconds');
    expect(metrics.contentType).toContain('text/plain');
    expect(await another.text()).toContain('parley_relay_process_resident_memory_bytes');
  });

  it('plugs into the router with the configuration as loaded', async () => {
    const config = loadRelayConfig({});
    const registry = new SessionRegistry(config.registry, nodeCryptoBackend);
    const stats = new PacketStats();
    const metrics = metricsOver([stats], { sessions: registry.size });
    const router = new DatagramRouter(registry, { send() {} }, stats, config.router);
    const from = { address: '198.51.100.1', port: 5000 };
    router.handle(new Uint8Array(40), from); // version 0: not RTP
    router.handle(new Uint8Array(config.router.maxDatagramBytes + 1), from);
    const rtp = new Uint8Array(40);
    rtp[0] = 0x80;
    rtp[1] = 111;
    router.handle(rtp, from); // RTP, but no session holds SSRC 0
    const text = await metrics.text();
    expect(sample(text, 'parley_relay_packets_in_total')).toBe(3);
    expect(sample(text, 'parley_relay_bytes_in_total')).toBe(40 + config.router.maxDatagramBytes + 1 + 40);
    expect(sample(text, 'parley_relay_packets_dropped_total{reason="malformed"}')).toBe(1);
    expect(sample(text, 'parley_relay_packets_dropped_total{reason="oversize"}')).toBe(1);
    expect(sample(text, 'parley_relay_packets_dropped_total{reason="unknown-ssrc"}')).toBe(1);
    expect(sample(text, 'parley_relay_sessions')).toBe(0);
  });
});
