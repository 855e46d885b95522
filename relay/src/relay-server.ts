/**
 * One relay process, assembled: UDP transport → DatagramRouter → SessionRegistry, the signed
 * internal API, Prometheus metrics, the sweep timer and the control-plane registration.
 * `main.ts` loads the config and signals; tests start a RelayServer in a child process.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { nodeCryptoBackend } from '../../shared/srtp/backends/node-crypto.js';
import type { SrtpCryptoBackend } from '../../shared/srtp/crypto-backend.js';
import { loadNativeGcmBackend, nativeGcmBackendError } from './native-gcm-backend.js';
import type { RelayConfig } from './config.js';
import { ControlPlaneClient } from './control-plane-client.js';
import { DatagramRouter } from './datagram-router.js';
import { createInternalApi } from './internal-api.js';
import type { RelayLogger } from './logger.js';
import { createRelayMetrics, type RelayMetrics } from './metrics.js';
import { NonceCache } from './nonce-cache.js';
import { LocalRelaySessions } from './relay-sessions.js';
import { SessionRegistry } from './session-registry.js';
import { UdpTransport } from './udp-transport.js';

/** How often expiry, idleness and rotation overlaps are checked. */
const SWEEP_INTERVAL_MS = 250;
/** Kernel socket buffers: a few hundred milliseconds of traffic at full load. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

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

export class RelayServer {
  readonly registry: SessionRegistry;
  readonly metrics: RelayMetrics;
  /** Native AES-GCM when the addon is built (npm run build:native), else node:crypto. */
  readonly backend: SrtpCryptoBackend;
  #udp!: UdpTransport;
  #api!: ServerType;
  #metricsServer!: ServerType;
  #sweepTimer!: NodeJS.Timeout;
  #controlPlane: ControlPlaneClient | null = null;
  #closed = false;

  private constructor(
    readonly config: RelayConfig,
    private readonly logger: RelayLogger,
    private readonly now: () => number,
  ) {
    this.backend = loadNativeGcmBackend() ?? nodeCryptoBackend;
    this.registry = new SessionRegistry(config.registry, this.backend, {
      onSessionEnded: (session, reason) => logger.info({ sessionId: session.sessionId, channelId: session.channelId, reason }, 'session ended'),
    });
    this.metrics = createRelayMetrics({
      state: () => ({
        sessions: this.registry.size,
        channels: this.registry.channelCount,
        draining: this.registry.draining,
        sendErrors: this.#udp?.sendErrors ?? 0,
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

  get udpPort(): number {
    return this.#udp.port;
  }

  get apiPort(): number {
    return (this.#api.address() as AddressInfo).port;
  }

  get metricsPort(): number {
    return (this.#metricsServer.address() as AddressInfo).port;
  }

  async #start(register: boolean): Promise<void> {
    const { config, logger, now } = this;
    const router = new DatagramRouter(this.registry, { send: (d, to) => this.#udp.send(d, to) }, this.metrics, config.router, now);
    this.#udp = await UdpTransport.bind(
      { host: config.udp.host, port: config.udp.port, receiveBufferBytes: SOCKET_BUFFER_BYTES, sendBufferBytes: SOCKET_BUFFER_BYTES },
      (datagram, from) => router.handle(datagram, from),
      (error) => logger.warn({ err: { name: error.name, message: error.message } }, 'udp socket error'),
    );

    const placement = { worker: 0, udpPort: this.udpPort, udpEndpoint: config.udp.publicEndpoint };
    const api = createInternalApi({
      sessions: new LocalRelaySessions(this.registry, placement),
      relayId: config.relayId,
      apiKeys: config.api.keys,
      relayPrivateKey: config.privateKey,
      now,
      nonceCache: new NonceCache(),
      logger,
    });
    this.#api = await listen(api, config.api.host, config.api.port);
    this.#metricsServer = await listen(this.#metricsApp(), config.metrics.host, config.metrics.port);

    this.#sweepTimer = setInterval(() => this.registry.sweep(now()), SWEEP_INTERVAL_MS);
    this.#sweepTimer.unref();

    if (register) {
      this.#controlPlane = new ControlPlaneClient({
        controlUrl: config.controlPlaneUrl,
        relayId: config.relayId,
        region: config.region,
        udpEndpoints: [config.udp.publicEndpoint],
        publicKey: config.publicKey,
        key: config.controlPlaneKey,
        load: () => ({ sessions: this.registry.size, channels: this.registry.channelCount }),
        draining: () => this.registry.draining,
        fetch: (request) => fetch(request),
        timers: { setTimeout: (cb, ms) => setTimeout(cb, ms).unref(), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) },
        now,
        logger,
      });
      this.#controlPlane.start();
    }
    if (this.backend === nodeCryptoBackend) {
      logger.warn({ reason: nativeGcmBackendError }, 'native AES-GCM unavailable; using node:crypto (slower)');
    }
    if (!this.#udp.batching) {
      logger.warn({ reason: this.#udp.batchingUnavailable }, 'sendmmsg batching unavailable; one send per datagram (slower)');
    }
    logger.info(
      { srtpBackend: this.backend.name, udpBatching: this.#udp.batching, udpPort: this.udpPort, apiPort: this.apiPort, metricsPort: this.metricsPort, environment: config.environment, insecureDefaults: config.insecureDefaults },
      'relay listening',
    );
  }

  #metricsApp(): Hono {
    const token = this.config.metrics.token;
    const app = new Hono();
    app.get('/metrics', async (c) => {
      if (token !== null && c.req.header('authorization') !== `Bearer ${token}`) {
        return c.json({ error: 'unauthorized' }, 401, { 'www-authenticate': 'Bearer realm="parley-relay-metrics"' });
      }
      return c.text(await this.metrics.text(), 200, { 'content-type': this.metrics.contentType });
    });
    app.notFound((c) => c.json({ error: 'not_found' }, 404));
    return app;
  }

  /**
   * SIGTERM: stop taking sessions, tell the control plane, and resolve once every session has
   * ended or the drain deadline passes.
   */
  async drain(): Promise<'sessions-ended' | 'deadline'> {
    this.registry.startDraining();
    this.#controlPlane?.sendHeartbeatNow();
    this.logger.info({ sessions: this.registry.size, deadlineMs: this.config.drainDeadlineMs }, 'draining');
    const deadline = this.now() + this.config.drainDeadlineMs;
    while (this.registry.size > 0) {
      if (this.now() >= deadline) return 'deadline';
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return 'sessions-ended';
  }

  /** Closes sockets and servers and wipes every key. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    this.#controlPlane?.close();
    this.registry.close(this.now());
    await Promise.all([
      this.#udp?.close(),
      this.#api ? closeServer(this.#api) : undefined,
      this.#metricsServer ? closeServer(this.#metricsServer) : undefined,
    ]);
  }
}
