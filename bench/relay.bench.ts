/**
 * `npm run bench:relay`: how many voice packets per second one core of the real relay forwards,
 * compared with a plain Node UDP forwarder doing no crypto (the I/O ceiling), the latency the
 * relay adds, and the memory an idle session costs. A benchmark, not a test: nothing here
 * asserts on time. How it measures: docs/performance.md.
 *
 * Processes: the relay as the Docker image runs it (compiled first with `npm run relay:build`,
 * then `node --enable-source-maps dist/relay/src/main.js`, development mode, fixed ports the
 * bench picks) or the plain forwarder pinned to core 0, and the load generator
 * (bench/relay/load-generator.ts) pinned to core 1, talking over loopback.
 *
 * Phases:
 *   1. relay: per fan-out, install channels through the signed internal API, latch listeners with
 *      keepalives, ramp the number of talking channels; the highest step losing < 0.1% is the
 *      maximum sustained load; then a latency step at half of it.
 *   2. plain forwarder: the same channels and steps, and the latency step at the same load.
 *   3. memory: a fresh relay, RSS and heap before and after installing the idle sessions.
 *   4. install: a fresh relay, one burst of installs (4,000 by default, sealed beforehand); the
 *      relay's CPU per install.
 *   5. CPU per packet: a fresh relay, one fixed offered load near its maximum (180,000 forwarded
 *      packets/s by default) for every fan-out, a warm-up step and then 5 steps; the relay's CPU
 *      per forwarded packet, median and spread.
 *   6. (--cpu-prof) a fresh relay under `node --cpu-prof` for one step at ~80% of the maximum.
 *
 * Options: see bench/relay/options.ts (--json, --quick, --seconds, --fanout, --max-sockets,
 * --sessions, --cpu-prof, --memory-only, --install-sessions, --install-only, --cpu-out-pps,
 * --cpu-steps, --cpu-only).
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectPinning, findFreePortBlock, installExitHooks, stopAllChildren } from './relay/child-processes.js';
import { formatProfileSummary, summariseCpuProfile, type ProfileSummary } from './relay/cpu-profile-summary.js';
import type { ProbeReply, StepResult } from './relay/load-protocol.js';
import { parseBenchOptions, type BenchOptions } from './relay/options.js';
import { coreBusySeconds, processCpuSeconds, residentBytes } from './relay/proc-stats.js';
import {
  buildReport,
  compareLatency,
  cpuPerPacketResult,
  cpuUsPerForwarded,
  forwardedInStep,
  type CpuPerPacketResult,
  formatReport,
  shared,
  sustained,
  type FanoutResult,
  type InstallResult,
  type LatencyRuns,
  type MemoryResult,
  type RampResult,
} from './relay/report.js';
import { buildCLoadGenerator } from './relay/c-load-generator.js';
import { buildCForwarder, buildCompiledRelay, LoadGenerator, makeProfileDir, startCForwarder, startPlainForwarder, startRelay, type BenchPorts } from './relay/targets.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PORT_BASE = 47_300;
const MEMORY_WARMUP_SESSIONS = 100;
const IDLE_CHANNEL_SIZE = 5;

const options = parseBenchOptions(process.argv.slice(2));
const progress = (message: string): void => {
  process.stderr.write(`bench:relay: ${message}\n`);
};

interface RelayPhase {
  readonly ramps: Map<number, RampResult>;
  readonly latency: Map<number, LatencyRuns | null>;
  readonly maxChannels: Map<number, number>;
}

function channelsFor(fanout: number): number {
  return Math.max(1, Math.floor(options.maxSockets / fanout));
}

function stepChannels(fanout: number, fractions: readonly number[]): number[] {
  const max = channelsFor(fanout);
  return [...new Set(fractions.map((f) => Math.max(1, Math.round(f * max))))];
}

function describeStep(kind: string, s: StepResult): string {
  return (
    `${kind} f${s.fanout} ${s.channels} ch: ${Math.round(s.out_pps)} out/s, loss ${(s.loss * 100).toFixed(3)}%, ` +
    `${s.target_cores.toFixed(2)} cores, drain ${Math.round(s.drain_ms)} ms, load ${s.load_cores.toFixed(2)} (late sends ${s.late_sends}, max lag ${s.max_send_lag_ms.toFixed(1)} ms), ` +
    `cores busy ${s.core_busy.map((b) => b.toFixed(2)).join('/')}`
  );
}

/** Steps through `channelCounts` until one loses too much. */
async function ramp(load: LoadGenerator, kind: string, channelCounts: readonly number[]): Promise<RampResult> {
  const steps: StepResult[] = [];
  let best: StepResult | null = null;
  for (const channels of channelCounts) {
    const step = await load.call('step', { channels, seconds: options.seconds, recordLatency: false });
    steps.push(step);
    progress(describeStep(kind, step));
    if (!sustained(step)) return { steps, max_sustained: best, stopped_by: 'loss' };
    best = step;
  }
  return { steps, max_sustained: best, stopped_by: 'socket-cap' };
}

