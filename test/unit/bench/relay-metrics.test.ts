/**
 * bench/relay/relay-metrics.ts, the one reader of a relay's /metrics (tests, the soak run and
 * bench:relay's load generator): parsed from the exposition text the relay's own registry
 * (relay/src/metrics.ts) writes, so a renamed series fails here, not in a benchmark.
 */
import { describe, expect, it } from 'vitest';
import { parseRelayMetrics, relayMetricsDelta } from '../../../bench/relay/relay-metrics.js';
import { createRelayMetrics, idleRelaySnapshot } from '../../../relay/src/metrics.js';
import { PacketStats, PROCESSING_SECONDS_BUCKETS } from '../../../relay/src/media/packet-stats.js';

async function exposition(stats: PacketStats, sessions: number): Promise<string> {
  return createRelayMetrics({ snapshot: () => ({ ...idleRelaySnapshot(), sessions, channels: 1, packets: stats.snapshot(0) }) }).text();
}

describe('parseRelayMetrics', () => {
  it("reads the relay's counters, drops, gauges, heap and cumulative processing histogram", async () => {
    const stats = new PacketStats();
    stats.received(100);
    stats.received(60);
    stats.sent(90);
    stats.dropped('replay');
    stats.dropped('replay');
    stats.observeProcessing(0.00002); // in the 25 µs bucket
    stats.observeProcessing(0.02); // above the last bound: +Inf only
    const reading = parseRelayMetrics(await exposition(stats, 3));
    expect(reading).toMatchObject({ packetsIn: 2, packetsOut: 1, sendErrors: 0, sessions: 3, channels: 1 });
    expect(reading.dropped.replay).toBe(2);
    expect(reading.dropped.auth).toBe(0);
    expect(reading.heapUsedBytes).toBeGreaterThan(0);
    expect(reading.processing.map(([le]) => le)).toEqual([...PROCESSING_SECONDS_BUCKETS, Infinity]);
    const cumulative = new Map(reading.processing);
    expect(cumulative.get(0.00001)).toBe(0);
    expect(cumulative.get(0.000025)).toBe(1);
    expect(cumulative.get(0.01)).toBe(1);
    expect(cumulative.get(Infinity)).toBe(2);
  });

  it('names a missing series', async () => {
    const full = await exposition(new PacketStats(), 0);
    const withoutSessions = full.split('\n').filter((line) => !line.startsWith('parley_relay_sessions ')).join('\n');
    expect(() => parseRelayMetrics(withoutSessions)).toThrow('relay metrics: no parley_relay_sessions');
    expect(() => parseRelayMetrics('parley_relay_packets_in_total 1\n')).toThrow('relay metrics: no parley_relay_packet_processing_seconds_bucket');
  });
});

describe('relayMetricsDelta', () => {
  it('subtracts counters, drops and histogram buckets, and keeps the later gauges', async () => {
    const stats = new PacketStats();
    stats.received(10);
    stats.observeProcessing(0.00002);
    const before = parseRelayMetrics(await exposition(stats, 2));
    stats.received(10);
    stats.received(10);
    stats.dropped('auth');
    stats.observeProcessing(0.00002);
    stats.observeProcessing(0.0002);
    const delta = relayMetricsDelta(before, parseRelayMetrics(await exposition(stats, 5)));
    expect(delta).toMatchObject({ packetsIn: 2, packetsOut: 0, sessions: 5 });
    expect(delta.dropped.auth).toBe(1);
    const cumulative = new Map(delta.processing);
    expect(cumulative.get(0.000025)).toBe(1);
    expect(cumulative.get(0.00025)).toBe(2);
    expect(cumulative.get(Infinity)).toBe(2);
  });
});
