/**
 * Preloaded into the relay process for the memory measurement only
 * (`node --expose-gc --import ./dist/bench/relay/relay-probe.js dist/relay/src/main.js`, compiled by
 * bench/tsconfig.relay-probe.json).
 * The relay exposes no way to run a garbage collection, so this answers one IPC question —
 * "collect, then tell me your memory" (and, when asked, write a heap snapshot) — and does nothing
 * else. It never touches relay state.
 *
 * Sessions live in the relay workers' heaps (one V8 isolate per worker thread), not in the main
 * thread's, so the probe first asks every worker, over the relay's memory-probe BroadcastChannel
 * (which workers open only under --expose-gc, inherited from this process), to collect and
 * report its heap, then collects here; the heap figures it returns are the sums. RSS is the
 * process's, all threads included. The per-space figures and the heap snapshot are the main
 * thread's only (the API's share of each session); a worker's heap is summed, not itemised.
 */
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { BroadcastChannel } from 'node:worker_threads';
import { MEMORY_PROBE_CHANNEL, type MemoryProbeReply, type MemoryProbeRequest } from '../../relay/src/workers/worker-protocol.js';
import type { ProbeReply, ProbeRequest } from './load-protocol.js';

/** The workers the relay runs: RELAY_WORKERS, or its development default of 1. */
const EXPECTED_WORKERS = Number(process.env['RELAY_WORKERS'] ?? '1');
const WORKER_TIMEOUT_MS = 5_000;

let nextProbe = 1;

/** Every worker's heap after a full GC, or fewer if some do not answer in time. */
function collectInWorkers(): Promise<MemoryProbeReply[]> {
  const channel = new BroadcastChannel(MEMORY_PROBE_CHANNEL);
  const id = nextProbe++;
  const replies = new Map<number, MemoryProbeReply>();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      channel.close();
      resolve([...replies.values()]);
    };
    const timer = setTimeout(done, WORKER_TIMEOUT_MS);
    channel.onmessage = (event: MessageEvent) => {
      const reply = event.data as MemoryProbeReply;
      if (reply?.type !== 'collected' || reply.id !== id) return;
      replies.set(reply.worker, reply);
      if (replies.size >= EXPECTED_WORKERS) done();
    };
    const request: MemoryProbeRequest = { type: 'collect', id };
    channel.postMessage(request);
  });
}

if (process.send !== undefined) {
  // The relay's own lifetime decides when it exits; the channel must not keep it alive.
  process.channel?.unref();
  process.on('message', (message: ProbeRequest) => {
    if (message?.type !== 'memory') return;
    void (async () => {
      const collect = (globalThis as { gc?: () => void }).gc;
      const gcRan = message.gc && typeof collect === 'function';
      const workers = gcRan ? await collectInWorkers() : [];
      if (gcRan) {
        collect();
        collect();
      }
      // Figures first: writing a snapshot allocates (and its own GC would blur them).
      const usage = process.memoryUsage();
      const sum = (field: 'heapUsed' | 'heapTotal' | 'external' | 'arrayBuffers'): number => workers.reduce((n, w) => n + w[field], usage[field]);
      const spaces: Record<string, { used: number; committed: number }> = {};
      for (const space of getHeapSpaceStatistics()) spaces[space.space_name] = { used: space.space_used_size, committed: space.space_size };
      const reply: ProbeReply = {
        type: 'memory',
        gcRan,
        workers: workers.length,
        rss: usage.rss,
        heapUsed: sum('heapUsed'),
        heapTotal: sum('heapTotal'),
        external: sum('external'),
        arrayBuffers: sum('arrayBuffers'),
        spaces,
      };
      if (message.heapSnapshotPath !== undefined) writeHeapSnapshot(message.heapSnapshotPath);
      process.send!(reply);
    })();
  });
}