/**
 * `options.latencyRuns` latency steps at `channels`; the step with the median p99 stands for them
 * all (so its p50 and loss come from the same run), and every run's p99 is kept for the report.
 */
async function latencyRuns(load: LoadGenerator, kind: string, channels: number): Promise<LatencyRuns> {
  const runs: StepResult[] = [];
  for (let i = 0; i < options.latencyRuns; i++) {
    const step = await load.call('step', { channels, seconds: options.seconds, recordLatency: true });
    progress(`${describeStep(`${kind} latency`, step)}, p50 ${step.latency?.p50_us} µs p99 ${step.latency?.p99_us} µs`);
    runs.push(step);
  }
  const p99 = (s: StepResult): number => s.latency?.p99_us ?? Infinity;
  const ordered = [...runs].sort((a, b) => p99(a) - p99(b));
  return { step: ordered[Math.floor((ordered.length - 1) / 2)]!, p99s: runs.map((s) => s.latency?.p99_us ?? null) };
}

function halfLoadChannels(ramp: RampResult): number | null {
  return ramp.max_sustained === null ? null : Math.max(1, Math.round(ramp.max_sustained.channels / 2));
}

async function runRelayPhase(load: LoadGenerator, ports: BenchPorts, pinning: ReturnType<typeof detectPinning>): Promise<RelayPhase> {
  const phase: RelayPhase = { ramps: new Map(), latency: new Map(), maxChannels: new Map() };
  progress('starting the relay');
  const relay = await startRelay({ root: ROOT, pinning, ports });
  try {
    await load.call('configure', relay.target);
    for (const fanout of options.fanouts) {
      const channels = channelsFor(fanout);
      phase.maxChannels.set(fanout, channels);
      const prepared = await load.call('prepare', { fanout, channels });
      progress(`relay f${fanout}: ${prepared.sessions} sessions installed and ${prepared.latched} listeners latched in ${prepared.installSeconds.toFixed(1)} s`);
      const result = await ramp(load, 'relay', stepChannels(fanout, options.relaySteps));
      phase.ramps.set(fanout, result);
      const half = halfLoadChannels(result);
      if (half !== null) {
        phase.latency.set(fanout, await latencyRuns(load, 'relay', half));
      }
      await load.call('release', {});
    }
  } finally {
    await relay.stop();
  }
  return phase;
}

/**
 * --plain-batched: the plain forwarder again, on the relay's own batched I/O, over the same
 * channel counts as the dgram plain forwarder; fills in plain_batched and its ratio.
 */
