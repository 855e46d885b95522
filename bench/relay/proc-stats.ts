/**
 * What the benchmark reads about other processes from /proc (Linux only): CPU time, resident
 * memory, open file descriptors, and per-socket UDP drop counters. Read between measurement windows, never per packet.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every common Linux). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds a process has used so far (proc(5): fields 14 and 15 of stat). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicksPerSecond();
}

/** VmRSS of a process, bytes. */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (match === null) throw new Error(`proc-stats: no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** A CPU-time sampler for one process: cores used between two calls. */
export class CpuMeter {
  #cpu: number;
  #wall: bigint;

  constructor(private readonly read: () => number) {
    this.#cpu = read();
    this.#wall = process.hrtime.bigint();
  }

  static forPid(pid: number): CpuMeter {
    return new CpuMeter(() => processCpuSeconds(pid));
  }

  static forSelf(): CpuMeter {
    return new CpuMeter(() => {
      const usage = process.cpuUsage();
      return (usage.user + usage.system) / 1e6;
    });
  }

  /** Cores used since construction or the previous call (CPU seconds ÷ wall seconds). */
  lap(): { cores: number; cpuSeconds: number; wallSeconds: number } {
    const cpu = this.read();
    const wall = process.hrtime.bigint();
    const cpuSeconds = cpu - this.#cpu;
    const wallSeconds = Number(wall - this.#wall) / 1e9;
    this.#cpu = cpu;
    this.#wall = wall;
    return { cores: wallSeconds > 0 ? cpuSeconds / wallSeconds : 0, cpuSeconds, wallSeconds };
  }
}

/**
 * Kernel receive-queue drops per local UDP port on IPv4 (/proc/net/udp, last column). A drop on
 * the relay's port means the relay fell behind; on a listener's port, the load generator did.
 */
export function udpDropsByPort(): Map<number, number> {
  const drops = new Map<number, number>();
  let text: string;
  try {
    text = readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return drops;
  }
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const columns = lines[i]!.trim().split(/\s+/);
    if (columns.length < 13) continue;
    const local = columns[1]!;
    const port = parseInt(local.slice(local.indexOf(':') + 1), 16);
    drops.set(port, (drops.get(port) ?? 0) + Number(columns[columns.length - 1]));
  }
  return drops;
}

/** Sums drops over `ports`. */
export function sumDrops(byPort: ReadonlyMap<number, number>, ports: Iterable<number>): number {
  let total = 0;
  for (const port of ports) total += byPort.get(port) ?? 0;
  return total;
}

/** Busy CPU seconds per core so far (/proc/stat cpuN lines: everything but idle and iowait). */
export function coreBusySeconds(): number[] {
  const busy: number[] = [];
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return busy;
  }
  for (const line of text.split('\n')) {
    const match = /^cpu(\d+) (.*)$/.exec(line);
    if (match === null) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = match[2]!.trim().split(/\s+/).map(Number);
    void idle;
    void iowait;
    busy[Number(match[1])] = ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / clockTicksPerSecond();
  }
  return busy;
}

/** Open file descriptors of a process: the entries of /proc/<pid>/fd (sockets, pipes, files). */
export function openFileDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
