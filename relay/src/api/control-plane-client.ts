/**
 * The relay's side of registration with the control plane (docs/protocol.md §8.6): one signed
 * POST to {control}/internal/relays/register, then a signed heartbeat with the same body every
 * `heartbeatIntervalMs` to …/heartbeat, so the control plane knows where the relay is, which run
 * of it this is (its boot id) and its X25519 public key (to seal session keys to both), its
 * load and whether it is draining.
 *
 * Each body also lists the sessions whose keys should be rotated (the soft key-usage limit) and the
 * sessions lost with a worker, so the control plane re-keys them; lost ones are listed until a
 * body carrying them is acknowledged (`delivered`).
 *
 * Requests are signed with the internal-API scheme for the audience "control". A failure
 * (network error, timeout, non-2xx) is retried with exponential backoff and jitter; a heartbeat
 * answered 404 or 410 (the control plane does not know this relay, e.g. after losing its state)
 * goes back to registering. Logs carry the step, the status and the error name — never the URL
 * (it may carry credentials), the body or a signature.
 *
 * fetch, timers, time and randomness are injected; close() is idempotent and cancels the timer
 * and any request in flight.
 */
import { encodeBase64Url } from '../../../shared/relay-api/base64url.js';
import { parseRelayApiUrl, type RelayRegistrationBody } from '../../../shared/relay-api/messages.js';
import { CONTROL_PLANE_AUDIENCE, assertSigningSecret, signRequest, type SigningKey } from '../../../shared/relay-api/request-signing.js';
import { assertBytes } from '../../../shared/bytes.js';
import { assertRelayBootId } from '../../../shared/relay-api/ids.js';
import { X25519_KEY_LENGTH } from '../../../shared/keys/transcript.js';

export const REGISTER_PATH = 'internal/relays/register';
export const HEARTBEAT_PATH = 'internal/relays/heartbeat';

export interface ControlPlaneTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ControlPlaneLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface RelayLoad {
  readonly sessions: number;
  readonly channels: number;
}

/** What each register/heartbeat body reports besides the relay's identity (docs/protocol.md §8.6). */
export interface RelayReport {
  readonly load: RelayLoad;
  readonly draining: boolean;
  /** Sessions whose keys reached the soft key-usage limit: the control plane should rotate them. */
  readonly rekeyRequested: readonly string[];
  /** Sessions lost with a worker: the control plane should re-key them. */
  readonly lostSessions: readonly string[];
}

export interface ControlPlaneClientOptions {
  /** Base URL of the control plane; the endpoint paths are resolved below it. */
  readonly controlUrl: string;
  readonly relayId: string;
  /** This run of the relay (shared/relay-api/ids.ts); seals must name it. */
  readonly bootId: string;
  readonly region: string;
  /** Where the control plane reaches this relay's internal API (RELAY_PUBLIC_API_URL). */
  readonly apiUrl: string;
  /** Every worker's public UDP endpoint, worker i at index i (at least one). */
  readonly udpEndpoints: readonly { readonly host: string; readonly port: number }[];
  /** The relay's X25519 public key (32 bytes). */
  readonly publicKey: Uint8Array;
  /** Signs every request (audience "control"). */
  readonly key: SigningKey;
  /** Asked for before every request (it may ask the workers, hence a promise). */
  readonly report: () => RelayReport | Promise<RelayReport>;
  /** Told which report a 2xx answer acknowledged (so lost sessions are reported until one is). */
  readonly delivered?: (report: RelayReport) => void;
  readonly fetch: (request: Request) => Promise<Response>;
  readonly timers: ControlPlaneTimers;
  /** ms since the Unix epoch. */
  readonly now: () => number;
  /** Uniform in [0, 1), for backoff jitter. Defaults to Math.random. */
  readonly random?: () => number;
  readonly logger?: ControlPlaneLogger;
  readonly heartbeatIntervalMs?: number;
  readonly requestTimeoutMs?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export type ControlPlaneClientState = 'idle' | 'registering' | 'registered' | 'closed';

export class ControlPlaneClientClosedError extends Error {
  override readonly name = 'ControlPlaneClientClosedError';
  constructor() {
    super('control-plane-client: closed');
  }
}

const silentLogger: ControlPlaneLogger = { info() {}, warn() {} };

export class ControlPlaneClient {
  readonly #options: ControlPlaneClientOptions;
  readonly #registerUrl: string;
  readonly #heartbeatUrl: string;
  readonly #publicKey: string;
  readonly #log: ControlPlaneLogger;
  readonly #heartbeatIntervalMs: number;
  readonly #requestTimeoutMs: number;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  #state: ControlPlaneClientState = 'idle';
  #timer: unknown = null;
  #inFlight: AbortController | null = null;
  #failures = 0;
  /** A heartbeat was asked for while a request was in flight. */
  #sendAgain = false;