async function runPlainBatchedPhase(load: LoadGenerator, ports: BenchPorts, pinning: ReturnType<typeof detectPinning>, results: FanoutResult[]): Promise<FanoutResult[]> {
  progress('starting the plain forwarder on batched I/O');
  const plain = await startPlainForwarder(ROOT, pinning, ports.udp, 'batched');
  const withBatched: FanoutResult[] = [];
  try {
    await load.call('configure', plain.target);
    for (const result of results) {
      const prepared = await load.call('prepare', { fanout: result.fanout, channels: channelsFor(result.fanout) });
      await plain.setTable(prepared.table ?? []);
      const counts = (result.plain ?? result.relay).steps.map((step) => step.channels);
      const batchedRamp = await ramp(load, 'plainB', counts);
      await load.call('release', {});
      await plain.setTable([]);
      const r = result.relay.max_sustained;
      const b = batchedRamp.max_sustained;
      withBatched.push({
        ...result,
        plain_batched: batchedRamp,
        ratio_to_plain_batched: r !== null && b !== null && b.out_pps_per_core > 0 ? r.out_pps_per_core / b.out_pps_per_core : null,
      });
    }
  } finally {
    await plain.stop();
  }
  return withBatched;
}

async function runPlainPhase(load: LoadGenerator, ports: BenchPorts, pinning: ReturnType<typeof detectPinning>, relay: RelayPhase): Promise<FanoutResult[]> {
  progress('starting the plain forwarder');
  const plain = await startPlainForwarder(ROOT, pinning, ports.udp, 'dgram');
  const results: FanoutResult[] = [];
  try {
    await load.call('configure', plain.target);
    for (const fanout of options.fanouts) {
      const prepared = await load.call('prepare', { fanout, channels: channelsFor(fanout) });
      await plain.setTable(prepared.table ?? []);
      const relayRamp = relay.ramps.get(fanout)!;
      // The relay's own steps first (a comparison at equal load), then coarser steps above them.
      const relayCounts = relayRamp.steps.map((step) => step.channels);
      const highest = Math.max(0, ...relayCounts);
      const plainCounts = [...relayCounts, ...stepChannels(fanout, options.plainSteps).filter((c) => c > highest)];
      const plainRamp = await ramp(load, 'plain', plainCounts);
      const half = halfLoadChannels(relayRamp);
      const plainLatency = half === null ? null : await latencyRuns(load, 'plain', half);
      await load.call('release', {});
      await plain.setTable([]);
      const r = relayRamp.max_sustained;
      const p = plainRamp.max_sustained;
      const plainAtRelayMax = r === null ? undefined : plainRamp.steps.find((step) => step.channels === r.channels);
      results.push({
        fanout,
        max_channels: relay.maxChannels.get(fanout) ?? channelsFor(fanout),
        relay: relayRamp,
        plain: plainRamp,
        ratio_to_plain: r !== null && p !== null && p.out_pps_per_core > 0 ? r.out_pps_per_core / p.out_pps_per_core : null,
        ratio_at_equal_load:
          r !== null && plainAtRelayMax !== undefined && plainAtRelayMax.out_pps_per_core > 0 ? r.out_pps_per_core / plainAtRelayMax.out_pps_per_core : null,
        latency: half === null ? null : compareLatency(half, relay.latency.get(fanout) ?? null, plainLatency),
        plain_batched: null,
        ratio_to_plain_batched: null,
        cpu_us_per_session_second: r === null ? null : (r.target_cores * 1e6) / (r.channels * (fanout + 1)),
      });
    }
  } finally {
    await plain.stop();
  }
  return results;
}

/** Per-session growth of each V8 heap space between two probe answers. */
function spaceDeltas(before: ProbeReply, after: ProbeReply, sessions: number): Record<string, { used: number; committed: number }> {
  const deltas: Record<string, { used: number; committed: number }> = {};
  for (const [name, a] of Object.entries(after.spaces)) {
    const b = before.spaces[name] ?? { used: 0, committed: 0 };
    deltas[name] = { used: (a.used - b.used) / sessions, committed: (a.committed - b.committed) / sessions };
  }
  return deltas;
}

