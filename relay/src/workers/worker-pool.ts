/**
 * The main thread's side of the relay workers: starts one worker thread per configured worker
 * (worker-thread.ts), each on its own UDP port, and routes session changes to them.
 *
 * - A channel lives on exactly one worker, `workerForChannel(channelId, N)` (channel-shard.ts);
 *   an install goes there, and the answer names that worker's port and public endpoint.
 * - `#sessions` maps session id → worker (and channel and profile) for update, rotate and
 *   revoke. An entry goes when a revoke succeeds, when its worker says the session ended on its
 *   own (expiry, idleness), or when its worker dies, so the map cannot leak.
 * - The relay-wide limits (RELAY_MAX_SESSIONS, RELAY_MAX_CHANNELS) and session-id uniqueness
 *   are checked here, where every worker's sessions are known; SSRC uniqueness is checked by
 *   each worker for its own shard, which is what GCM nonce safety needs (docs/protocol.md §6.6).
 * - Keys are packed into a fresh buffer and transferred, before the first await, so the caller
 *   can wipe its copies as soon as `install`/`rotate` returns a promise.
 * - A worker that leaves a request unanswered for REQUEST_TIMEOUT_MS, or a liveness ping for
 *   LIVENESS_TIMEOUT_MS (one goes to every worker each LIVENESS_INTERVAL_MS, so a hung worker is
 *   found even when nobody asks it anything), is hung: its requests fail with
 *   WorkerUnavailableError and it is terminated, which takes the path below.
 * - A worker that exits unexpectedly is logged, its pending requests fail with
 *   WorkerUnavailableError, its sessions are forgotten and reported lost (the heartbeat tells the
 *   control plane, which re-keys them), and `healthy` turns false, which /healthz reports. Its
 *   keys went with its thread: the addon cleanses its secret memory and cipher contexts as the
 *   thread's environment is torn down (relay/native/src/parley_keys.c). Then a new worker is
 *   started on the same port, retried with backoff until it listens; once it does, its channels
 *   take sessions again and `healthy` is true again. Its last counters are kept, so metrics never
 *   go down.
 */
import { Worker } from 'node:worker_threads';
import { MAX_REPORTED_SESSIONS, type RelaySessionSummary } from '../../../shared/relay-api/messages.js';
import type { SrtpProfileName } from '../../../shared/srtp/profiles.js';
import { workerForChannel } from './channel-shard.js';
import { workerPublicEndpoint, type RelayConfig, type RelayEndpoint } from '../config.js';
import { emptyPacketStats, sumPacketStats } from '../media/packet-stats.js';
import { WorkerUnavailableError, type SessionDirectory, type SessionPlacement, type SessionState } from '../media/session-directory.js';
import { InstallRefusedError } from '../media/session-registry.js';
import type { SessionKeyMaterial, SessionPatch, SessionSpec } from '../media/session-spec.js';
import { packSessionKeys, type WorkerThreadInit, type WorkerMessage, type WorkerReplies, type WorkerRequest, type WorkerStats } from './worker-protocol.js';

/** How often each worker checks expiry, idleness and rotation overlaps. */
const SWEEP_INTERVAL_MS = 250;
/** Kernel socket buffers, per worker: a few hundred milliseconds of traffic at full load. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/**
 * Each worker's young generation (V8's nursery), MiB. The packet path allocates almost nothing
 * per datagram (two small views), so a small nursery costs no latency, while V8's default lets
 * each isolate grow it to 32 MiB or more on a burst of session installs and keep it committed:
 * with one worker per core that is tens of MiB of RSS per machine doing nothing. Measured with
 * `npm run bench:relay -- --memory-only`: 4.1–4.9 KB RSS per idle session uncapped, 2.2–3.5 KB
 * at 8 MiB (docs/performance.md, "Memory").
 */
const WORKER_YOUNG_GENERATION_MB = 8;
/** A scrape waits this long for a worker's counters, then uses the last ones it has. */
const STATS_TIMEOUT_MS = 2_000;
/** close() waits this long for a worker to wipe its keys and exit, then terminates it. */
const CLOSE_TIMEOUT_MS = 5_000;
/**
 * A worker that has not answered a request after this long is hung, not busy: its event loop
 * turns at least every few hundred datagrams (datagram-receiver.ts bounds a readiness event), so
 * a healthy worker answers in milliseconds even under overload. It is terminated and handled
 * as a crash, rather than leaving the control plane's requests for its channels hanging.
 */
