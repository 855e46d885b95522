/** The load test's end-of-run summary as an aligned text table. */
import type { DistributionSummary, LoadResult } from './load-run.js';

function ms(value: number | null): string {
  if (value === null) return '-';
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
}

function distribution(d: DistributionSummary): string {
  return `p50 ${ms(d.p50)}  p95 ${ms(d.p95)}  p99 ${ms(d.p99)}  max ${ms(d.max)} ms  (${d.samples})`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatSummary(r: LoadResult): string {
  const s = r.shape;
  const rows: Array<[string, string]> = [
    ['target', Object.entries(r.target).map(([k, v]) => `${k} ${v}`).join(', ')],
    [
      'load',
      `${s.channels} channels × ${s.members} members (${s.speakers} speaking), ${s.rate} packets/s of ${s.payloadBytes} B, ` +
        `${s.durationSeconds} s after ${s.rampUpSeconds} s ramp-up, ${s.profile}`,
    ],
  ];
  if (r.impairment !== null) {
    const i = r.impairment;
    const up = i.toRelay;
    const down = i.toClients;
    rows.push([
      'impairment',
      `loss ${i.settings.loss} duplicate ${i.settings.duplicate} reorder ${i.settings.reorder} jitter ${i.settings.jitterMs} ms seed ${i.settings.seed} (${i.directions})`,
    ]);
    rows.push(['  to relay', `${count(up.received)} in: dropped ${count(up.dropped)}, duplicated ${count(up.duplicated)}, reordered ${count(up.reordered)}`]);
    rows.push(['  to clients', `${count(down.received)} in: dropped ${count(down.dropped)}, duplicated ${count(down.duplicated)}, reordered ${count(down.reordered)}`]);
  }
  rows.push(
    ['clients', `${r.clients.joined}/${r.clients.planned} joined${r.clients.failedJoins > 0 ? `, ${r.clients.failedJoins} failed: ${r.clients.firstJoinError}` : ''}`],
    ...(r.handshakeMs === null ? [['provision', distribution(r.provisionMs)] as [string, string]] : [['handshake', `${distribution(r.handshakeMs)}  (WSS join → voice_ready)`] as [string, string]]),
    ['latch + consent', distribution(r.latchMs)],
    ['keepalive rtt', distribution(r.keepaliveRttMs)],
    ['sent', `${count(r.packets.sent)} packets`],
    ['received', `${count(r.packets.received)} of ${count(r.packets.expected)} expected copies`],
    ['loss', `${r.packets.lossPercent.toFixed(3)} % (${count(r.packets.lost)} copies)`],
    ['latency one-way', distribution(r.latencyMs)],
    ['jitter (RFC 3550)', `mean ${ms(r.jitterMs.mean)}  max ${ms(r.jitterMs.max)} ms  over ${r.jitterMs.streams} streams`],
    ['throughput', `${count(Math.round(r.throughput.meanReceivedPps))} packets/s received (peak ${count(r.throughput.peakReceivedPps)}), ${r.throughput.meanReceivedMbps.toFixed(2)} Mbit/s`],
    ['decrypt failures', count(r.failures.decrypt)],
    ['replay failures', count(r.failures.replay)],
    ['wrong payloads', count(r.failures.corruptPayload)],
    ['send lag max', `${ms(r.maxSendLagMs)} ms${r.maxSendLagMs > 20 ? ' (this machine fell behind its schedule)' : ''}`],
    ['elapsed', `${r.elapsedSeconds.toFixed(1)} s${r.interrupted ? ' (interrupted)' : ''}`],
  );
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}
