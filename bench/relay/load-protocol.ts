/**
 * Messages between the benchmark driver (bench/relay.bench.ts) and its child processes, over
 * Node's IPC channel. The driver asks, the child answers with the same `id`.
 */

/** What the load generator sends voice to. */
export type LoadTarget =
  | {
      readonly kind: 'relay';
      readonly udpPort: number;
      readonly pid: number;
      readonly apiUrl: string;
      /** Prometheus text (the relay's packet counters), or null when the relay exposes none. */
      readonly metricsUrl: string | null;
      readonly relayId: string;
      /** This run of the relay (its /healthz says); seals name it. */
      readonly relayBootId: string;
      /** base64url */
      readonly relayPublicKey: string;
      readonly apiKeyId: string;
      /** base64url */
      readonly apiSecret: string;
    }
  | { readonly kind: 'plain'; readonly udpPort: number; readonly pid: number };

export interface PrepareParams {
  readonly fanout: number;
  /** Channels of 1 speaker + `fanout` listeners; each listener gets its own UDP socket. */
  readonly channels: number;
}

export interface PrepareResult {
  readonly sessions: number;
  readonly sockets: number;
  readonly installSeconds: number;
  /** Listeners whose keepalive got a pong (relay only; the plain forwarder uses a table). */
  readonly latched: number;
  /** Plain forwarder only: speaker SSRC → listener ports. */
  readonly table: readonly ForwardingEntry[] | null;
}

export interface ForwardingEntry {
  readonly ssrc: number;
  readonly ports: readonly number[];
}

export interface StepParams {
  /** How many of the prepared channels have their speaker talking in this step. */
  readonly channels: number;
  readonly seconds: number;
  /** Record per-packet latency (send → receive through the target). */
  readonly recordLatency: boolean;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50_us: number;
  readonly p90_us: number;
  readonly p99_us: number;
  readonly max_us: number;
}

export interface RelayCounterDelta {
  readonly packets_in: number;
  readonly packets_out: number;
  readonly dropped: Readonly<Record<string, number>>;
  /** The relay's own processing-time histogram (1 datagram in 16): samples in the step. */
  readonly processing_samples: number;
  /** Upper bound of the histogram bucket holding the median / 99th percentile, µs. */
  readonly processing_p50_le_us: number | null;
  readonly processing_p99_le_us: number | null;
}

export interface StepResult {
  readonly fanout: number;
  readonly channels: number;
  readonly offered_in_pps: number;
  readonly offered_out_pps: number;
  /** Speaker packets sent in the step. */
  readonly sent: number;
  /** sent × fanout. */
  readonly expected: number;
  /** Voice datagrams that reached listener sockets. */
  readonly received: number;
  /** (expected − received) / expected; negative would mean duplicates. */
  readonly loss: number;
  /** First send and end of the drain, µs on the monotonic clock (CPU profiles use the same). */
  readonly window_start_us: number;
  readonly window_end_us: number;
  /** Time from the first to the last send, seconds. */
  readonly send_seconds: number;
  /** received / send_seconds. */
  readonly out_pps: number;
  /** Target CPU seconds from the first send until listeners stopped receiving. */
  readonly target_cpu_seconds: number;
  /** target_cpu_seconds / send_seconds. */
  readonly target_cores: number;
  /** received / target_cpu_seconds. */
  readonly out_pps_per_core: number;
  readonly load_cores: number;
  /** Largest delay of a send behind its schedule, ms. */
  readonly max_send_lag_ms: number;
  /** Sends more than 5 ms behind schedule. */
  readonly late_sends: number;
  /**
   * From the last send until listeners stopped receiving, ms (10 ms resolution). Large values
   * mean the target was behind, working off a queue in its socket buffer: not sustainable.
   */
  readonly drain_ms: number;
  /** The load process used nearly a full core, or could not send the step's packets in time. */
  readonly load_saturated: boolean;
  /** Busy cores per CPU over the whole window (first send → drain end), everything included. */
  readonly core_busy: readonly number[];
  readonly window_seconds: number;
  /** Target and load CPU over the same whole window, in cores, to compare with core_busy. */
  readonly target_window_cores: number;
  readonly load_window_cores: number;
  /** Kernel receive-buffer drops on the target's socket / on listener sockets. */
  readonly target_socket_drops: number;
  readonly listener_socket_drops: number;
  /** The relay's own counters over the step (null for the plain forwarder or without metrics). */
  readonly relay_counters: RelayCounterDelta | null;
  readonly latency: LatencySummary | null;
  /** Sampled forwarded datagrams opened with the listener's keys (relay only). */
  readonly sample_checked: number;
  readonly sample_ok: number;
  /** Keepalives answered before the step / sent. */
  readonly keepalive_pongs: number;
  readonly keepalives_sent: number;
  /**
   * How the load generator itself did I/O in the step: with the Node loop every speaker packet
   * is one send call (node:dgram, one sendmsg each), with the C one a send call is one sendmmsg; listener sockets are read with recvmmsg where the addon is
   * built (calls that returned datagrams, and the datagrams they returned; 0 and 0 on node:dgram).
   */
  readonly load_send_calls: number;
  readonly load_receive_calls: number;
  readonly load_receive_datagrams: number;
  /**
   * Which program sent and counted the step's traffic: 'c' (bench/relay/udp-load.c: sendmmsg
   * batches from the speakers' socket, recvmmsg on the listener sockets) or 'node' (this
   * process's own loop: one send call per packet, the receivers above).
   */
  readonly load_generator: 'c' | 'node';
}