const REQUEST_TIMEOUT_MS = 10_000;
/** Every worker gets a liveness ping this often. */
const LIVENESS_INTERVAL_MS = 1_000;
/** A liveness ping unanswered this long means the worker is hung (a healthy one answers in ms). */
const LIVENESS_TIMEOUT_MS = 5_000;
/** A replacement worker that fails to start is tried again after this, doubling up to the cap. */
const RESTART_BACKOFF_MS = 100;
const MAX_RESTART_BACKOFF_MS = 5_000;

export interface WorkerPoolLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface WorkerPoolOptions {
  /**
   * Another worker module (plain JavaScript), speaking worker-protocol.ts. Tests use one to
   * make a worker die on cue; the relay always runs worker-thread.
   */
  readonly workerScript?: URL;
  /** How long a request may wait for its worker before the worker is declared hung (tests shorten it). */
  readonly requestTimeoutMs?: number;
  /** Liveness ping period and timeout (tests shorten them). */
  readonly livenessIntervalMs?: number;
  readonly livenessTimeoutMs?: number;
  /** Called when a worker's exit lost sessions, so the relay can tell the control plane at once. */
  readonly onSessionsLost?: (sessionIds: readonly string[]) => void;
}

/** What the heartbeat carries from the workers (docs/protocol.md §8.6). */
export interface SessionReport {
  readonly rekeyRequested: readonly string[];
  readonly lostSessions: readonly string[];
}

/** What a worker said about itself when it started. */
export interface WorkerInfo {
  readonly index: number;
  readonly udpPort: number;
  readonly udpEndpoint: RelayEndpoint;
  readonly srtpBackend: string;
  readonly srtpFallback: string | null;
  readonly batchingUnavailable: string | null;
  readonly batchedInputUnavailable: string | null;
}

interface SessionEntry {
  readonly worker: number;
  readonly channelId: string;
  readonly profile: SrtpProfileName;
}

type RequestOf<T extends WorkerRequest['type']> = Omit<Extract<WorkerRequest, { type: T }>, 'id'>;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  readonly timer: NodeJS.Timeout;
}

/** One worker thread and its requests in flight. */
class WorkerHandle {
  readonly pending = new Map<number, Pending>();
  /** Counters from the last scrape; kept after an exit so totals never go down. */
  lastStats: WorkerStats = { sessions: 0, channels: 0, packets: emptyPacketStats() };
  running = true;
  /** Set by close(): an exit from then on is expected. */
  closing = false;
  /** Set when a request went unanswered and the thread is being terminated. */
  hung = false;
  #nextId = 1;

  constructor(
    readonly info: WorkerInfo,
    readonly thread: Worker,
    private readonly requestTimeoutMs: number,
    /** Called once when a request goes unanswered for requestTimeoutMs: the worker is hung. */
    private readonly onHung: (worker: WorkerHandle) => void,
  ) {}

  /** A liveness ping is in flight (one at a time). */
  pinging = false;

  /** Posts a request; `transfer` (packed keys) moves to the worker, or is wiped if it cannot. */
  request<T extends WorkerRequest['type']>(message: RequestOf<T>, transfer: ArrayBuffer[] = [], timeoutMs = this.requestTimeoutMs): Promise<WorkerReplies[T]> {
    if (!this.running) {
      for (const buffer of transfer) new Uint8Array(buffer).fill(0);
      return Promise.reject(new WorkerUnavailableError(this.info.index));
    }
    const id = this.#nextId++;
    return new Promise<WorkerReplies[T]>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(id)) return;
        reject(new WorkerUnavailableError(this.info.index));
        this.onHung(this);
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.thread.postMessage({ ...message, id }, transfer);
    });
  }

  settle(message: Extract<WorkerMessage, { type: 'reply' }>): void {
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.ok) pending.resolve(message.value);
    else pending.reject(new InstallRefusedError(message.refusal));
  }

  failPending(): void {
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new WorkerUnavailableError(this.info.index));
    }
    this.pending.clear();
  }
}

