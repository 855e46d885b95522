/**
 * One relay process, assembled. The main thread holds the signed internal API, the Prometheus
 * listener, the control-plane registration and the drain; the packet path runs in the relay
 * workers (worker-pool.ts, worker-thread.ts), one per core, each with its own UDP port and its
 * own shard of the channels. One code path for every worker count: development runs one worker.
 *
 * The main thread is the only one that holds the relay's private key and the API keys: it opens
 * sealed session keys (in the seal opener, which holds the private key from start on) and hands
 * the opened keys to the channel's worker (see worker-protocol.ts).
 * `main.ts` loads the config and signals; tests start the process as a child.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { RelayConfig } from './config.js';
import { ControlPlaneClient } from './api/control-plane-client.js';
import { createInternalApi } from './api/internal-api.js';
import type { RelayLogger } from './logger.js';
import { createRelayMetrics, type RelayMetrics } from './metrics.js';
import { NonceCache } from './api/nonce-cache.js';
import { bearerTokenMatches } from './api/bearer-token.js';
import { WorkerPool } from './workers/worker-pool.js';
import { encodeBase64Url } from '../../shared/relay-api/base64url.js';
import { createSealOpener, type SealOpener } from '../../shared/relay-api/sealed-keys.js';
import { createNativeSealOpener, nativeKeysError } from './io/native-keys.js';

export interface RelayServerOptions {
  readonly config: RelayConfig;
  readonly logger: RelayLogger;
  /** Register with the control plane and heartbeat (off when no control plane runs, e.g. tests). */
  readonly register: boolean;
  readonly now?: () => number;
}

function listen(app: { fetch: (request: Request) => Response | Promise<Response> }, host: string, port: number): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(server));
    server.once('error', reject);
  });
}

function closeServer(server: ServerType): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A fresh boot id (shared/relay-api/ids.ts): 16 random bytes, base64url. Seals name it
 * (docs/protocol.md §8.4), so nothing sealed for an earlier run of this relay opens in this one.
 */
export function newRelayBootId(): string {
  return randomBytes(16).toString('base64url');
}

export class RelayServer {
  readonly metrics: RelayMetrics;
  /** This run of the relay: announced at registration, bound into every seal. */
  readonly bootId = newRelayBootId();
  #workers!: WorkerPool;
  #api!: ServerType;
  #metricsServer!: ServerType;
  #controlPlane: ControlPlaneClient | null = null;
  #sealOpener: SealOpener | null = null;
  #closed = false;

  private constructor(
    readonly config: RelayConfig,
    private readonly logger: RelayLogger,
    private readonly now: () => number,
  ) {
    this.metrics = createRelayMetrics({
      snapshot: async () => ({
        sessions: this.#workers?.size ?? 0,
        channels: this.#workers?.channelCount ?? 0,
        draining: this.#workers?.draining ?? false,
        workers: this.config.workers,
        workersUp: this.#workers?.workersUp ?? 0,
        packets: await this.#workers.packetStats(),
      }),
    });
  }

  static async start(options: RelayServerOptions): Promise<RelayServer> {
    const server = new RelayServer(options.config, options.logger, options.now ?? Date.now);
    try {
      await server.#start(options.register);
    } catch (error) {
      await server.close();
      throw error;
    }
    return server;
  }

  /** The relay's sessions, across every worker. */
  get sessions(): WorkerPool {
    return this.#workers;
  }

  /** Worker 0's UDP port. */
  get udpPort(): number {
    return this.#workers.workers[0]!.udpPort;
  }

  /** Every worker's UDP port, worker i at index i. */
  get udpPorts(): number[] {
    return this.#workers.workers.map((w) => w.udpPort);
  }

