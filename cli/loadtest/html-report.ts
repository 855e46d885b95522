/**
 * The load test's HTML report: one self-contained page (no external scripts, styles or fonts)
 * with the summary, a latency histogram, loss and throughput per second, and (control-plane mode)
 * a histogram of the handshake times, WSS join → voice_ready. The charts are drawn
 * by uPlot (a maintained canvas charting library, a dependency at an exact version), whose dist
 * files are read from node_modules and inlined when the report is written.
 *
 * After drawing, the page checks its own canvases and records on <body> how many chart pixels
 * carry each series' colour (data-series-pixels), and data-charts-rendered once all charts are
 * drawn: a headless browser's DOM dump tells whether the charts really rendered.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { LoadResult } from './load-run.js';
import type { Histogram } from './summary-math.js';
import { formatSummary } from './summary-table.js';

const require = createRequire(import.meta.url);

export interface ChartingLibrary {
  readonly name: string;
  readonly version: string;
  readonly script: string;
  readonly stylesheet: string;
}

/** uPlot's minified script and stylesheet, as installed. */
export function loadChartingLibrary(): ChartingLibrary {
  const packageJson = JSON.parse(readFileSync(require.resolve('uplot/package.json'), 'utf8')) as { version: string };
  return {
    name: 'uPlot',
    version: packageJson.version,
    script: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    stylesheet: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  };
}

