/** Command-line options of `npm run bench:relay`. */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  readonly json: boolean;
  readonly quick: boolean;
  /** Seconds per load step. */
  readonly seconds: number;
  /** Listeners per channel, one run of ramp steps each. */
  readonly fanouts: readonly number[];
  /** Listener sockets at most (one per listener). */
  readonly maxSockets: number;
  /** Relay ramp: fractions of the channels the socket budget allows. */
  readonly relaySteps: readonly number[];
  /** Plain forwarder ramp (coarser: it is the ceiling, not the subject). */
  readonly plainSteps: readonly number[];
  /** Idle sessions installed for the memory measurement. */
  readonly idleSessions: number;
  /** Profile the relay (`node --cpu-prof`) during one extra step, and summarise it. */
  readonly cpuProfile: boolean;
  /**
   * Latency steps per target and fan-out. One step's p99 is one pause away from another figure
   * (either process's GC, a neighbour on the VM); the report takes the run with the median p99.
   */
  readonly latencyRuns: number;
  /** Also ramp the plain forwarder on the relay's own batched I/O (the I/O floor without SRTP). */
  readonly plainBatched: boolean;
  /** Run only the memory measurement (no load steps), so it can be iterated on quickly. */
  readonly memoryOnly: boolean;
  /** Sessions installed in one burst on a fresh relay to measure its CPU per install. */
  readonly installSessions: number;
  /** Run only the install measurement (no load steps, no memory phase). */
  readonly installOnly: boolean;
  /** Write heap snapshots of the memory phase's relay (before and after) into this directory. */
  readonly heapSnapshotDir: string | null;
  /** Extra node flags for the memory phase's relay (e.g. --max-semi-space-size=1). */
  readonly memoryNodeFlags: readonly string[];
  /** Extra environment for the memory phase's relay (NAME=value, e.g. MALLOC_ARENA_MAX=2). */
  readonly memoryEnv: Readonly<Record<string, string>>;
  /**
   * The CPU-per-packet phase: forwarded packets per second offered (speakers × 50 × fan-out), the
   * same for every fan-out, on a fresh relay; 0 skips the phase.
   */
  readonly cpuOutPps: number;
  /** Steps at that load per fan-out (the median is the figure, min and max its spread). */
  readonly cpuSteps: number;
  /** Run only the CPU-per-packet phase. */
  readonly cpuOnly: boolean;
  /** 'c': the CPU phase also measures the kernel floor (bench/relay/c-forwarder.c); 'none': it does not. */
  readonly cpuFloor: 'c' | 'none';
  /**
   * Which program sends and counts the timed traffic: 'c' (bench/relay/udp-load.c, built with the
   * system C compiler; falls back to 'node' without one) or 'node' (the Node load generator's own loop).
   */
  readonly loadGenerator: 'c' | 'node';
}

export const USAGE = `usage: npm run bench:relay -- [options]
  --json              print one JSON object instead of tables
  --quick             smoke run (< 30 s): short steps, fewer of them, fewer sockets and sessions
  --seconds N         seconds per load step (default 3; quick 1)
  --fanout A,B        listeners per channel (default 4,20)
  --max-sockets N     listener sockets at most, one per listener (default 2000; quick 400)
  --sessions N        idle sessions for the memory measurement (default 10000; quick 500)
  --cpu-prof          also profile the relay under load and print its top self-time functions
  --latency-runs N    latency steps per target and fan-out, the median p99 reported (default 3; quick 1)
  --plain-batched     also ramp the plain forwarder on the relay's batched I/O (recvmmsg/sendmmsg)
  --memory-only       only the memory measurement (a fresh relay, idle sessions; no load steps)
  --install-sessions N  sessions in the install burst whose relay CPU is measured (default 4000; quick 500)
  --install-only      only the install measurement (a fresh relay, one burst of installs)
  --heap-snapshots D  also write the memory phase's heap snapshots (before, after) into directory D;
                      compare them with: tsx bench/relay/heap-snapshot-diff.ts D/before.heapsnapshot D/after.heapsnapshot N
  --relay-node-flag F extra node flag for the memory phase's relay (repeatable; investigation)
  --relay-env N=V     extra environment variable for the memory phase's relay (repeatable)
  --cpu-out-pps N     forwarded packets/s offered in the CPU-per-packet phase (default 180000; quick 20000;
                      0 skips it); one listener socket per listener, so at most 4000 × 50 packets/s
  --cpu-steps N       steps at that load per fan-out, the median reported with min and max (default 5)
  --cpu-only          only the CPU-per-packet phase (a fresh relay, fixed load, no ramp)
  --cpu-floor F       c (default): the CPU phase also runs the kernel floor, bench/relay/c-forwarder.c (the
                      relay's I/O shape in C, no crypto), at the same loads; none: it does not
  --load-generator G  c (default: bench/relay/udp-load.c, sendmmsg/recvmmsg, built with cc; node when
                      there is no compiler) or node (the Node load generator sends and counts itself)`;

function fail(message: string): never {
  console.error(`bench:relay: ${message}\n${USAGE}`);
  process.exit(2);
}