  get apiPort(): number {
    return (this.#api.address() as AddressInfo).port;
  }

  get metricsPort(): number {
    return (this.#metricsServer.address() as AddressInfo).port;
  }

  async #start(register: boolean): Promise<void> {
    const { config, logger, now } = this;
    // Sessions lost with a worker are reported at once, not at the next heartbeat.
    this.#workers = await WorkerPool.start(config, logger, { onSessionsLost: () => this.#controlPlane?.sendHeartbeatNow() });
    const workers = this.#workers.workers;
    // The private key goes into the opener once; it computes the public key once (every seal's C
    // names it). The native one opens a seal in OpenSSL, in memory the addon cleanses.
    const sealOpener = createNativeSealOpener(config.privateKey) ?? createSealOpener(config.privateKey);
    this.#sealOpener = sealOpener;
    if (sealOpener.name !== 'native') logger.warn({ reason: nativeKeysError }, 'native seal opener unavailable; opening sealed keys in JavaScript (slower)');

    const api = createInternalApi({
      sessions: this.#workers,
      relayId: config.relayId,
      bootId: this.bootId,
      apiKeys: config.api.keys,
      sealOpener,
      now,
      nonceCache: new NonceCache(),
      logger,
    });
    this.#api = await listen(api, config.api.host, config.api.port);
    this.#metricsServer = await listen(this.#metricsApp(), config.metrics.host, config.metrics.port);

    if (register) {
      this.#controlPlane = new ControlPlaneClient({
        controlUrl: config.controlPlaneUrl,
        relayId: config.relayId,
        bootId: this.bootId,
        region: config.region,
        apiUrl: config.publicApiUrl,
        udpEndpoints: workers.map((w) => w.udpEndpoint),
        publicKey: config.publicKey,
        key: config.controlPlaneKey,
        report: async () => {
          const { rekeyRequested, lostSessions } = await this.#workers.sessionReport();
          return { load: { sessions: this.#workers.size, channels: this.#workers.channelCount }, draining: this.#workers.draining, rekeyRequested, lostSessions };
        },
        delivered: (report) => this.#workers.acknowledgeLost(report.lostSessions),
        fetch: (request) => fetch(request),
        timers: { setTimeout: (cb, ms) => setTimeout(cb, ms).unref(), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) },
        now,
        logger,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
      });
      this.#controlPlane.start();
    }
    const first = workers[0]!;
    if (first.srtpFallback !== null) {
      logger.warn({ reason: first.srtpFallback }, 'native AES-GCM unavailable; using node:crypto (slower)');
    }
    if (first.batchingUnavailable !== null) {
      logger.warn({ reason: first.batchingUnavailable }, 'sendmmsg batching unavailable; one send per datagram (slower)');
    }
    if (first.batchedInputUnavailable !== null) {
      logger.warn({ reason: first.batchedInputUnavailable }, 'recvmmsg input unavailable; one node:dgram event per datagram (slower)');
    }
    logger.info(
      {
        srtpBackend: first.srtpBackend,
        sealOpener: sealOpener.name,
        udpBatching: first.batchingUnavailable === null,
        udpBatchedInput: first.batchedInputUnavailable === null,
        workers: workers.length,
        udpPorts: this.udpPorts,
        apiPort: this.apiPort,
        metricsPort: this.metricsPort,
        environment: config.environment,
        insecureDefaults: config.insecureDefaults,
        // What a control plane seals session keys to (docs/protocol.md §8.4); public.
        publicKey: encodeBase64Url(config.publicKey),
        bootId: this.bootId,
      },
      'relay listening',
    );
  }

  #metricsApp(): Hono {
    const token = this.config.metrics.token;
    const app = new Hono();
    app.get('/metrics', async (c) => {
      if (token !== null && !bearerTokenMatches(c.req.header('authorization'), token)) {
        return c.json({ error: 'unauthorized' }, 401, { 'www-authenticate': 'Bearer realm="parley-relay-metrics"' });
      }
      return c.text(await this.metrics.text(), 200, { 'content-type': this.metrics.contentType });
    });
    app.notFound((c) => c.json({ error: 'not_found' }, 404));
    return app;
  }

  /**
   * SIGTERM: stop taking sessions in every worker, tell the control plane, and resolve once every
   * worker's sessions have ended or the drain deadline passes.
   */
  async drain(): Promise<'sessions-ended' | 'deadline'> {
    await this.#workers.startDraining();
    this.#controlPlane?.sendHeartbeatNow();
    this.logger.info({ sessions: this.#workers.size, deadlineMs: this.config.drainDeadlineMs }, 'draining');
    const deadline = this.now() + this.config.drainDeadlineMs;
    while (this.#workers.size > 0) {
      if (this.now() >= deadline) return 'deadline';
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return 'sessions-ended';
  }

  /** Closes servers and every worker (which wipes every key and releases its port). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#controlPlane?.close();
    this.#sealOpener?.close();
    await Promise.all([
      this.#workers?.close(),
      this.#api ? closeServer(this.#api) : undefined,
      this.#metricsServer ? closeServer(this.#metricsServer) : undefined,
    ]);
  }
}