  constructor(options: ControlPlaneClientOptions) {
    assertBytes(options.publicKey, 'control-plane-client: publicKey', X25519_KEY_LENGTH);
    assertRelayBootId(options.bootId, 'control-plane-client: bootId');
    if (options.udpEndpoints.length === 0) throw new RangeError('control-plane-client: udpEndpoints must list at least one endpoint');
    assertSigningSecret(options.key.secret, 'control-plane-client: key.secret');
    // A base without a trailing slash would lose its last path segment when resolving.
    const base = new URL(options.controlUrl);
    // fetch() refuses URLs with credentials; say so now rather than fail at every heartbeat.
    if (base.username !== '' || base.password !== '') {
      throw new RangeError('control-plane-client: controlUrl must not contain credentials');
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') {
      throw new RangeError('control-plane-client: controlUrl must be http(s)');
    }
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    // The control plane refuses a body whose apiUrl it would not use: say so now, not at every heartbeat.
    const apiUrlCheck = parseRelayApiUrl(options.apiUrl);
    if (!apiUrlCheck.ok) throw new RangeError(`control-plane-client: ${apiUrlCheck.detail}`);
    this.#registerUrl = new URL(REGISTER_PATH, base).href;
    this.#heartbeatUrl = new URL(HEARTBEAT_PATH, base).href;
    this.#options = options;
    this.#publicKey = encodeBase64Url(options.publicKey);
    this.#log = options.logger ?? silentLogger;
    this.#heartbeatIntervalMs = positive(options.heartbeatIntervalMs ?? 10_000, 'heartbeatIntervalMs');
    this.#requestTimeoutMs = positive(options.requestTimeoutMs ?? 5_000, 'requestTimeoutMs');
    this.#initialBackoffMs = positive(options.initialBackoffMs ?? 1_000, 'initialBackoffMs');
    this.#maxBackoffMs = positive(options.maxBackoffMs ?? 30_000, 'maxBackoffMs');
  }

  get state(): ControlPlaneClientState {
    return this.#state;
  }

