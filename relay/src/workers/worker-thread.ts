/**
 * One relay worker thread: one UDP socket on its own port, one SessionRegistry holding its shard
 * of the channels, one DatagramRouter, its own sweep timer and its own instance of the native
 * addon. Started by worker-pool.ts with a WorkerThreadInit as workerData.
 *
 * The packet path never leaves this thread and never posts a message: the main thread asks for
 * counters (`stats`) when Prometheus scrapes. Session changes arrive as requests from the main
 * thread, which routed them here by channel (channel-shard.ts); keys arrive in a transferred
 * buffer that is wiped as soon as the SRTP contexts hold their derived keys.
 *
 * This thread writes no log lines itself: it tells the main thread what happened
 * (`session-ended`, `warning`) and the main thread logs, so stdout has one writer.
 */
import { BroadcastChannel, parentPort, workerData } from 'node:worker_threads';
import { nodeCryptoBackend } from '../../../shared/srtp/backends/node-crypto.js';
import { DatagramRouter } from '../media/datagram-router.js';
import { loadNativeGcmBackend, nativeGcmBackendError } from '../media/native-gcm-backend.js';
import { PacketStats } from '../media/packet-stats.js';
import { LocalSessionDirectory } from '../media/session-directory.js';
import { InstallRefusedError, SessionRegistry } from '../media/session-registry.js';
import { UdpTransport } from '../io/udp-transport.js';
import { MEMORY_PROBE_CHANNEL, unpackSessionKeys, type MemoryProbeReply, type MemoryProbeRequest, type WorkerThreadInit, type WorkerMessage, type WorkerReplies, type WorkerRequest } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('worker-thread: must run in a worker thread (see worker-pool.ts)');
const init = workerData as WorkerThreadInit;

function post(message: WorkerMessage, transfer?: ArrayBuffer[]): void {
  port!.postMessage(message, transfer);
}

const backend = loadNativeGcmBackend() ?? nodeCryptoBackend;
const stats = new PacketStats();
const registry = new SessionRegistry(init.registry, backend, {
  onSessionEnded: (session, reason) => post({ type: 'session-ended', sessionId: session.sessionId, channelId: session.channelId, reason }),
});
// The router is made once the socket is bound, with the transport itself as its sink, so that
// each listener's copy is sealed straight into the sendmmsg batch (DatagramSink.reserve).
let router: DatagramRouter | null = null;
const udp = await UdpTransport.bind(
  {
    host: init.udp.host,
    port: init.udp.port,
    receiveBufferBytes: init.socketBufferBytes,
    sendBufferBytes: init.socketBufferBytes,
    maxDatagramBytes: init.router.maxDatagramBytes,
  },
  (datagram, from) => router?.handle(datagram, from),
  (error) => post({ type: 'warning', event: 'udp_socket_error', error: { name: error.name, message: error.message } }),
);
router = new DatagramRouter(registry, udp, stats, init.router);
// Where clients reach this worker is the main thread's business (it advertises every worker's
// endpoint); the worker only needs the registry half of LocalSessionDirectory.
const sessions = new LocalSessionDirectory(registry, { worker: init.index, udpPort: udp.port, udpEndpoint: { host: init.udp.host, port: udp.port } });

const sweepTimer = setInterval(() => registry.sweep(Date.now()), init.sweepIntervalMs);

async function answer(request: WorkerRequest): Promise<WorkerReplies[WorkerRequest['type']]> {
  switch (request.type) {
    case 'install': {
      const { session, now } = request;
      const keys = unpackSessionKeys(request.keys, session.ssrc, session.profile);
      try {
        await sessions.install({ ...session, ...keys }, now);
      } finally {
        new Uint8Array(request.keys).fill(0);
      }
      return null;
    }
    case 'update':
      return (await sessions.update(request.sessionId, request.patch)) ?? null;
    case 'rotate': {
      const keys = unpackSessionKeys(request.keys, request.ssrc, request.profile);
      try {
        return (await sessions.rotate(request.sessionId, keys, request.now)) ?? null;
      } finally {
        new Uint8Array(request.keys).fill(0);
      }
    }
    case 'revoke':
      return sessions.revoke(request.sessionId, request.now);
    case 'list':
      return sessions.list();
    case 'stats':
      return { sessions: registry.size, channels: registry.channelCount, packets: stats.snapshot(udp.sendErrors) };
    case 'drain':
      registry.startDraining();
      return null;
    case 'ping':
      return null;
    case 'report':
      return { rekeyRequested: registry.sessionsAskingForRekey(request.limit) };
    case 'close':
      clearInterval(sweepTimer);
      registry.close(Date.now());
      await udp.close();
      return null;
  }
}

port.on('message', (request: WorkerRequest) => {
  answer(request).then(
    (value) => {
      post({ type: 'reply', id: request.id, ok: true, value });
      if (request.type === 'close') port.close();
    },
    (error: unknown) => {
      // Refusals are answers; anything else is a bug, and this worker's shard cannot be trusted.
      if (error instanceof InstallRefusedError) post({ type: 'reply', id: request.id, ok: false, refusal: error.reason });
      else throw error;
    },
  );
});

answerMemoryProbes();

/**
 * Only under `node --expose-gc` (never in production): a benchmark's memory probe in the main
 * thread (bench/relay/relay-probe.ts) asks every worker on a BroadcastChannel to collect garbage
 * and report its heap, since each worker's sessions live in its own V8 heap. Nothing about the
 * relay's state crosses but sizes.
 */
function answerMemoryProbes(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (typeof collect !== 'function') return;
  const channel = new BroadcastChannel(MEMORY_PROBE_CHANNEL);
  channel.unref(); // never what keeps a worker alive
  channel.onmessage = (event: MessageEvent) => {
    const request = event.data as MemoryProbeRequest;
    if (request?.type !== 'collect') return;
    collect();
    collect();
    const usage = process.memoryUsage();
    const reply: MemoryProbeReply = {
      type: 'collected',
      id: request.id,
      worker: init.index,
      heapUsed: usage.heapUsed,
      heapTotal: usage.heapTotal,
      external: usage.external,
      arrayBuffers: usage.arrayBuffers,
    };
    channel.postMessage(reply);
  };
}

post({
  type: 'ready',
  udpPort: udp.port,
  srtpBackend: backend.name,
  srtpFallback: backend === nodeCryptoBackend ? nativeGcmBackendError : null,
  batchingUnavailable: udp.batchingUnavailable,
  batchedInputUnavailable: udp.batchedInputUnavailable,
});
