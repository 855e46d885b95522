/** The control-plane benchmark's results: the data, and the tables printed from it. */
import type { CpuReading, StatusCounts } from './measure.js';
import type { VoiceReport } from './voice-phases.js';

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
  /** The channel room: the key exchange and joins (voice-phases.ts). */
  readonly voice: VoiceReport;
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

function failures(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? 'none' : entries.map(([code, n]) => `${code}×${n}`).join(' ');
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
  out.push('');
  const voice = report.voice;
  out.push("The channel's room (its Durable Object): one operation at a time; the relay's CPU beside workerd's (its round trips are in the wall times only):");
  out.push(
    table(
      ['operation', 'n', 'worker CPU ms', 'relay', 'libSQL', 'wall p50 ms', 'wall p99 ms', 'failures'],
      voice.serial.map((s) => [
        `${s.name}${s.stoppedBy === 'time' ? ' (time limit)' : ''}`,
        String(s.operations),
        fixed(s.runtimeCpuMsPerOperation),
        fixed(s.relayCpuMsPerOperation),
        fixed(s.libsqlCpuMsPerOperation),
        fixed(s.wallMsP50, 1),
        fixed(s.wallMsP99, 1),
        failures(s.failures),
      ]),
    ),
  );
  const minOperations = Math.max(1, Math.min(...voice.serial.map((r) => r.operations)));
  out.push(
    `key exchange in the room (a rotation: request_rekey and the exchange, with its relay call): ${fixed(voice.exchangeCpuMs)} ms worker CPU; ` +
      `without the relay round trip: ${fixed(voice.exchangeWithoutRelayCallCpuMs)} ms, target ≤ ${voice.exchangeCpuTargetMs} ms (${fixed(voice.exchangeWithoutRelayCallCpuMs / voice.exchangeCpuTargetMs)}× the target); ` +
      `a join beyond its authentication (join and leave − authenticate): ${fixed(voice.joinBeyondAuthCpuMs)} ms`,
  );
  out.push(
    `  the floors under it: a room message each way (ping with an id) ${fixed(voice.messageFloorCpuMs)} ms; a member's change to the room's sockets (speaking − ping) ${fixed(voice.presenceCpuMs)} ms; ` +
      `one signed relay call (mute − speaking) ${fixed(voice.relayCallCpuMs)} ms; the exchange beyond its relay call, its 3 messages and its presence: ${fixed(voice.exchangeBeyondFloorsCpuMs)} ms` +
      // /proc counts CPU in 10 ms ticks: over n operations a phase's figure is good to 10/n ms.
      ` (10 ms CPU ticks over ${minOperations} operations: each figure ±${fixed(10 / minOperations)} ms, each difference ±${fixed(20 / minOperations)} ms)`,
  );
  const c = voice.crypto;
  out.push(
    `  of which its crypto steps (their CPU in this Node process, same V8): the exchange (X25519 key pair and agreement, §3 key schedule) ${fixed(c.exchangeMs)} ms, ` +
      `the confirmation check ${fixed(c.confirmMs)} ms, sealing the keys to the relay (WebCrypto X25519 as the room does, HKDF, AES-GCM) ${fixed(c.sealMs)} ms, signing the relay request ${fixed(c.signMs)} ms; ` +
      'the rest is the room\'s I/O (messages, the database for the SSRC and the relay, storage, the fetch to the relay)',
  );
  const l = voice.load;
  out.push(
    `joins one room sustains: ${fixed(l.joinsPerSecond, 1)}/s (${l.joins} joins in ${fixed(l.seconds, 1)} s${l.stoppedBy === 'time' ? ', time limit' : ''}; ${l.clients} members joining and leaving at once); ` +
      `join p50 ${fixed(l.joinMsP50, 1)} ms, p99 ${fixed(l.joinMsP99, 1)} ms, max ${fixed(l.joinMsMax, 1)} ms; worker CPU ${fixed(l.runtimeCpuMsPerJoin)} ms, relay ${fixed(l.relayCpuMsPerJoin)} ms per join and leave; failures: ${failures(l.failures)}`,
  );
  out.push('');
  out.push(`5xx answers: ${report.serverErrors}; failed room operations: ${voice.failures}`);
  out.push('');
  for (const note of report.notes) out.push(`Note: ${note}`);
  return out.join('\n');
}