async function runMemoryPhase(load: LoadGenerator, ports: BenchPorts, pinning: ReturnType<typeof detectPinning>): Promise<MemoryResult> {
  progress(`memory: starting a fresh relay, installing ${options.idleSessions} idle sessions`);
  // Idle sessions must outlive the install; the idle timeout does not change what a session holds.
  const relay = await startRelay({
    root: ROOT,
    pinning,
    ports,
    probe: true,
    nodeFlags: options.memoryNodeFlags,
    env: { ...options.memoryEnv, RELAY_IDLE_TIMEOUT_SECONDS: '3600' },
  });
  try {
    await load.call('configure', relay.target);
    const concurrency = 8;
    const warmup = await load.call('installIdle', { sessions: MEMORY_WARMUP_SESSIONS, channelSize: IDLE_CHANNEL_SIZE, concurrency });
    const snapshot = (name: string): string | undefined => (options.heapSnapshotDir === null ? undefined : join(options.heapSnapshotDir, `${name}.heapsnapshot`));
    if (options.heapSnapshotDir !== null) mkdirSync(options.heapSnapshotDir, { recursive: true });
    const before = await relay.memory(snapshot('before'));
    // A snapshot's writing grows RSS: with --heap-snapshots, the probe's reading from before it.
    const rssBefore = options.heapSnapshotDir === null ? residentBytes(relay.child.pid) : before.rss;
    const bulk = await load.call('installIdle', { sessions: options.idleSessions - MEMORY_WARMUP_SESSIONS, channelSize: IDLE_CHANNEL_SIZE, concurrency }, 600_000);
    const after = await relay.memory(snapshot('after'));
    const rssAfter = options.heapSnapshotDir === null ? residentBytes(relay.child.pid) : after.rss;
    const measured = Math.max(1, bulk.installed);
    const result: MemoryResult = {
      sessions: warmup.installed + bulk.installed,
      warmup_sessions: warmup.installed,
      refused: warmup.refused + bulk.refused,
      first_refusal: warmup.firstError ?? bulk.firstError,
      retried_503: warmup.retries + bulk.retries,
      install_seconds: bulk.seconds,
      installs_per_second: bulk.installed / bulk.seconds,
      gc: after.gcRan,
      rss_before: rssBefore,
      rss_after: rssAfter,
      heap_used_before: before.heapUsed,
      heap_used_after: after.heapUsed,
      bytes_per_session: (rssAfter - rssBefore) / measured,
      heap_bytes_per_session: (after.heapUsed - before.heapUsed) / measured,
      heap_total_bytes_per_session: (after.heapTotal - before.heapTotal) / measured,
      external_bytes_per_session: (after.external - before.external) / measured,
      array_buffer_bytes_per_session: (after.arrayBuffers - before.arrayBuffers) / measured,
      heap_spaces_per_session: spaceDeltas(before, after, measured),
    };
    progress(
      `memory: ${result.sessions} sessions, ${Math.round(result.bytes_per_session)} B RSS and ${Math.round(result.heap_bytes_per_session)} B heap per session` +
        ` (heaps of the main thread and ${after.workers} worker(s); heap committed ${Math.round(result.heap_total_bytes_per_session)} B, external ${Math.round(result.external_bytes_per_session)} B of which ArrayBuffers ${Math.round(result.array_buffer_bytes_per_session)} B)`,
    );
    return result;
  } finally {
    await relay.stop();
  }
}

/**
 * A fresh relay, one burst of `options.installSessions` installs through the signed API, and the
 * relay process's CPU time (/proc: user + system, every thread) over the burst.
 */
