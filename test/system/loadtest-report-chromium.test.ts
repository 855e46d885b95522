/**
 * The load test's HTML report in a real browser: a bounded load test against a real relay writes
 * the report, and Debian's headless Chromium opens it from disk (no network: the page is
 * self-contained) and dumps the DOM after the load event. The page's own script records how many
 * canvas pixels carry each chart's series colour; every chart must have drawn its data, on the
 * canvas uPlot made for it. The handshake chart, which only control-plane mode draws, is checked
 * on the same run's result with handshake times added (a control plane is more than this file
 * starts; test/e2e/parley-commands.test.ts checks a real control-plane run's report data).
 *
 * Needs Debian's chromium: without it the file is skipped with a SKIPPED line naming the apt-get
 * command, except under CI, where it fails (test/system/support/requirements.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtmlReport } from '../../cli/loadtest/html-report.js';
import type { LoadResult } from '../../cli/loadtest/load-run.js';
import { histogram } from '../../cli/loadtest/summary-math.js';
import { startRelayProcess, type RelayProcess } from '../../cli/relay-process.js';
import { runLineProcess } from '../interop/line-process.js';
import { binaryOnPath, systemTestCanRun } from './support/requirements.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ready = systemTestCanRun('load test report in headless Chromium', [binaryOnPath('chromium', 'chromium')]);

/** Runs headless Chromium on a file URL and returns the DOM it dumps (bounded: killed after 45 s). */
function dumpDom(fileUrl: string, profileDir: string): Promise<{ code: number | null; dom: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'chromium',
      [
        '--headless',
        // The test runs as root on CI machines, where Chromium's sandbox cannot start.
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-extensions',
        '--disable-background-networking',
        `--user-data-dir=${profileDir}`,
        '--window-size=1000,1200',
        '--dump-dom',
        fileUrl,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let dom = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (dom += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, dom, stderr });
    });
  });
}

describe.runIf(ready)('load test report in headless Chromium', () => {
  let relay: RelayProcess;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-loadtest-report-'));
    relay = await startRelayProcess({ relayId: 'report-relay', env: { RELAY_LOG_LEVEL: 'warn', RELAY_UDP_PORT: '0' } });
  });

  afterAll(async () => {
    relay?.kill('SIGTERM');
    await Promise.race([relay?.exited(), new Promise((resolve) => setTimeout(resolve, 5000))]);
    relay?.kill('SIGKILL');
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('renders the latency histogram, loss and throughput charts from the inlined library', { timeout: 120_000 }, async () => {
    const report = join(dir, 'report.html');
    const run = await runLineProcess(
      process.execPath,
      ['--import', 'tsx', 'cli/parley.ts', 'loadtest', '--relay-api', `http://127.0.0.1:${relay.ports.api}`, '--channels', '2', '--members', '4', '--duration', '5', '--loss', '0.02', '--seed', '5', '--report', report],
      [],
      { cwd: REPO_ROOT },
    );
    expect(run.code).toBe(0);

    const { code, dom, stderr } = await dumpDom(pathToFileURL(report).href, join(dir, 'chromium-profile'));
    expect(code, stderr).toBe(0);
    const body = /<body([^>]*)>/.exec(dom)?.[1] ?? '';
    expect(body).toContain('data-charts-rendered="3"');
    const pixels = /data-series-pixels="([0-9,]+)"/.exec(body)?.[1]?.split(',').map(Number) ?? [];
    expect(pixels).toHaveLength(3);
    // Each chart drew its series: hundreds of pixels of its colour (a blank or failed chart: none).
    for (const count of pixels) expect(count).toBeGreaterThan(100);
    // uPlot built its DOM: one .uplot root with a canvas per chart, titles included.
    expect(dom.match(/<div class="uplot[^"]*"/g)).toHaveLength(3);
    expect(dom.match(/<canvas\b/g)?.length).toBeGreaterThanOrEqual(3);
    expect(dom).toContain('One-way latency (ms)');
    expect(dom).toContain('Loss per second');
    expect(dom).toContain('Throughput per second');
    expect(dom).not.toContain('id="chart-handshake"');
  });

  it('renders the handshake chart when the result has handshake times (control-plane mode)', { timeout: 120_000 }, async () => {
    const run = await runLineProcess(
      process.execPath,
      ['--import', 'tsx', 'cli/parley.ts', 'loadtest', '--relay-api', `http://127.0.0.1:${relay.ports.api}`, '--channels', '1', '--members', '3', '--duration', '2', '--ramp-up', '0', '--json'],
      [],
      { cwd: REPO_ROOT },
    );
    expect(run.code).toBe(0);
    const result = JSON.parse(run.lines.join('\n')) as LoadResult;
    const handshakes = [812, 845, 903, 951, 1204, 1390];
    const report = join(dir, 'handshake-report.html');
    writeFileSync(report, renderHtmlReport({ ...result, handshakeHistogram: histogram(handshakes, 1400, 30) }));

    const { code, dom, stderr } = await dumpDom(pathToFileURL(report).href, join(dir, 'chromium-profile-handshake'));
    expect(code, stderr).toBe(0);
    const body = /<body([^>]*)>/.exec(dom)?.[1] ?? '';
    expect(body).toContain('data-charts-rendered="4"');
    const pixels = /data-series-pixels="([0-9,]+)"/.exec(body)?.[1]?.split(',').map(Number) ?? [];
    expect(pixels).toHaveLength(4);
    // The handshake chart is the fourth: its bars drawn in its colour.
    expect(pixels[3]).toBeGreaterThan(100);
    expect(dom.match(/<div class="uplot[^"]*"/g)).toHaveLength(4);
    expect(dom).toContain('Handshake, WSS join to voice_ready (ms): members per bin of 50 ms');
  });
});
