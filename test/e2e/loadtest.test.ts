/**
 * `parley loadtest` against a real relay process on loopback (development keys): a bounded run of
 * about 10 s in which every copy decrypts, nothing is replayed, and the HTML report is written
 * with the charting library and the run's data inlined; a run through the impairment proxy whose
 * replay failures are exactly the duplicates it injected; and a run refused because the relay
 * named a UDP host the user did not give.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadResult } from '../../cli/loadtest/load-run.js';
import { startRelayProcess, type RelayProcess } from '../../cli/relay-process.js';
import { runLineProcess, type LineProcessResult } from '../interop/line-process.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UPLOT = readFileSync(join(REPO_ROOT, 'node_modules/uplot/dist/uPlot.iife.min.js'), 'utf8');

let relay: RelayProcess;
let dir: string;

function loadtest(args: readonly string[]): Promise<LineProcessResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['PARLEY_RELAY_API_KEY'];
  return runLineProcess(process.execPath, ['--import', 'tsx', 'cli/parley.ts', 'loadtest', ...args], [], { cwd: REPO_ROOT, env });
}

async function relaySessions(): Promise<number> {
  const health = (await (await fetch(`http://127.0.0.1:${relay.ports.api}/healthz`)).json()) as { sessions: number };
  return health.sessions;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-loadtest-'));
  relay = await startRelayProcess({ relayId: 'loadtest-relay', env: { RELAY_LOG_LEVEL: 'warn', RELAY_UDP_PORT: '0' } });
});

afterAll(async () => {
  relay?.kill('SIGTERM');
  await Promise.race([relay?.exited(), new Promise((resolve) => setTimeout(resolve, 5000))]);
  relay?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('parley loadtest, relay mode', () => {
  it('runs ~10 s of voice with every copy decrypted, none replayed, and writes the HTML report', { timeout: 60_000 }, async () => {
    const report = join(dir, 'report.html');
    const run = await loadtest([
      '--relay-api', `http://127.0.0.1:${relay.ports.api}`,
      '--channels', '3', '--members', '4', '--speakers', '2',
      '--duration', '8', '--ramp-up', '1', '--json', '--report', report,
    ]);
    expect(run.stderr).not.toMatch(/unexpected failure/);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.lines.join('\n')) as LoadResult;

    expect(result.clients).toMatchObject({ planned: 12, joined: 12, failedJoins: 0 });
    expect(result.failures).toEqual({ decrypt: 0, replay: 0, corruptPayload: 0 });
    // Each channel: 2 speakers × 50 packets/s for ~8 s, each copy expected at the 3 other members.
    expect(result.packets.sent).toBeGreaterThan(3 * 2 * 50 * 7);
    expect(result.packets.expected).toBe(result.packets.sent * 3);
    expect(result.packets.received).toBeLessThanOrEqual(result.packets.expected);
    expect(result.packets.received).toBeGreaterThan(result.packets.expected * 0.98);
    expect(result.latencyMs.samples).toBe(result.packets.received);
    expect(result.latencyMs.p50).toBeGreaterThan(0);
    expect(result.latencyMs.p99).toBeGreaterThanOrEqual(result.latencyMs.p50!);
    expect(result.jitterMs.streams).toBe(3 * 4 * 2 - 3 * 2); // every listener hears every other speaker
    expect(result.provisionMs.samples).toBe(12);
    expect(result.latchMs.samples).toBe(12);
    expect(result.series.received.reduce((a, b) => a + b, 0)).toBe(result.packets.received);
    expect(result.series.sent.reduce((a, b) => a + b, 0)).toBe(result.packets.sent);
    const h = result.latencyHistogram;
    expect(h.counts.reduce((a, b) => a + b, 0) + h.overflow).toBe(result.packets.received);

    // The report: self-contained, with uPlot inlined whole and the run's data.
    const html = readFileSync(report, 'utf8');
    expect(html).toContain(UPLOT);
    expect(html).toContain('leeoniya/uPlot (v1.6.32)');
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/url\(\s*['"]?https?:/i);
    const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!) as {
      histogram: { counts: number[]; overflow: number };
      handshake: unknown;
      series: { receivedPps: number[] };
    };
    expect(data.histogram.counts).toEqual(h.counts);
    expect(data.series.receivedPps).toEqual(result.series.received);
    // Relay mode has no handshake (sessions are installed through the relay API): no such chart.
    expect(result.handshakeHistogram).toBeNull();
    expect(data.handshake).toBeNull();
    expect(html).not.toContain('id="chart-handshake"');

    // Every session it installed is revoked.
    expect(await relaySessions()).toBe(0);
  });

  it('through the impairment proxy: a replay failure for exactly each duplicate sent to the clients, loss near what was asked', { timeout: 60_000 }, async () => {
    const run = await loadtest([
      '--relay-api', `http://127.0.0.1:${relay.ports.api}`,
      '--channels', '2', '--members', '3', '--duration', '3', '--ramp-up', '0',
      '--loss', '0.1', '--duplicate', '0.05', '--impair', 'down', '--seed', '7', '--json',
    ]);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.lines.join('\n')) as LoadResult;
    const impairment = result.impairment!;
    expect(impairment.settings).toMatchObject({ loss: 0.1, duplicate: 0.05, seed: 7 });
    expect(impairment.toRelay).toMatchObject({ dropped: 0, duplicated: 0 });
    expect(impairment.toClients.duplicated).toBeGreaterThan(0);
    expect(result.failures.decrypt).toBe(0);
    expect(result.failures.corruptPayload).toBe(0);
    expect(result.failures.replay).toBe(impairment.toClients.duplicated);
    expect(result.packets.lossPercent).toBeGreaterThan(4);
    expect(result.packets.lossPercent).toBeLessThan(16);
    expect(await relaySessions()).toBe(0);
  });

  it('stops when the relay names a UDP host that was not given, before sending there', { timeout: 60_000 }, async () => {
    // The API is reached as "localhost"; the relay's endpoints say 127.0.0.1, which was not given.
    const run = await loadtest(['--relay-api', `http://localhost:${relay.ports.api}`, '--channels', '1', '--members', '2', '--duration', '1', '--ramp-up', '0']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('127.0.0.1, which is not an allowed target (add --udp-host 127.0.0.1');
    expect(run.lines).toEqual([]);
    expect(await relaySessions()).toBe(0);
  });
});