async function runInstallPhase(load: LoadGenerator, ports: BenchPorts, pinning: ReturnType<typeof detectPinning>): Promise<InstallResult> {
  const concurrency = 8;
  progress(`install: starting a fresh relay, installing ${options.installSessions} sessions, ${concurrency} at a time`);
  const relay = await startRelay({ root: ROOT, pinning, ports, env: { RELAY_IDLE_TIMEOUT_SECONDS: '3600' } });
  try {
    await load.call('configure', relay.target);
    // The load generator seals every session first, then sends the installs as fast as the relay
    // answers; the relay's CPU is read around the whole call, so it includes nothing but installs.
    const cpuBefore = processCpuSeconds(relay.child.pid);
    const burst = await load.call('installIdle', { sessions: options.installSessions, channelSize: IDLE_CHANNEL_SIZE, concurrency, presealed: true }, 600_000);
    const cpuSeconds = processCpuSeconds(relay.child.pid) - cpuBefore;
    const installed = Math.max(1, burst.installed);
    const result: InstallResult = {
      sessions: burst.installed,
      refused: burst.refused,
      first_refusal: burst.firstError,
      retried_503: burst.retries,
      concurrency,
      seconds: burst.seconds,
      installs_per_second: burst.installed / burst.seconds,
      cpu_seconds: cpuSeconds,
      cpu_us_per_session: (cpuSeconds * 1e6) / installed,
    };
    progress(`install: ${burst.installed} sessions in ${burst.seconds.toFixed(1)} s; relay CPU ${cpuSeconds.toFixed(2)} s, ${Math.round(result.cpu_us_per_session)} µs per session`);
    return result;
  } finally {
    await relay.stop();
  }
}

/**
 * The relay's CPU per forwarded packet at one fixed offered load (`--cpu-out-pps`, the same for
 * every fan-out), on a fresh relay: per fan-out, one warm-up step and then `--cpu-steps` steps at
 * that load; each step's relay CPU (/proc, every thread) ÷ the datagrams the relay forwarded (its
 * own counter; what listeners received without it). Then the same steps through the kernel floor
 * (bench/relay/c-forwarder.c, unless `--cpu-floor none`): the same load generator, listener
 * sockets and load, forwarded by a C program that does nothing else, so the relay's figure can be
 * read next to what this machine's kernel alone charges per forwarded datagram.
 */
