// A stand-in relay worker for test/e2e/relay-worker-failure.test.ts: it speaks the main thread's
// side of relay/src/workers/worker-protocol.ts like relay/src/workers/worker-thread.ts, holds no
// sockets or keys, and exits (as a crash would) when asked to install a session in a channel
// named "die-…", or hangs (a busy loop that never yields) for a channel named "hang-…", or hangs a
// moment after answering for a channel named "quiet-hang-…".
import { parentPort, workerData } from 'node:worker_threads';

const sessions = new Set();
const emptyStats = { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, sendErrors: 0, dropped: {}, processingBuckets: [], processingSum: 0, processingCount: 0 };

parentPort.on('message', (request) => {
  const reply = (value) => parentPort.postMessage({ type: 'reply', id: request.id, ok: true, value });
  switch (request.type) {
    case 'install':
      if (request.session.channelId.startsWith('die-')) process.exit(70);
      if (request.session.channelId.startsWith('hang-')) for (;;);
      if (request.session.channelId.startsWith('quiet-hang-')) setTimeout(() => { for (;;); }, 20);
      sessions.add(request.session.sessionId);
      return reply(null);
    case 'revoke':
      return reply(sessions.delete(request.sessionId));
    case 'list':
      return reply([...sessions].map((sessionId) => ({ sessionId })));
    case 'stats':
      return reply({ sessions: sessions.size, channels: 0, packets: { ...emptyStats, packetsIn: 10 * (workerData.index + 1) } });
    case 'report':
      return reply({ rekeyRequested: [] });
    case 'close':
      reply(null);
      return parentPort.close();
    default:
      return reply(null);
  }
});
parentPort.postMessage({ type: 'ready', udpPort: 50000 + workerData.index, srtpBackend: 'none', srtpFallback: null, batchingUnavailable: null, batchedInputUnavailable: null });