  /** Starts registering now. Idempotent; throws ControlPlaneClientClosedError after close(). */
  start(): void {
    if (this.#state === 'closed') throw new ControlPlaneClientClosedError();
    if (this.#state !== 'idle') return;
    this.#state = 'registering';
    this.#schedule(0);
  }

  /** Sends a heartbeat as soon as possible (e.g. when draining starts). No-op unless registered. */
  sendHeartbeatNow(): void {
    if (this.#state !== 'registered') return;
    if (this.#inFlight !== null) {
      this.#sendAgain = true;
      return;
    }
    this.#schedule(0);
  }

  /** Stops the timer and aborts any request in flight. Idempotent. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#clearTimer();
    this.#inFlight?.abort();
    this.#inFlight = null;
  }

  #schedule(delayMs: number): void {
    this.#clearTimer();
    this.#timer = this.#options.timers.setTimeout(() => {
      this.#timer = null;
      void this.#exchange();
    }, delayMs);
  }

  #clearTimer(): void {
    if (this.#timer !== null) this.#options.timers.clearTimeout(this.#timer);
    this.#timer = null;
  }

  async #exchange(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'idle' || this.#inFlight !== null) return;
    const step = this.#state === 'registered' ? 'heartbeat' : 'register';
    const abort = new AbortController();
    this.#inFlight = abort;
    const timeout = this.#options.timers.setTimeout(() => abort.abort(), this.#requestTimeoutMs);
    let status: number | null = null;
    let errorName: string | null = null;
    let report: RelayReport | null = null;
    try {
      report = await this.#options.report();
      // close() meanwhile: send nothing.
      if ((this.#state as ControlPlaneClientState) === 'closed') return;
      const response = await this.#options.fetch(this.#signedRequest(step, report, abort.signal));
      status = response.status;
      await response.body?.cancel().catch(() => {});
    } catch (error) {
      errorName = abort.signal.aborted ? 'Timeout' : error instanceof Error ? error.name : 'Error';
    } finally {
      this.#options.timers.clearTimeout(timeout);
      if (this.#inFlight === abort) this.#inFlight = null;
    }
    // close() while the request was in flight: nothing more to do.
    if ((this.#state as ControlPlaneClientState) === 'closed') return;

    if (status !== null && status >= 200 && status < 300) {
      if (report !== null) this.#options.delivered?.(report);
      if (step === 'register') this.#log.info({ event: 'control_plane.registered', relayId: this.#options.relayId }, 'registered with the control plane');
      this.#state = 'registered';
      this.#failures = 0;
      const again = this.#sendAgain;
      this.#sendAgain = false;
      this.#schedule(again ? 0 : this.#heartbeatIntervalMs);
      return;
    }
    this.#failures++;
    if (step === 'heartbeat' && (status === 404 || status === 410)) this.#state = 'registering';
    const retryInMs = this.#backoffMs();
    this.#log.warn(
      { event: `control_plane.${step}_failed`, status, error: errorName, attempt: this.#failures, retryInMs },
      `control plane ${step} failed`,
    );
    this.#schedule(retryInMs);
  }

  #signedRequest(step: 'register' | 'heartbeat', report: RelayReport, signal: AbortSignal): Request {
    const o = this.#options;
    const { load } = report;
    const body: RelayRegistrationBody = {
      relayId: o.relayId,
      bootId: o.bootId,
      region: o.region,
      apiUrl: o.apiUrl,
      udpEndpoint: { host: o.udpEndpoints[0]!.host, port: o.udpEndpoints[0]!.port },
      udpEndpoints: o.udpEndpoints.map((e) => ({ host: e.host, port: e.port })),
      publicKey: this.#publicKey,
      load: { sessions: load.sessions, channels: load.channels },
      draining: report.draining,
      rekeyRequested: [...report.rekeyRequested],
      lostSessions: [...report.lostSessions],
    };
    const bytes = new TextEncoder().encode(JSON.stringify(body));
    const url = step === 'register' ? this.#registerUrl : this.#heartbeatUrl;
    const authorization = signRequest({ method: 'POST', url, body: bytes, audience: CONTROL_PLANE_AUDIENCE, key: o.key, now: o.now() });
    return new Request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization },
      body: bytes,
      signal,
    });
  }

  /** Exponential from initialBackoffMs, capped at maxBackoffMs, with "equal jitter" (½–1×). */
  #backoffMs(): number {
    const exponential = Math.min(this.#maxBackoffMs, this.#initialBackoffMs * 2 ** Math.min(this.#failures - 1, 30));
    const random = (this.#options.random ?? Math.random)();
    return Math.round(exponential / 2 + (exponential / 2) * random);
  }
}

function positive(value: number, what: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`control-plane-client: ${what} must be a positive number`);
  return value;
}