export interface IdleInstallParams {
  readonly sessions: number;
  readonly channelSize: number;
  readonly concurrency: number;
  /**
   * Seal every session's keys before the first request (not timed), so the requests reach the
   * relay as a burst rather than at the pace this process seals (X25519 in JavaScript).
   */
  readonly presealed?: boolean;
}

export interface IdleInstallResult {
  readonly installed: number;
  readonly refused: number;
  readonly seconds: number;
  /** First refusal, for the report. */
  readonly firstError: string | null;
  /** Installs retried after 503 nonce-cache-full. */
  readonly retries: number;
}

export type LoadRequest =
  | { readonly id: number; readonly method: 'configure'; readonly params: LoadTarget }
  | { readonly id: number; readonly method: 'prepare'; readonly params: PrepareParams }
  | { readonly id: number; readonly method: 'step'; readonly params: StepParams }
  | { readonly id: number; readonly method: 'release'; readonly params: Record<string, never> }
  | { readonly id: number; readonly method: 'installIdle'; readonly params: IdleInstallParams };

export interface LoadResults {
  configure: { readonly ok: true };
  prepare: PrepareResult;
  step: StepResult;
  release: { readonly revoked: number };
  installIdle: IdleInstallResult;
}

export type LoadReply = { readonly id: number; readonly result: unknown } | { readonly id: number; readonly error: string };

export function isLoadReply(message: unknown): message is LoadReply {
  return typeof message === 'object' && message !== null && typeof (message as { id?: unknown }).id === 'number';
}

/** Driver → plain forwarder. */
export type ForwarderRequest = { readonly type: 'table'; readonly entries: readonly ForwardingEntry[] };

export type ForwarderReply = { readonly type: 'table-ok'; readonly ssrcs: number; readonly destinations: number };

export function isForwarderReply(message: unknown): message is ForwarderReply {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'table-ok';
}

/** Driver → relay probe (bench/relay/relay-probe.ts, preloaded into the relay for the memory phase). */
export type ProbeRequest = {
  readonly type: 'memory';
  readonly gc: boolean;
  /** Also write a heap snapshot here, after the GC (`--heap-snapshots`; slow, investigation only). */
  readonly heapSnapshotPath?: string;
};

export interface ProbeReply {
  readonly type: 'memory';
  readonly gcRan: boolean;
  /** Relay workers that collected and reported their heaps (the heap figures include them). */
  readonly workers: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** v8.getHeapSpaceStatistics(): bytes used and committed ("size") per V8 heap space. */
  readonly spaces: Readonly<Record<string, { readonly used: number; readonly committed: number }>>;
}

export function isProbeReply(message: unknown): message is ProbeReply {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'memory';
}
