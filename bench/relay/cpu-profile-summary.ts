/**
 * Top self-time functions of a V8 .cpuprofile (written by `node --cpu-prof`), optionally only
 * for samples inside a time window — the benchmark passes the window of one load step, so
 * startup and session installs do not drown the packet path.
 *
 * Standalone: `tsx bench/relay/cpu-profile-summary.ts <file.cpuprofile> [top]`.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** The parts of a V8 .cpuprofile (node --cpu-prof, or the DevTools Profiler domain) read here and in bench/control/room-profile.ts. */
export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

export interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  /** Microseconds, on the same monotonic clock as process.hrtime (Linux). */
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Sample i's weight, µs: the gap to the next sample (the last one gets the previous gap). */
export function sampleWeight(profile: CpuProfile, i: number): number {
  return profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
}

export interface ProfileEntry {
  readonly function: string;
  /** Repository-relative file and line, or a V8 pseudo-frame such as (garbage collector). */
  readonly location: string;
  readonly self_ms: number;
  readonly self_percent: number;
}

export interface ProfileSummary {
  readonly window_ms: number;
  readonly sampled_ms: number;
  /** Share of the window the process was idle (waiting for I/O). */
  readonly idle_percent: number;
  readonly top: readonly ProfileEntry[];
}

function shortLocation(frame: CallFrame, root: string): string {
  if (frame.url === '') return '';
  let file = frame.url.replace(/^file:\/\//, '');
  if (file.startsWith(root)) file = file.slice(root.length + 1);
  file = file.replace(/^.*node_modules\//, 'node_modules/');
  // Code loaded through tsx reports line 0 (positions are in the transformed source): file only.
  return frame.lineNumber > 0 ? `${file}:${frame.lineNumber + 1}` : file;
}

/**
 * Self time per function (same name and location summed). `window` is [start, end] in µs on the
 * profile's clock; samples outside it are ignored.
 */
export function summariseCpuProfile(path: string, options: { top?: number; window?: readonly [number, number]; root?: string } = {}): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const root = options.root ?? process.cwd();
  const [from, to] = options.window ?? [profile.startTime, profile.endTime];
  const selfUs = new Map<string, { fn: string; location: string; us: number }>();
  let time = profile.startTime;
  let total = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i] ?? 0;
    if (time < from || time > to) continue;
    const weight = sampleWeight(profile, i);
    const node = byId.get(profile.samples[i]!);
    if (node === undefined) continue;
    const fn = node.callFrame.functionName || '(anonymous)';
    total += weight;
    if (fn === '(idle)') {
      idle += weight;
      continue;
    }
    const location = shortLocation(node.callFrame, root);
    const key = `${fn}@${location}`;
    const entry = selfUs.get(key) ?? { fn, location, us: 0 };
    entry.us += weight;
    selfUs.set(key, entry);
  }
  const busy = total - idle;
  const top = [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, options.top ?? 15)
    .map((e) => ({ function: e.fn, location: e.location, self_ms: Math.round(e.us / 100) / 10, self_percent: busy > 0 ? Math.round((1000 * e.us) / busy) / 10 : 0 }));
  return {
    window_ms: Math.round((to - from) / 1000),
    sampled_ms: Math.round(total / 1000),
    idle_percent: total > 0 ? Math.round((1000 * idle) / total) / 10 : 0,
    top,
  };
}

export function formatProfileSummary(summary: ProfileSummary): string {
  const lines = [`self time, ${summary.sampled_ms} ms sampled, ${summary.idle_percent}% idle; share of busy time:`];
  for (const e of summary.top) {
    lines.push(`  ${e.self_percent.toFixed(1).padStart(5)}%  ${e.function.padEnd(36).slice(0, 36)}  ${e.location}`);
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (file === undefined) {
    console.error('usage: tsx bench/relay/cpu-profile-summary.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(formatProfileSummary(summariseCpuProfile(file, { top: Number(process.argv[3] ?? 20) })));
}