async function runCpuPhase(load: LoadGenerator, ports: BenchPorts, pinning: ReturnType<typeof detectPinning>): Promise<CpuPerPacketResult[]> {
  progress(`cpu per packet: starting a fresh relay; ${options.cpuOutPps} out/s offered, ${options.cpuSteps} steps per fan-out`);
  const channelsAt = (fanout: number): number => {
    const channels = Math.max(1, Math.round(options.cpuOutPps / (50 * fanout)));
    if (channels * fanout > 4000) throw new Error(`bench:relay: ${options.cpuOutPps} out/s at fan-out ${fanout} needs ${channels * fanout} listener sockets (at most 4000)`);
    return channels;
  };
  const relaySteps = new Map<number, CpuSteps>();
  // Sessions outlive a slow install (thousands of them on a busy machine can take longer than the
  // idle timeout, and the first ones installed would be gone before the first step): the idle
  // sweep is not on the packet path, so this changes nothing the figure measures.
  // --cpu-prof with --cpu-only: profile this relay (there is no ramp to profile).
  const profileDir = options.cpuProfile && options.cpuOnly ? makeProfileDir() : undefined;
  const relay = await startRelay({ root: ROOT, pinning, ports, env: { RELAY_IDLE_TIMEOUT_SECONDS: '3600' }, cpuProfileDir: profileDir });
  try {
    await load.call('configure', relay.target);
    for (const fanout of options.fanouts) {
      await load.call('prepare', { fanout, channels: channelsAt(fanout) });
      relaySteps.set(fanout, await cpuSteps(load, 'cpu', fanout, channelsAt(fanout)));
      await load.call('release', {});
    }
  } finally {
    await relay.stop();
  }
  if (profileDir !== undefined) {
    const steps = [...relaySteps.values()].flatMap((r) => r.steps);
    const window = [Math.min(...steps.map((s) => s.window_start_us)), Math.max(...steps.map((s) => s.window_end_us))] as const;
    const summary = busiestThreadProfile(profileDir, window);
    if (summary !== null) progress(`relay CPU profile over the CPU phase's steps: ${formatProfileSummary(summary)}`);
  }
  const floorSteps = new Map<number, CpuSteps>();
  let floorNote: string | null = null;
  if (options.cpuFloor === 'c') {
    const build = buildCForwarder(ROOT);
    if (build.path === null) floorNote = `no kernel floor: ${build.reason}`;
    else {
      progress('cpu per packet: the kernel floor (bench/relay/c-forwarder.c) at the same loads');
      const floor = await startCForwarder(ROOT, pinning, ports.udp, build.path);
      try {
        await load.call('configure', floor.target);
        for (const fanout of options.fanouts) {
          const prepared = await load.call('prepare', { fanout, channels: channelsAt(fanout) });
          await floor.setTable(prepared.table ?? []);
          floorSteps.set(fanout, await cpuSteps(load, 'cpu floor', fanout, channelsAt(fanout)));
          await load.call('release', {});
          await floor.setTable([]);
        }
      } finally {
        await floor.stop();
      }
    }
  } else floorNote = 'no kernel floor: --cpu-floor none';
  return options.fanouts.map((fanout) => {
    const r = relaySteps.get(fanout)!;
    const f = floorSteps.get(fanout);
    const result = cpuPerPacketResult({ fanout, channels: channelsAt(fanout), ...r, floor: f === undefined ? null : f.steps, floorNote });
    const figure = result.cpu_us_per_out_packet;
    const floor = result.kernel_floor_us_per_out_packet;
    progress(
      `cpu per packet f${fanout}: ${figure === null ? 'n/a' : `median ${figure.median.toFixed(2)} µs (min ${figure.min.toFixed(2)}, max ${figure.max.toFixed(2)})`}` +
        `; kernel floor ${floor === null ? 'n/a' : `${floor.median.toFixed(2)} µs`}`,
    );
    return result;
  });
}

interface CpuSteps {
  readonly steps: readonly StepResult[];
  readonly loadAverageBefore: readonly number[];
  readonly loadAverageAfter: readonly number[];
}

/** One warm-up step (not counted), then `--cpu-steps` steps, on whatever target is configured and prepared. */
async function cpuSteps(load: LoadGenerator, label: string, fanout: number, channels: number): Promise<CpuSteps> {
  const loadAverageBefore = loadavg().map((n) => Math.round(n * 100) / 100);
  const warmup = await load.call('step', { channels, seconds: options.seconds, recordLatency: false });
  progress(describeStep(`${label} warm-up f${fanout}`, warmup));
  const steps: StepResult[] = [];
  for (let i = 0; i < options.cpuSteps; i++) {
    const step = await load.call('step', { channels, seconds: options.seconds, recordLatency: false });
    steps.push(step);
    progress(`${describeStep(`${label} f${fanout}`, step)}, ${cpuUsPerForwarded(step).toFixed(2)} µs per forwarded packet (${forwardedInStep(step)} forwarded)`);
  }
  return { steps, loadAverageBefore, loadAverageAfter: loadavg().map((n) => Math.round(n * 100) / 100) };
}

async function runProfilePhase(load: LoadGenerator, ports: BenchPorts, pinning: ReturnType<typeof detectPinning>, fanout: number, channels: number): Promise<ProfileSummary | null> {
  const dir = makeProfileDir();
  progress(`cpu profile: fan-out ${fanout}, ${channels} channels, profile in ${dir}`);
  const relay = await startRelay({ root: ROOT, pinning, ports, cpuProfileDir: dir });
  let step: StepResult;
  try {
    await load.call('configure', relay.target);
    await load.call('prepare', { fanout, channels });
    step = await load.call('step', { channels, seconds: Math.max(options.seconds, 3), recordLatency: false });
    progress(describeStep('profiled relay', step));
    await load.call('release', {});
  } finally {
    await relay.stop();
  }
  return busiestThreadProfile(dir, [step.window_start_us, step.window_end_us]);
}