/**
 * The URL and options that start worker-thread in a thread: the compiled .js in the image, the
 * .ts source under tsx in development. tsx's module hooks do not reach worker threads on Node 20,
 * so from source the worker first registers them itself.
 */
function workerEntry(): { entry: URL | string; eval: boolean; execArgv: string[] } {
  const execArgv = workerExecArgv(process.execArgv);
  if (!import.meta.url.endsWith('.ts')) return { entry: new URL('./worker-thread.js', import.meta.url), eval: false, execArgv };
  const tsx = import.meta.resolve('tsx/esm/api');
  const worker = new URL('./worker-thread.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(worker)}); });`;
  return { entry: code, eval: true, execArgv };
}

/**
 * The only environment variables a worker gets (a copy of each, if set). A worker thread
 * otherwise starts with a copy of the whole process environment, RELAY_PRIVATE_KEY,
 * RELAY_API_KEYS and RELAY_CONTROL_KEY included; the packet path needs none of them.
 * PARLEY_RELAY_ADDON points the addon loader at another build (the sanitizer tests).
 */
export const WORKER_ENV_VARIABLES = ['NODE_ENV', 'TZ', 'PARLEY_RELAY_ADDON'] as const;

/** `env` for a relay worker: WORKER_ENV_VARIABLES taken from `env`, nothing else. */
export function workerEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of WORKER_ENV_VARIABLES) {
    const value = env[name];
    if (value !== undefined) kept[name] = value;
  }
  return kept;
}

/** Node options that are per thread and worth passing on: profiling and source maps. */
const PER_THREAD_FLAGS = ['--cpu-prof', '--heap-prof', '--enable-source-maps'];
const PER_THREAD_OPTIONS = ['--cpu-prof-dir', '--cpu-prof-interval', '--heap-prof-dir', '--heap-prof-interval'];

