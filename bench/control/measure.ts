/**
 * Measurements of the control-plane benchmark: CPU time of the workerd processes, read from
 * /proc before and after a phase (inside workerd, timers do not advance during synchronous work,
 * so the Worker cannot time its own CPU), and latency percentiles of a phase's requests.
 */
import type { WorkerdProcesses } from '../../control/dev/local-stack/control-plane-process.js';
import { processCpuMs } from '../../control/dev/local-stack/proc.js';

/** Every process a request passes through, whose CPU the benchmark reads. */
export interface MeasuredProcesses extends WorkerdProcesses {
  /** The local libSQL server (Turso's stand-in). */
  readonly libsql: number;
}

export interface CpuReading {
  readonly runtimeMs: number;
  readonly proxyMs: number;
  readonly libsqlMs: number;
  /** This process: the benchmark's HTTP clients. */
  readonly clientMs: number;
}

export function readCpu(processes: MeasuredProcesses): CpuReading {
  const runtimeMs = processCpuMs(processes.runtime);
  if (runtimeMs === null) throw new Error('bench:control: the workerd runtime exited');
  const own = process.cpuUsage();
  return {
    runtimeMs,
    proxyMs: processes.proxy === null ? 0 : (processCpuMs(processes.proxy) ?? 0),
    libsqlMs: processCpuMs(processes.libsql) ?? 0,
    clientMs: (own.user + own.system) / 1000,
  };
}

export function cpuBetween(before: CpuReading, after: CpuReading): CpuReading {
  return {
    runtimeMs: after.runtimeMs - before.runtimeMs,
    proxyMs: after.proxyMs - before.proxyMs,
    libsqlMs: after.libsqlMs - before.libsqlMs,
    clientMs: after.clientMs - before.clientMs,
  };
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN for none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

/** Status code → count. */
export type StatusCounts = Record<string, number>;

export function countStatus(counts: StatusCounts, status: number): void {
  counts[String(status)] = (counts[String(status)] ?? 0) + 1;
}

export function serverErrors(counts: StatusCounts): number {
  return Object.entries(counts)
    .filter(([status]) => Number(status) >= 500)
    .reduce((sum, [, n]) => sum + n, 0);
}
