/** The control-plane benchmark's results: the data, and the tables printed from it. */
import type { CpuReading, StatusCounts } from './measure.js';

export interface SerialResult {
  readonly name: string;
  readonly requests: number;
  readonly cpu: CpuReading;
  /** Worker CPU per request, ms (runtime workerd). */
  readonly runtimeCpuMsPerRequest: number;
  /** wrangler dev's proxy CPU per request, ms. */
  readonly proxyCpuMsPerRequest: number;
  /** The local libSQL server's CPU per request, ms. */
  readonly libsqlCpuMsPerRequest: number;
  /** The benchmark's own (client) CPU per request, ms. */
  readonly clientCpuMsPerRequest: number;
  readonly wallMsP50: number;
  readonly wallMsP99: number;
  readonly statuses: StatusCounts;
  readonly stoppedBy: 'count' | 'time';
}

export interface LoadResult {
  readonly name: string;
  readonly clients: number;
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly runtimeCpuMsPerRequest: number;
  readonly proxyCpuMsPerRequest: number;
  readonly libsqlCpuMsPerRequest: number;
  readonly clientCpuMsPerRequest: number;
  readonly statuses: StatusCounts;
  readonly stoppedBy: 'count' | 'time';
}

export interface ControlBenchReport {
  readonly date: string;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly memoryGiB: number; readonly kernel: string };
  readonly versions: { readonly node: string; readonly wrangler: string; readonly workerd: string };
  readonly passwordHash: { readonly algorithm: 'argon2id'; readonly memoryKib: number; readonly iterations: number; readonly parallelism: number };
  /** CPU the runtime workerd used per second while idle, ms: the floor under every figure. */
  readonly idleRuntimeCpuMsPerSecond: number;
  /** /proc CPU times count in ticks of this many ms. */
  readonly cpuTickMs: number;
  readonly serial: readonly SerialResult[];
  /** Worker CPU of a token verification alone: GET /v1/me minus GET /healthz, ms. */
  readonly verificationCpuMs: number;
  readonly load: readonly LoadResult[];
  readonly serverErrors: number;
  readonly notes: readonly string[];
}

function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function statuses(counts: StatusCounts): string {
  return Object.entries(counts)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([status, n]) => `${status}×${n}`)
    .join(' ');
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function formatReport(report: ControlBenchReport): string {
  const out: string[] = [];
  out.push(`bench:control — the control plane in wrangler dev (workerd ${report.versions.workerd}, wrangler ${report.versions.wrangler}) on the local libSQL server`);
  out.push(`${report.date}; ${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.memoryGiB} GiB; Linux ${report.machine.kernel}; node ${report.versions.node}`);
  out.push(
    `Argon2id m=${report.passwordHash.memoryKib} KiB, t=${report.passwordHash.iterations}, p=${report.passwordHash.parallelism} (production parameters); ` +
      `idle workerd ${fixed(report.idleRuntimeCpuMsPerSecond)} ms CPU/s; CPU from /proc utime+stime (${report.cpuTickMs} ms ticks)`,
  );
  out.push('');
  out.push('CPU per request, one request at a time. worker: the workerd running the Worker and its Durable Objects;');
  out.push("proxy: wrangler dev's local proxy in front of it; libSQL: the local libSQL server; client: this benchmark.");
  out.push('A deployment pays the worker column only (and Turso, remotely).');
  out.push(
    table(
      ['request', 'n', 'worker CPU ms', 'proxy', 'libSQL', 'client', 'wall p50 ms', 'wall p99 ms', 'statuses'],
      report.serial.map((s) => [
        `${s.name}${s.stoppedBy === 'time' ? ' (time limit)' : ''}`,
        String(s.requests),
        fixed(s.runtimeCpuMsPerRequest),
        fixed(s.proxyCpuMsPerRequest),
        fixed(s.libsqlCpuMsPerRequest),
        fixed(s.clientCpuMsPerRequest),
        fixed(s.wallMsP50, 1),
        fixed(s.wallMsP99, 1),
        statuses(s.statuses),
      ]),
    ),
  );
  out.push(`token verification alone (GET /v1/me − GET /healthz): ${fixed(report.verificationCpuMs)} ms worker CPU`);
  out.push('');
  out.push('Latency under concurrent clients (each client: one request at a time, its own login):');
  out.push(
    table(
      ['request', 'clients', 'n', 'seconds', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'worker CPU ms', 'proxy', 'libSQL', 'client', 'statuses'],
      report.load.map((l) => [
        `${l.name}${l.stoppedBy === 'time' ? ' (time limit)' : ''}`,
        String(l.clients),
        String(l.requests),
        fixed(l.seconds, 1),
        fixed(l.requestsPerSecond, 0),
        fixed(l.p50Ms, 1),
        fixed(l.p99Ms, 1),
        fixed(l.maxMs, 1),
        fixed(l.runtimeCpuMsPerRequest),
        fixed(l.proxyCpuMsPerRequest),
        fixed(l.libsqlCpuMsPerRequest),
        fixed(l.clientCpuMsPerRequest),
        statuses(l.statuses),
      ]),
    ),
  );
  out.push(`5xx answers: ${report.serverErrors}`);
  out.push('');
  for (const note of report.notes) out.push(`Note: ${note}`);
  return out.join('\n');
}