/**
 * The main thread's `execArgv` as a worker's: only the per-thread options above. Left out on
 * purpose: preloads (`--import`, `--require`: tsx and the benchmark's probe belong to the main
 * thread, and a .ts preload would load before the hooks that make it loadable) and V8 flags
 * (`--expose-gc`, `--max-old-space-size`…), which already apply to every thread of the process
 * and which Node refuses in a worker's execArgv.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const name = arg.split('=', 1)[0]!;
    if (PER_THREAD_FLAGS.includes(arg)) kept.push(arg);
    else if (PER_THREAD_OPTIONS.includes(name)) {
      if (arg.includes('=')) kept.push(arg);
      else if (i + 1 < execArgv.length) kept.push(arg, execArgv[++i]!);
    }
  }
  return kept;
}

export class WorkerPool implements SessionDirectory {
  readonly #workers: WorkerHandle[];
  readonly #sessions = new Map<string, SessionEntry>();
  /** Channel id → sessions in it, for the relay-wide channel count and limit. */
  readonly #channels = new Map<string, number>();
  readonly #limits: { readonly maxSessions: number; readonly maxChannels: number };
  readonly #log: WorkerPoolLogger;
  /**
   * Sessions lost with a worker, oldest first, until the control plane acknowledged a heartbeat
   * listing them (acknowledgeLost). At most maxSessions: beyond that the oldest are dropped (the
   * control plane still finds them gone with GET /v1/sessions).
   */
  readonly #lost = new Set<string>();
  /** Each worker's last answer to 'report', kept when a worker does not answer in time. */
  readonly #rekeyRequested = new Map<number, readonly string[]>();
  readonly #onSessionsLost: ((sessionIds: readonly string[]) => void) | undefined;
  #draining = false;
  #closed = false;

  readonly #spawn: (index: number, port: number) => { thread: Worker; ready: Promise<WorkerInfo> };
  readonly #requestTimeoutMs: number;
  readonly #livenessTimeoutMs: number;
  readonly #livenessTimer: NodeJS.Timeout;
  /** Workers being replaced: index → the thread starting, so close() can stop it. */
  readonly #replacing = new Map<number, Worker | null>();

  private constructor(
    workers: WorkerHandle[],
    limits: { maxSessions: number; maxChannels: number },
    log: WorkerPoolLogger,
    options: WorkerPoolOptions,
    spawn: (index: number, port: number) => { thread: Worker; ready: Promise<WorkerInfo> },
  ) {
    this.#workers = workers;
    this.#limits = limits;
    this.#log = log;
    this.#onSessionsLost = options.onSessionsLost;
    this.#spawn = spawn;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.#livenessTimeoutMs = options.livenessTimeoutMs ?? LIVENESS_TIMEOUT_MS;
    for (const worker of workers) this.#watch(worker);
    this.#livenessTimer = setInterval(() => this.#pingAll(), options.livenessIntervalMs ?? LIVENESS_INTERVAL_MS);
    this.#livenessTimer.unref();
  }

  /** Starts `config.workers` workers and resolves once every one is listening. */
  static async start(config: RelayConfig, log: WorkerPoolLogger, options: WorkerPoolOptions = {}): Promise<WorkerPool> {
    const { entry, eval: isEval, execArgv } = options.workerScript === undefined ? workerEntry() : { entry: options.workerScript, eval: false, execArgv: [] };
    const spawn = (index: number, port: number): { thread: Worker; ready: Promise<WorkerInfo> } => {
      const init: WorkerThreadInit = {
        index,
        udp: { host: config.udp.host, port },
        registry: config.registry,
        router: config.router,
        sweepIntervalMs: SWEEP_INTERVAL_MS,
        socketBufferBytes: SOCKET_BUFFER_BYTES,
      };
      const thread = new Worker(entry, {
        eval: isEval,
        execArgv,
        env: workerEnv(process.env),
        workerData: init,
        name: `relay-worker-${index}`,
        resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      });
      return { thread, ready: waitForReady(thread, index, config) };
    };
    const started = Array.from({ length: config.workers }, (_, index) => spawn(index, config.udp.port === 0 ? 0 : config.udp.port + index));
    const outcomes = await Promise.allSettled(started.map((s) => s.ready));
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(started.map((s) => s.thread.terminate()));
      throw failed.reason;
    }
    let pool: WorkerPool | undefined;
    const onHung = (worker: WorkerHandle): void => {
      if (pool !== undefined) pool.#hung(worker);
    };
    const timeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    const handles = outcomes.map((o, i) => new WorkerHandle((o as PromiseFulfilledResult<WorkerInfo>).value, started[i]!.thread, timeoutMs, onHung));
    pool = new WorkerPool(handles, config.registry, log, options, spawn);
    return pool;
  }

  get workers(): readonly WorkerInfo[] {
    return this.#workers.map((w) => w.info);
  }

  get workersUp(): number {
    return this.#workers.filter((w) => w.running).length;
  }

  get size(): number {
    return this.#sessions.size;
  }

  get channelCount(): number {
    return this.#channels.size;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get healthy(): boolean {
    return this.#workers.every((w) => w.running);
  }

  profileOf(sessionId: string): SrtpProfileName | undefined {
    return this.#sessions.get(sessionId)?.profile;
  }

  async install(spec: SessionSpec, now: number): Promise<SessionPlacement> {
    // Everything up to the postMessage is synchronous: the keys are packed and transferred
    // before this function first awaits (SessionDirectory's contract).
    if (this.#draining) throw new InstallRefusedError('draining');
    if (spec.expiresAt <= now) throw new InstallRefusedError('expired');
    if (this.#sessions.has(spec.sessionId)) throw new InstallRefusedError('duplicate-session');
    if (this.#sessions.size >= this.#limits.maxSessions) throw new InstallRefusedError('session-limit');
    if (!this.#channels.has(spec.channelId) && this.#channels.size >= this.#limits.maxChannels) throw new InstallRefusedError('channel-limit');
    const worker = this.#workers[workerForChannel(spec.channelId, this.#workers.length)]!;
    if (!worker.running) throw new WorkerUnavailableError(worker.info.index);
    const { clientToRelay, relayToClient, ...fields } = spec;
    const keys = packSessionKeys({ clientToRelay, relayToClient }, spec.profile);
    const session = {
      sessionId: fields.sessionId,
      userId: fields.userId,
      channelId: fields.channelId,
      profile: fields.profile,
      ssrc: fields.ssrc,
      canSpeak: fields.canSpeak,
      canListen: fields.canListen,
      muted: fields.muted,
      deafened: fields.deafened,
      expiresAt: fields.expiresAt,
    };
    const reply = worker.request<'install'>({ type: 'install', session, keys, now }, [keys]);
    // Held from now on, so that a second install of the same id cannot race this one.
    this.#remember(spec.sessionId, { worker: worker.info.index, channelId: spec.channelId, profile: spec.profile });
    try {
      await reply;
    } catch (error) {
      this.#forget(spec.sessionId);
      throw error;
    }
    return { worker: worker.info.index, udpPort: worker.info.udpPort, udpEndpoint: worker.info.udpEndpoint };
  }

  async update(sessionId: string, patch: SessionPatch): Promise<SessionState | undefined> {
    const worker = this.#workerOf(sessionId);
    if (worker === undefined) return undefined;
    return (await worker.request<'update'>({ type: 'update', sessionId, patch })) ?? undefined;
  }

  async rotate(sessionId: string, keys: SessionKeyMaterial, now: number): Promise<readonly number[] | undefined> {
    const entry = this.#sessions.get(sessionId);
    const worker = this.#workerOf(sessionId);
    if (entry === undefined || worker === undefined) return undefined;
    const packed = packSessionKeys(keys, entry.profile);
    return (await worker.request<'rotate'>({ type: 'rotate', sessionId, profile: entry.profile, ssrc: keys.ssrc, keys: packed, now }, [packed])) ?? undefined;
  }

  async revoke(sessionId: string, now: number): Promise<boolean> {
    const worker = this.#workerOf(sessionId);
    if (worker === undefined) return false;
    const revoked = await worker.request<'revoke'>({ type: 'revoke', sessionId, now });
    // Either way the worker no longer holds it (a session that expired meanwhile was reported).
    if (this.#sessions.get(sessionId)?.worker === worker.info.index) this.#forget(sessionId);
    return revoked;
  }

  async list(): Promise<RelaySessionSummary[]> {
    const lists = await Promise.all(this.#running().map((w) => w.request<'list'>({ type: 'list' }).catch(() => [])));
    return lists.flat();
  }

  /** Every worker's counters, summed; a worker that does not answer in time counts with its last ones. */
  async packetStats(): Promise<ReturnType<typeof sumPacketStats>> {
    await Promise.all(
      this.#running().map(async (worker) => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), STATS_TIMEOUT_MS)));
        const stats = await Promise.race([worker.request<'stats'>({ type: 'stats' }).catch(() => null), timeout]);
        clearTimeout(timer);
        if (stats !== null) worker.lastStats = stats;
      }),
    );
    return sumPacketStats(this.#workers.map((w) => w.lastStats.packets));
  }

  /**
   * For the next heartbeat: sessions whose keys reached the soft key-usage limit (every running
   * worker asked, one that does not answer in time counts with its last answer) and sessions lost
   * with a worker, at most MAX_REPORTED_SESSIONS of each.
   */
  async sessionReport(): Promise<SessionReport> {
    await Promise.all(
      this.#running().map(async (worker) => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), STATS_TIMEOUT_MS)));
        const answer = await Promise.race([worker.request<'report'>({ type: 'report', limit: MAX_REPORTED_SESSIONS }).catch(() => null), timeout]);
        clearTimeout(timer);
        if (answer !== null) this.#rekeyRequested.set(worker.info.index, answer.rekeyRequested);
      }),
    );
    const rekeyRequested: string[] = [];
    for (const [index, ids] of this.#rekeyRequested) {
      if (!this.#workers[index]!.running) continue;
      for (const id of ids) if (rekeyRequested.length < MAX_REPORTED_SESSIONS && this.#sessions.has(id)) rekeyRequested.push(id);
    }
    const lostSessions: string[] = [];
    for (const id of this.#lost) {
      if (lostSessions.length >= MAX_REPORTED_SESSIONS) break;
      lostSessions.push(id);
    }
    return { rekeyRequested, lostSessions };
  }

  /** The control plane acknowledged a heartbeat listing these lost sessions: stop listing them. */
  acknowledgeLost(sessionIds: readonly string[]): void {
    for (const id of sessionIds) this.#lost.delete(id);
  }

  /** Lost sessions not yet acknowledged by the control plane. */
  get lostSessionCount(): number {
    return this.#lost.size;
  }

  /** Refuse new sessions from now on, here and in every worker (SIGTERM). */
  async startDraining(): Promise<void> {
    this.#draining = true;
    await Promise.all(this.#running().map((w) => w.request<'drain'>({ type: 'drain' }).catch(() => null)));
  }

  /** Ends every session in every worker, wipes every key, releases every port. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#draining = true;
    clearInterval(this.#livenessTimer);
    await Promise.all([...this.#replacing.values()].map((thread) => thread?.terminate()));
    await Promise.all(
      this.#workers.map(async (worker) => {
        worker.closing = true;
        if (!worker.running) return;
        const exited = new Promise<void>((resolve) => worker.thread.once('exit', () => resolve()));
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS)));
        const outcome = await Promise.race([worker.request<'close'>({ type: 'close' }).then(() => exited).catch(() => null), timeout]);
        clearTimeout(timer);
        if (outcome === 'timeout') {
          this.#log.error({ event: 'relay_worker.close_timeout', worker: worker.info.index }, 'relay worker did not close in time; terminating it');
          await worker.thread.terminate();
        }
      }),
    );
    this.#sessions.clear();
    this.#channels.clear();
  }

  #running(): WorkerHandle[] {
    return this.#workers.filter((w) => w.running);
  }

  #workerOf(sessionId: string): WorkerHandle | undefined {
    const entry = this.#sessions.get(sessionId);
    return entry === undefined ? undefined : this.#workers[entry.worker];
  }

  #remember(sessionId: string, entry: SessionEntry): void {
    this.#sessions.set(sessionId, entry);
    this.#channels.set(entry.channelId, (this.#channels.get(entry.channelId) ?? 0) + 1);
  }

  #forget(sessionId: string): void {
    const entry = this.#sessions.get(sessionId);
    if (entry === undefined) return;
    this.#sessions.delete(sessionId);
    const left = (this.#channels.get(entry.channelId) ?? 1) - 1;
    if (left <= 0) this.#channels.delete(entry.channelId);
    else this.#channels.set(entry.channelId, left);
  }

  /**
   * Starts a new worker in place of `dead`, on the same port, until one listens (or the pool
   * closes): a crash loop backs off up to MAX_RESTART_BACKOFF_MS between tries.
   */
  async #replace(dead: WorkerHandle): Promise<void> {
    const index = dead.info.index;
    if (this.#closed || this.#replacing.has(index)) return;
    this.#replacing.set(index, null);
    let backoff = RESTART_BACKOFF_MS;
    for (let attempt = 1; !this.#closed; attempt++) {
      const { thread, ready } = this.#spawn(index, dead.info.udpPort);
      this.#replacing.set(index, thread);
      let info: WorkerInfo | null = null;
      try {
        info = await ready;
      } catch (error) {
        if (this.#closed) break;
        // The name only: an error from below us is not ours to vouch for.
        this.#log.error({ event: 'relay_worker.restart_failed', worker: index, attempt, error: error instanceof Error ? error.name : 'Error', retryInMs: backoff }, 'relay worker did not start; retrying');
        await thread.terminate();
      }
      if (info !== null) {
        if (this.#closed) {
          await thread.terminate();
          break;
        }
        const handle = new WorkerHandle(info, thread, this.#requestTimeoutMs, (w) => this.#hung(w));
        this.#workers[index] = handle;
        this.#watch(handle);
        if (this.#draining) await handle.request<'drain'>({ type: 'drain' }).catch(() => null);
        this.#log.info({ event: 'relay_worker.replaced', worker: index, udpPort: info.udpPort, attempt }, 'relay worker replaced');
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, backoff).unref());
      backoff = Math.min(MAX_RESTART_BACKOFF_MS, backoff * 2);
    }
    this.#replacing.delete(index);
  }

  /** A liveness ping to every running worker that has none in flight; one unanswered in time makes it hung. */
  #pingAll(): void {
    for (const worker of this.#running()) {
      if (worker.pinging || worker.hung || worker.closing) continue;
      worker.pinging = true;
      void worker
        .request<'ping'>({ type: 'ping' }, [], this.#livenessTimeoutMs)
        .catch(() => null)
        .finally(() => (worker.pinging = false));
    }
  }

  /** A request went unanswered: terminate the worker; its 'exit' then runs the crash path. */
  #hung(worker: WorkerHandle): void {
    if (!worker.running || worker.closing || worker.hung) return;
    worker.hung = true;
    this.#log.error({ event: 'relay_worker.unresponsive', worker: worker.info.index }, 'relay worker did not answer; terminating it');
    void worker.thread.terminate();
  }

  #watch(worker: WorkerHandle): void {
    const index = worker.info.index;
    worker.thread.on('message', (message: WorkerMessage) => {
      switch (message.type) {
        case 'reply':
          worker.settle(message);
          break;
        case 'session-ended':
          this.#log.info({ sessionId: message.sessionId, channelId: message.channelId, reason: message.reason, worker: index }, 'session ended');
          // Revocations are forgotten when their reply arrives, and shutdown by close(); only the
          // worker knows when a session expires or goes idle.
          if ((message.reason === 'expired' || message.reason === 'idle') && this.#sessions.get(message.sessionId)?.worker === index) {
            this.#forget(message.sessionId);
          }
          break;
        case 'warning':
          this.#log.warn({ event: `relay_worker.${message.event}`, worker: index, err: message.error }, 'relay worker warning');
          break;
        case 'ready':
          break;
      }
    });
    worker.thread.on('error', (error) => {
      // The name only: a message from below us is not ours to vouch for (it could quote data).
      this.#log.error({ event: 'relay_worker.crashed', worker: index, error: error.name }, 'relay worker crashed');
    });
    worker.thread.on('exit', (code) => {
      worker.running = false;
      worker.failPending();
      if (worker.closing) return;
      // Installs still in flight count too: the worker may have held them when it died.
      const lost: string[] = [];
      for (const [sessionId, entry] of this.#sessions) {
        if (entry.worker !== index) continue;
        this.#forget(sessionId);
        lost.push(sessionId);
      }
      this.#rekeyRequested.delete(index);
      for (const sessionId of lost) {
        this.#lost.delete(sessionId); // re-added at the end: newest last
        this.#lost.add(sessionId);
      }
      for (const oldest of this.#lost) {
        if (this.#lost.size <= this.#limits.maxSessions) break;
        this.#lost.delete(oldest);
      }
      this.#log.error(
        { event: 'relay_worker.exited', worker: index, exitCode: code, udpPort: worker.info.udpPort, sessionsLost: lost.length },
        'relay worker exited; its sessions are lost, and a new worker takes its port',
      );
      if (lost.length > 0) this.#onSessionsLost?.(lost);
      void this.#replace(worker);
    });
  }
}

/** Resolves with the worker's info once it listens; rejects if it fails or exits first. */
function waitForReady(thread: Worker, index: number, config: RelayConfig): Promise<WorkerInfo> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: WorkerMessage): void => {
      if (message.type !== 'ready') return;
      cleanup();
      resolve({
        index,
        udpPort: message.udpPort,
        udpEndpoint: workerPublicEndpoint(config.udp, index, message.udpPort),
        srtpBackend: message.srtpBackend,
        srtpFallback: message.srtpFallback,
        batchingUnavailable: message.batchingUnavailable,
        batchedInputUnavailable: message.batchedInputUnavailable,
      });
    };
    const onError = (error: Error): void => {
      cleanup();
      // Binding errors (EADDRINUSE) name the address and port, which is what an operator needs.
      reject(new Error(`relay worker ${index} failed to start: ${error.name}: ${error.message}`));
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`relay worker ${index} exited (${code}) before it was ready`));
    };
    function cleanup(): void {
      thread.off('message', onMessage);
      thread.off('error', onError);
      thread.off('exit', onExit);
    }
    thread.on('message', onMessage);
    thread.on('error', onError);
    thread.on('exit', onExit);
  });
}