/** Text safe inside <script> or <style>: no closing tag can end the element early. */
function inlineSafe(code: string): string {
  return code.replace(/<\/(script|style)/gi, '<\\/$1');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The data the page's script reads, from a JSON <script> element (`<` escaped so it cannot end it). */
function reportData(result: LoadResult): string {
  const bars = (h: Histogram) => ({ x: h.lowerEdges.map((edge) => edge + h.width / 2), counts: h.counts, width: h.width, overflow: h.overflow });
  const data = {
    histogram: bars(result.latencyHistogram),
    handshake: result.handshakeHistogram === null ? null : bars(result.handshakeHistogram),
    series: {
      second: result.series.second,
      lossPercent: result.series.loss.map((l) => (l === null ? null : l * 100)),
      receivedPps: result.series.received,
      receivedMbps: result.series.receivedMbps,
      sentPps: result.series.sent,
    },
  };
  return JSON.stringify(data).replace(/</g, '\\u003c');
}

/** Colours the page draws series in, which it then looks for on the canvases. */
const COLOURS = { histogram: [37, 99, 235], loss: [220, 38, 38], received: [22, 163, 74], sent: [107, 114, 128], handshake: [147, 51, 234] } as const;

const PAGE_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var colours = ${JSON.stringify(COLOURS)};
  function rgb(c, a) { return 'rgba(' + c[0] + ',' + c[1] + ',' + c[2] + ',' + (a === undefined ? 1 : a) + ')'; }
  var width = Math.min(960, document.body.clientWidth - 32);
  var charts = [];

  charts.push({ colour: colours.histogram, plot: new uPlot({
    title: 'One-way latency (ms): copies per bin of ' + data.histogram.width + ' ms' + (data.histogram.overflow ? ', ' + data.histogram.overflow + ' beyond' : ''),
    width: width, height: 280,
    scales: { x: { time: false } },
    axes: [{ label: 'ms' }, { label: 'copies' }],
    legend: { show: false },
    series: [{}, { label: 'copies', fill: rgb(colours.histogram), stroke: rgb(colours.histogram), paths: uPlot.paths.bars({ size: [0.9, Infinity] }), points: { show: false } }],
  }, [data.histogram.x, data.histogram.counts], document.getElementById('chart-latency')) });

  charts.push({ colour: colours.loss, plot: new uPlot({
    title: 'Loss per second (% of the copies sent in that second)',
    width: width, height: 240,
    scales: { x: { time: false }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
    axes: [{ label: 's' }, { label: '%' }],
    series: [{ label: 's' }, { label: 'loss %', stroke: rgb(colours.loss), width: 2, fill: rgb(colours.loss, 0.15), spanGaps: false }],
  }, [data.series.second, data.series.lossPercent], document.getElementById('chart-loss')) });

  charts.push({ colour: colours.received, plot: new uPlot({
    title: 'Throughput per second',
    width: width, height: 260,
    scales: { x: { time: false }, mbps: {} },
    axes: [{ label: 's' }, { label: 'packets/s' }, { scale: 'mbps', side: 1, label: 'Mbit/s', grid: { show: false } }],
    series: [
      { label: 's' },
      { label: 'received packets/s', stroke: rgb(colours.received), width: 2 },
      { label: 'sent packets/s', stroke: rgb(colours.sent), width: 1, dash: [4, 4] },
      { label: 'received Mbit/s', scale: 'mbps', stroke: rgb(colours.received, 0.5), width: 1 },
    ],
  }, [data.series.second, data.series.receivedPps, data.series.sentPps, data.series.receivedMbps], document.getElementById('chart-throughput')) });

  if (data.handshake !== null) charts.push({ colour: colours.handshake, plot: new uPlot({
    title: 'Handshake, WSS join to voice_ready (ms): members per bin of ' + data.handshake.width + ' ms',
    width: width, height: 240,
    scales: { x: { time: false } },
    // Whole members on the y axis: a few dozen at most in a bin, so no 0.5 ticks.
    axes: [{ label: 'ms' }, { label: 'members', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }],
    legend: { show: false },
    series: [{}, { label: 'members', fill: rgb(colours.handshake), stroke: rgb(colours.handshake), paths: uPlot.paths.bars({ size: [0.9, Infinity] }), points: { show: false } }],
  }, [data.handshake.x, data.handshake.counts], document.getElementById('chart-handshake')) });

  // uPlot draws in a microtask; by the load event every chart is on its canvas. Count the pixels
  // that carry each chart's series colour, so a headless browser can tell the charts rendered.
  window.addEventListener('load', function () {
    var counts = charts.map(function (chart) {
      var canvas = chart.plot.ctx.canvas;
      var pixels = chart.plot.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      var n = 0;
      for (var i = 0; i < pixels.length; i += 4) {
        if (pixels[i + 3] > 200 && Math.abs(pixels[i] - chart.colour[0]) < 24 && Math.abs(pixels[i + 1] - chart.colour[1]) < 24 && Math.abs(pixels[i + 2] - chart.colour[2]) < 24) n++;
      }
      return n;
    });
    document.body.setAttribute('data-series-pixels', counts.join(','));
    document.body.setAttribute('data-charts-rendered', String(charts.length));
  });
})();
`;

export function renderHtmlReport(result: LoadResult, library: ChartingLibrary = loadChartingLibrary()): string {
  const title = `Parley load test — ${result.startedAt}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="parley loadtest; charts by ${library.name} ${library.version}">
<title>${escapeHtml(title)}</title>
<style>${inlineSafe(library.stylesheet)}</style>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #111; }
  h1 { font-size: 20px; }
  pre { background: #f6f6f6; padding: 12px; overflow-x: auto; }
  .chart { margin: 16px 0 28px; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<pre id="summary">${escapeHtml(formatSummary(result))}</pre>
<div class="chart" id="chart-latency"></div>
<div class="chart" id="chart-loss"></div>
<div class="chart" id="chart-throughput"></div>
${result.handshakeHistogram === null ? '' : '<div class="chart" id="chart-handshake"></div>\n'}<p>Latency is one-way: each payload carries its send time, and senders and receivers share one clock. Jitter is RFC 3550 §6.4.1 interarrival jitter, per speaker stream at each listener. Charts drawn by ${library.name} ${library.version} (MIT), inlined.</p>
<script type="application/json" id="report-data">${reportData(result)}</script>
<script>${inlineSafe(library.script)}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