export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        json: { type: 'boolean', default: false },
        quick: { type: 'boolean', default: false },
        seconds: { type: 'string' },
        fanout: { type: 'string' },
        'max-sockets': { type: 'string' },
        sessions: { type: 'string' },
        'cpu-prof': { type: 'boolean', default: false },
        'latency-runs': { type: 'string' },
        'plain-batched': { type: 'boolean', default: false },
        'memory-only': { type: 'boolean', default: false },
        'install-sessions': { type: 'string' },
        'install-only': { type: 'boolean', default: false },
        'heap-snapshots': { type: 'string' },
        'relay-node-flag': { type: 'string', multiple: true },
        'relay-env': { type: 'string', multiple: true },
        'cpu-out-pps': { type: 'string' },
        'cpu-steps': { type: 'string' },
        'cpu-only': { type: 'boolean', default: false },
        'cpu-floor': { type: 'string' },
        'load-generator': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const seconds = values.seconds === undefined ? (quick ? 1 : 3) : Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds < 0.5 || seconds > 30) fail('--seconds must be a number from 0.5 to 30');
  const fanouts = (values.fanout ?? '4,20').split(',').map((s) => Number(s.trim()));
  if (fanouts.length === 0 || fanouts.some((f) => !Number.isInteger(f) || f < 1 || f > 200)) fail('--fanout must list whole numbers from 1 to 200');
  const maxSockets = values['max-sockets'] === undefined ? (quick ? 400 : 2000) : Number(values['max-sockets']);
  if (!Number.isInteger(maxSockets) || maxSockets < 10 || maxSockets > 4000) fail('--max-sockets must be a whole number from 10 to 4000');
  if (fanouts.some((f) => f > maxSockets)) fail('every fan-out must fit in --max-sockets');
  const idleSessions = values.sessions === undefined ? (quick ? 500 : 10_000) : Number(values.sessions);
  if (!Number.isInteger(idleSessions) || idleSessions < 200 || idleSessions > 10_000) fail('--sessions must be a whole number from 200 to 10000');
  const installSessions = values['install-sessions'] === undefined ? (quick ? 500 : 4_000) : Number(values['install-sessions']);
  if (!Number.isInteger(installSessions) || installSessions < 100 || installSessions > 10_000) fail('--install-sessions must be a whole number from 100 to 10000');
  const exclusive = ['install-only', 'memory-only', 'cpu-only'].filter((name) => values[name as 'cpu-only'] === true);
  if (exclusive.length > 1) fail(`--${exclusive.join(' and --')} exclude each other`);
  const cpuOutPps = values['cpu-out-pps'] === undefined ? (quick ? 20_000 : 180_000) : Number(values['cpu-out-pps']);
  if (!Number.isInteger(cpuOutPps) || cpuOutPps < 0 || cpuOutPps > 4000 * 50) fail('--cpu-out-pps must be a whole number from 0 to 200000');
  const cpuSteps = values['cpu-steps'] === undefined ? 5 : Number(values['cpu-steps']);
  if (!Number.isInteger(cpuSteps) || cpuSteps < 1 || cpuSteps > 15) fail('--cpu-steps must be a whole number from 1 to 15');
  if (values['cpu-only'] === true && cpuOutPps === 0) fail('--cpu-only needs a --cpu-out-pps above 0');
  const cpuFloor = values['cpu-floor'] ?? 'c';
  if (cpuFloor !== 'c' && cpuFloor !== 'none') fail("--cpu-floor must be 'c' or 'none'");
  const memoryNodeFlags = values['relay-node-flag'] ?? [];
  if (memoryNodeFlags.some((f) => !f.startsWith('--'))) fail('--relay-node-flag takes a node flag such as --max-semi-space-size=1');
  const memoryEnv: Record<string, string> = {};
  for (const assignment of values['relay-env'] ?? []) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(assignment);
    if (match === null) fail('--relay-env takes NAME=value');
    memoryEnv[match[1]!] = match[2]!;
  }
  const latencyRuns = values['latency-runs'] === undefined ? (quick ? 1 : 3) : Number(values['latency-runs']);
  if (!Number.isInteger(latencyRuns) || latencyRuns < 1 || latencyRuns > 9) fail('--latency-runs must be a whole number from 1 to 9');
  const loadGenerator = values['load-generator'] ?? 'c';
  if (loadGenerator !== 'c' && loadGenerator !== 'node') fail('--load-generator must be c or node');
  return {
    json: values.json === true,
    quick,
    seconds,
    fanouts,
    maxSockets,
    relaySteps: quick ? [0.3, 0.6, 1] : [0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1],
    plainSteps: quick ? [0.5, 1] : [0.25, 0.55, 0.8, 1],
    idleSessions,
    cpuProfile: values['cpu-prof'] === true,
    latencyRuns,
    plainBatched: values['plain-batched'] === true,
    memoryOnly: values['memory-only'] === true,
    installSessions,
    installOnly: values['install-only'] === true,
    heapSnapshotDir: values['heap-snapshots'] ?? null,
    memoryNodeFlags,
    memoryEnv,
    cpuOutPps,
    cpuSteps,
    cpuOnly: values['cpu-only'] === true,
    cpuFloor,
    loadGenerator,
  };
}
