/**
 * What Linux's /proc says about processes: their process group, state, start time, CPU time,
 * environment and command line. The local stack uses it to stop whole process groups (wrangler
 * starts workerd and esbuild below itself), to recognise processes a killed previous run left
 * behind, and (the control-plane benchmark) to read workerd's CPU time.
 *
 * Linux only, as the rest of the local stack (README: "Node.js 20.19 or newer on Linux").
 * Reads are best effort: a process may exit between listing /proc and reading its files, and
 * another user's environment is unreadable; both read as "nothing".
 */
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat the stack reads (proc(5)). */
export interface ProcessStat {
  readonly pid: number;
  /** `comm`: the executable's name, at most 15 characters. */
  readonly command: string;
  /** R running, S sleeping, D disk, Z zombie, T stopped, … */
  readonly state: string;
  readonly parentPid: number;
  readonly processGroup: number;
  /** User-mode CPU time, in clock ticks (`utime`). */
  readonly userTicks: number;
  /** Kernel-mode CPU time, in clock ticks (`stime`). */
  readonly systemTicks: number;
  /** Clock ticks after boot when the process started (`starttime`): with the pid, a process identity. */
  readonly startTicks: number;
}

/**
 * Clock ticks per second of /proc/<pid>/stat times (sysconf(_SC_CLK_TCK)). 100 on every Linux
 * architecture Node supports; the kernel's USER_HZ is fixed at 100 for the /proc interface.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/** /proc/<pid>/stat parsed, or null if the process does not exist (any more). */
export function readProcessStat(pid: number): ProcessStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return parseProcessStat(pid, text);
}

/** The text of /proc/<pid>/stat parsed; null if it is not in that format. */
export function parseProcessStat(pid: number, text: string): ProcessStat | null {
  // comm is in parentheses and may itself contain spaces and parentheses: the last ')' ends it.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state) of proc(5); field n is fields[n - 3].
  const field = (n: number): number => Number(fields[n - 3]);
  if (fields.length < 20 || !Number.isSafeInteger(field(22))) return null;
  return {
    pid,
    command: text.slice(open + 1, close),
    state: fields[0] ?? '?',
    parentPid: field(4),
    processGroup: field(5),
    userTicks: field(14),
    systemTicks: field(15),
    startTicks: field(22),
  };
}

/** Every pid in /proc. */
export function listPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry)) pids.push(Number(entry));
  }
  return pids;
}

/** Live (not zombie) members of a process group. */
export function processGroupMembers(processGroup: number): ProcessStat[] {
  const members: ProcessStat[] = [];
  for (const pid of listPids()) {
    const stat = readProcessStat(pid);
    if (stat !== null && stat.processGroup === processGroup && stat.state !== 'Z') members.push(stat);
  }
  return members;
}

/** Live descendants of a process (children, their children, …), from the parent links in /proc. */
export function processDescendants(pid: number): ProcessStat[] {
  const byParent = new Map<number, ProcessStat[]>();
  for (const other of listPids()) {
    const stat = readProcessStat(other);
    if (stat === null || stat.state === 'Z') continue;
    const siblings = byParent.get(stat.parentPid) ?? [];
    siblings.push(stat);
    byParent.set(stat.parentPid, siblings);
  }
  const found: ProcessStat[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of byParent.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/** True if the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = readProcessStat(pid);
  return stat !== null && stat.state !== 'Z';
}

/** The process's environment, or null when unreadable (gone, or another user's). */
export function readProcessEnvironment(pid: number): Map<string, string> | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return null;
  }
  const environment = new Map<string, string>();
  for (const entry of text.split('\0')) {
    const equals = entry.indexOf('=');
    if (equals > 0) environment.set(entry.slice(0, equals), entry.slice(equals + 1));
  }
  return environment;
}

/** The command line, arguments joined by spaces and cut to `maxLength`; '' when unreadable. */
export function readCommandLine(pid: number, maxLength = 160): string {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
  const line = text.split('\0').filter((part) => part !== '').join(' ');
  return line.length > maxLength ? `${line.slice(0, maxLength - 1)}…` : line;
}

/** CPU time (user + system) of a process, in milliseconds; null if it is gone. */
export function processCpuMs(pid: number): number | null {
  const stat = readProcessStat(pid);
  if (stat === null) return null;
  return ((stat.userTicks + stat.systemTicks) * 1000) / CLOCK_TICKS_PER_SECOND;
}