/**
 * One profile per thread: CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile. The packet path
 * runs in the relay worker; the main thread (0) serves the API. The worker is the thread busiest
 * during the window.
 */
function busiestThreadProfile(dir: string, window: readonly [number, number]): ProfileSummary | null {
  const profiles = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const summaries = profiles.map((f) => ({ file: f, summary: summariseCpuProfile(join(dir, f), { top: 15, window, root: ROOT }) }));
  const busiest = summaries.sort((a, b) => a.summary.idle_percent - b.summary.idle_percent)[0];
  if (busiest === undefined) {
    progress('cpu profile: the relay wrote no profile (did it exit cleanly?)');
    return null;
  }
  progress(`cpu profile kept at ${join(dir, busiest.file)} (the busiest of ${profiles.length} threads' profiles)`);
  return busiest.summary;
}

async function main(opts: BenchOptions): Promise<void> {
  const started = Date.now();
  const cores = availableParallelism();
  const pinning = detectPinning(cores);
  const notes: string[] = [];
  if (!pinning.pinned) notes.push(`not pinned: ${pinning.reason}; relay and load generator share cores`);
  const loadAverage = loadavg();
  // What else runs here: half a second of /proc/stat before anything of ours starts.
  const busyBefore = coreBusySeconds();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const busyAtStart = coreBusySeconds().map((b, i) => Math.round((b - (busyBefore[i] ?? b)) * 200) / 100);
  if (busyAtStart.some((b) => b > 0.1)) notes.push(`other work was running at start (busy cores ${busyAtStart.join('/')}, load average ${loadAverage[0]!.toFixed(2)})`);
  const [udp, api, metrics] = await findFreePortBlock(PORT_BASE, 3);
  const ports: BenchPorts = { udp: udp!, api: api!, metrics: metrics! };
  progress(`ports udp ${ports.udp}, api ${ports.api}, metrics ${ports.metrics}; ${pinning.pinned ? 'pinned (taskset)' : `NOT pinned: ${pinning.reason}`}`);

  progress('compiling the relay (npm run relay:build): the benchmark measures the build the Docker image runs');
  buildCompiledRelay(ROOT);
  const cBuild = opts.loadGenerator === 'c' ? buildCLoadGenerator(ROOT) : { path: null, reason: '--load-generator node' };
  const loadGenerator = { used: cBuild.path === null ? ('node' as const) : ('c' as const), reason: cBuild.reason };
  progress(cBuild.path === null ? `load generator: Node (${cBuild.reason})` : `load generator: C (${cBuild.path})`);
  if (cBuild.path === null && opts.loadGenerator === 'c') notes.push(`the Node load generator ran, not the C one: ${cBuild.reason}`);
  const load = LoadGenerator.start(ROOT, pinning, cBuild.path);
  try {
    // --memory-only / --install-only: no load steps at all (they need a quiet machine; these figures do not).
    // --cpu-only: only the fixed-load CPU phase.
    const noSteps = opts.memoryOnly || opts.installOnly || opts.cpuOnly;
    const relayPhase: RelayPhase = noSteps ? { ramps: new Map(), latency: new Map(), maxChannels: new Map() } : await runRelayPhase(load, ports, pinning);
    const plainDgram = noSteps ? [] : await runPlainPhase(load, ports, pinning, relayPhase);
    const perFanout = opts.plainBatched && !noSteps ? await runPlainBatchedPhase(load, ports, pinning, plainDgram) : plainDgram;
    const memory = opts.installOnly || opts.cpuOnly ? null : await runMemoryPhase(load, ports, pinning);
    const install = opts.memoryOnly || opts.cpuOnly ? null : await runInstallPhase(load, ports, pinning);
    const cpuPerPacket = opts.memoryOnly || opts.installOnly || opts.cpuOutPps === 0 ? [] : await runCpuPhase(load, ports, pinning);
    if (opts.memoryOnly) notes.push('--memory-only: no load steps ran; throughput and latency are n/a');
    if (opts.installOnly) notes.push('--install-only: no load steps or memory phase ran');
    if (opts.cpuOnly) notes.push('--cpu-only: only the fixed-load CPU phase ran');
    for (const c of cpuPerPacket) {
      if (!c.all_sustained) notes.push(`fan-out ${c.fanout}: not every step of the CPU phase was sustained (worst loss ${(c.worst_loss * 100).toFixed(3)} %); its CPU per packet is at or past the relay's maximum`);
      if (c.steps.some((s) => s.load_saturated)) notes.push(`fan-out ${c.fanout}: the load generator saturated in some step of the CPU phase`);
      if (c.steps.some(shared)) notes.push(`fan-out ${c.fanout}: some step of the CPU phase ran while other processes used more than a quarter of a core (SHARED)`);
    }
    let cpuProfile: ProfileSummary | null = null;
    if (opts.cpuProfile && !noSteps) {
      const fanout = Math.max(...opts.fanouts);
      const max = relayPhase.ramps.get(fanout)?.max_sustained?.channels ?? channelsFor(fanout);
      cpuProfile = await runProfilePhase(load, ports, pinning, fanout, Math.max(1, Math.round(max * 0.8)));
    }
    for (const f of perFanout) {
      const sharedSteps = [...f.relay.steps, ...(f.plain?.steps ?? [])].filter(shared).length;
      if (sharedSteps > 0) {
        notes.push(`fan-out ${f.fanout}: ${sharedSteps} step(s) ran while other processes used more than a quarter of a core (SHARED rows); throughput per core holds up, maximum load and latency do not`);
      }
      if (f.relay.steps.some((s) => s.load_saturated) || f.plain?.steps.some((s) => s.load_saturated)) {
        notes.push(`fan-out ${f.fanout}: the load generator saturated in some step (LOAD-SATURATED rows); those rows measure the load side`);
      }
      if (f.plain?.stopped_by === 'socket-cap') {
        notes.push(`fan-out ${f.fanout}: the plain forwarder never lost packets up to the socket budget; its per-core figure is taken below saturation (${f.plain.max_sustained?.target_cores.toFixed(2)} cores)`);
      }
      if (f.relay.stopped_by === 'socket-cap') {
        notes.push(`fan-out ${f.fanout}: the relay sustained every step up to the socket budget; raise --max-sockets to find its limit`);
      }
    }
    const cpu = cpus()[0];
    const report = buildReport({
      loadGenerator,
      machine: {
        date: new Date().toISOString(),
        node: process.version,
        cores,
        cpu_model: cpu?.model.trim() ?? 'unknown',
        pinned: pinning.pinned,
        pinning_note: pinning.reason,
        load_average_at_start: loadAverage.map((n) => Math.round(n * 100) / 100),
        busy_cores_at_start: busyAtStart,
      },
      options: { ...opts, duration_seconds: Math.round((Date.now() - started) / 1000) },
      perFanout,
      memory,
      install,
      cpuPerPacket,
      cpuProfile,
      notes,
    });
    if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`${formatReport(report)}\n`);
  } finally {
    await load.stop();
  }
}

installExitHooks((signal) => progress(`${signal}: stopping every child process`));
main(options)
  .then(() => stopAllChildren())
  .catch(async (error: unknown) => {
    progress(error instanceof Error ? (error.stack ?? error.message) : String(error));
    await stopAllChildren();
    process.exitCode = 1;
  });
