/**
 * `npm run bench:control` — what the control plane's account routes cost, in `wrangler dev`
 * (workerd) on the local libSQL server, both started with npm start's own module
 * (control/dev/local-stack/) on ephemeral ports and a throwaway state directory, with its relay
 * (the room installs voice sessions on it).
 *
 * 1. CPU per request, one request at a time: GET /healthz (the floor: routing, config, the
 *    log line), login (one Argon2id with the production parameters), refresh (rotation in one
 *    database batch), GET /v1/me (token verification and the live-login check). CPU is read
 *    from /proc for the workerd process that runs the Worker, before and after each phase:
 *    inside workerd, timers do not advance during synchronous work, so the Worker cannot time
 *    its own CPU.
 * 2. Latency of GET /v1/me and of refreshes under concurrent clients (50 by default), each with
 *    its own login, counting every status code; any 5xx makes the run exit 1.
 *
 * 3. The channel's room (bench/control/voice-phases.ts): CPU per key exchange (target ≤ 2 ms) and
 *    per join, against the stack's relay, and the joins one room sustains.
 *
 * Every phase is bounded in requests and in seconds. Logins run one at a time: locally one
 * isolate hashes passwords serially, so concurrent logins would measure a queue, not a
 * deployment (which runs many isolates). Throttle limits are raised for the run: every request
 * comes from one address. A benchmark, not a test: it prints figures (`--json` for one object).
 * Run it under `flock /work/team/bench.lock` on a shared machine; other work may share the CPU.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { REPO_ROOT } from '../control/dev/local-paths.js';
import { EPHEMERAL_PORTS, startLocalStack, type LocalStack } from '../control/dev/local-stack/local-stack.js';
import { CLOCK_TICKS_PER_SECOND } from '../control/dev/local-stack/proc.js';
import { OWASP_ARGON2ID } from '../control/src/config.js';
import { ControlClient, expectValue, type Timed, type TokenPair } from './control/control-client.js';
import { countStatus, cpuBetween, percentile, readCpu, serverErrors, type StatusCounts, type MeasuredProcesses } from './control/measure.js';
import { parseControlBenchOptions, type ControlBenchOptions } from './control/options.js';
import { formatReport, type ControlBenchReport, type LoadResult, type SerialResult } from './control/report.js';
import { runVoicePhases } from './control/voice-phases.js';

const HIGH_LIMIT = '1000000';

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

function version(pkg: string): string {
  return (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Runs `op` up to `count` times one after another, within `seconds`; reads worker CPU around it. */
async function serialPhase(name: string, count: number, seconds: number, workerd: MeasuredProcesses, op: (i: number) => Promise<Timed<unknown>>): Promise<SerialResult> {
  progress(`  ${name}: ${count} requests, one at a time…`);
  const statuses: StatusCounts = {};
  const wall: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const before = readCpu(workerd);
  let i = 0;
  for (; i < count && performance.now() < deadline; i++) {
    const timed = await op(i);
    wall.push(timed.ms);
    countStatus(statuses, timed.status);
  }
  const cpu = cpuBetween(before, readCpu(workerd));
  return {
    name,
    requests: i,
    cpu,
    runtimeCpuMsPerRequest: cpu.runtimeMs / i,
    proxyCpuMsPerRequest: cpu.proxyMs / i,
    libsqlCpuMsPerRequest: cpu.libsqlMs / i,
    clientCpuMsPerRequest: cpu.clientMs / i,
    wallMsP50: percentile(wall, 50),
    wallMsP99: percentile(wall, 99),
    statuses,
    stoppedBy: i < count ? 'time' : 'count',
  };
}

/**
 * `clients` loops, each sending one request at a time with `op(client)`, until `maxRequests`
 * were sent in all or `seconds` passed; `op` returning false ends that client.
 */
async function loadPhase(
  name: string,
  clients: number,
  maxRequests: number,
  seconds: number,
  workerd: MeasuredProcesses,
  op: (client: number) => Promise<{ timed: Timed<unknown>; goOn: boolean }>,
): Promise<LoadResult> {
  progress(`  ${name}: ${clients} concurrent clients, up to ${maxRequests} requests or ${seconds} s…`);
  const statuses: StatusCounts = {};
  const latencies: number[] = [];
  let issued = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const before = readCpu(workerd);
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (issued < maxRequests && performance.now() < deadline) {
        issued++;
        const { timed, goOn } = await op(client);
        latencies.push(timed.ms);
        countStatus(statuses, timed.status);
        if (!goOn) return;
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  const cpu = cpuBetween(before, readCpu(workerd));
  return {
    name,
    clients,
    requests: latencies.length,
    seconds: elapsedS,
    requestsPerSecond: latencies.length / elapsedS,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: Math.max(...latencies),
    runtimeCpuMsPerRequest: cpu.runtimeMs / latencies.length,
    proxyCpuMsPerRequest: cpu.proxyMs / latencies.length,
    libsqlCpuMsPerRequest: cpu.libsqlMs / latencies.length,
    clientCpuMsPerRequest: cpu.clientMs / latencies.length,
    statuses,
    stoppedBy: latencies.length < maxRequests ? 'time' : 'count',
  };
}

async function runBench(options: ControlBenchOptions, stack: LocalStack): Promise<ControlBenchReport> {
  const client = new ControlClient(stack.control.url);
  const workerds = stack.control.workerd();
  if (workerds === null) throw new Error('bench:control: no workerd with --inspector-addr below wrangler dev');
  const workerd: MeasuredProcesses = { ...workerds, libsql: stack.libsql.process.pid };
  const seconds = options.phaseSeconds;

  // One account; every login of it is a login (a refresh family) of its own.
  const username = `bench_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  expectValue('register', await client.register(username, password));

  // Warm up every path (modules, the first database requests, the throttle object).
  const warm = expectValue('login', await client.login(username, password));
  for (let i = 0; i < 20; i++) await client.healthz();
  for (let i = 0; i < 20; i++) await client.me(warm.accessToken);
  let warmRefresh = warm.refreshToken;
  for (let i = 0; i < 10; i++) warmRefresh = expectValue('refresh', await client.refresh(warmRefresh)).refreshToken;

  progress('  idle: 2 s…');
  const idleBefore = readCpu(workerd);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const idleRuntimeCpuMsPerSecond = cpuBetween(idleBefore, readCpu(workerd)).runtimeMs / 2;

  const logins: TokenPair[] = [];
  const serial: SerialResult[] = [];
  serial.push(await serialPhase('GET /healthz (floor)', options.verifications, seconds, workerd, () => client.healthz()));
  serial.push(
    await serialPhase('POST /v1/auth/login', options.logins, seconds, workerd, async () => {
      const timed = await client.login(username, password);
      if (timed.value !== null) logins.push(timed.value);
      return timed;
    }),
  );
  let chain = expectValue('login', await client.login(username, password)).refreshToken;
  serial.push(
    await serialPhase('POST /v1/auth/refresh', options.refreshes, seconds, workerd, async () => {
      const timed = await client.refresh(chain);
      if (timed.value !== null) chain = timed.value.refreshToken;
      return timed;
    }),
  );
  const meToken = logins[0]?.accessToken ?? warm.accessToken;
  serial.push(await serialPhase('GET /v1/me', options.verifications, seconds, workerd, () => client.me(meToken)));
  const healthz = serial[0]!;
  const me = serial[3]!;

  if (logins.length < options.clients) throw new Error(`bench:control: only ${logins.length} logins succeeded; ${options.clients} clients need one each`);
  const pairs = logins.slice(0, options.clients).map((pair) => ({ ...pair }));
  const load: LoadResult[] = [];
  load.push(
    await loadPhase('GET /v1/me', options.clients, options.loadRequests, seconds, workerd, async (c) => {
      const timed = await client.me(pairs[c]!.accessToken);
      return { timed, goOn: true };
    }),
  );
  load.push(
    await loadPhase('POST /v1/auth/refresh', options.clients, options.loadRequests, seconds, workerd, async (c) => {
      const timed = await client.refresh(pairs[c]!.refreshToken);
      if (timed.value === null) return { timed, goOn: false };
      pairs[c] = timed.value;
      return { timed, goOn: true };
    }),
  );

  const voice = await runVoicePhases(
    client,
    {
      controlUrl: stack.control.url,
      operatorKey: stack.operatorKey.key,
      relayPid: stack.relay!.process.pid,
      count: options.exchanges,
      clients: options.roomClients,
      joins: options.roomJoins,
      phaseSeconds: seconds,
    },
    workerd,
  );

  const cpu = cpus();
  const report: ControlBenchReport = {
    date: new Date().toISOString(),
    machine: { cpu: cpu[0]?.model.trim() ?? 'unknown', cores: cpu.length, memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release() },
    versions: { node: process.version, wrangler: version('wrangler'), workerd: version('workerd') },
    passwordHash: { algorithm: 'argon2id', memoryKib: OWASP_ARGON2ID.memoryKib, iterations: OWASP_ARGON2ID.iterations, parallelism: OWASP_ARGON2ID.parallelism },
    idleRuntimeCpuMsPerSecond,
    cpuTickMs: 1000 / CLOCK_TICKS_PER_SECOND,
    serial,
    verificationCpuMs: me.runtimeCpuMsPerRequest - healthz.runtimeCpuMsPerRequest,
    load,
    voice,
    serverErrors: [...serial, ...load].reduce((sum, phase) => sum + serverErrors(phase.statuses), 0),
    notes: [
      'logins were measured one at a time: locally one workerd isolate hashes passwords serially, so concurrent logins would only queue; a deployment spreads them over many isolates.',
      'every figure includes wrangler dev and the local libSQL server on this machine; a deployment reaches Turso over the network instead. Other work on the machine may have shared the CPU.',
    ],
  };
  return report;
}

async function main(): Promise<number> {
  const options = parseControlBenchOptions(process.argv.slice(2));
  const stateDir = mkdtempSync(join(tmpdir(), 'parley-bench-control-'));
  let stack: LocalStack | null = null;
  const stopOnSignal = () => {
    void stack?.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    progress('bench:control: starting the local libSQL server, wrangler dev and the relay…');
    stack = await startLocalStack({
      stateDir,
      ports: EPHEMERAL_PORTS,
      relay: { relayId: 'bench-relay', environment: { RELAY_LOG_LEVEL: 'warn' } },
      controlBindings: {
        // Every request comes from one address here; the throttles would otherwise stop the run.
        THROTTLE_LOGIN_PER_ACCOUNT_FREE_ATTEMPTS: HIGH_LIMIT,
        THROTTLE_LOGIN_PER_ADDRESS_FREE_ATTEMPTS: HIGH_LIMIT,
        THROTTLE_REGISTER_PER_ADDRESS_FREE_ATTEMPTS: HIGH_LIMIT,
      },
      log: (line) => progress(`  ${line.trim()}`),
    });
    progress('bench:control: measuring…');
    const report = await runBench(options, stack);
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    return report.serverErrors === 0 && report.voice.failures === 0 ? 0 : 1;
  } finally {
    await stack?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:control: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
