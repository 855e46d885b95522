/**
 * Preloaded into the relay process for the memory measurement only
 * (`node --expose-gc --import tsx --import ./bench/relay/relay-probe.ts relay/src/main.ts`).
 * The relay exposes no way to run a garbage collection, so this answers one IPC question —
 * "collect, then tell me your memory" (and, when asked, write a heap snapshot) — and does nothing
 * else. It never touches relay state.
 */
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import type { ProbeReply, ProbeRequest } from './load-protocol.js';

if (process.send !== undefined) {
  // The relay's own lifetime decides when it exits; the channel must not keep it alive.
  process.channel?.unref();
  process.on('message', (message: ProbeRequest) => {
    if (message?.type !== 'memory') return;
    const collect = (globalThis as { gc?: () => void }).gc;
    const gcRan = message.gc && typeof collect === 'function';
    if (gcRan) {
      collect();
      collect();
    }
    // Figures first: writing a snapshot allocates (and its own GC would blur them).
    const usage = process.memoryUsage();
    const spaces: Record<string, { used: number; committed: number }> = {};
    for (const space of getHeapSpaceStatistics()) spaces[space.space_name] = { used: space.space_used_size, committed: space.space_size };
    const reply: ProbeReply = {
      type: 'memory',
      gcRan,
      rss: usage.rss,
      heapUsed: usage.heapUsed,
      heapTotal: usage.heapTotal,
      external: usage.external,
      arrayBuffers: usage.arrayBuffers,
      spaces,
    };
    if (message.heapSnapshotPath !== undefined) writeHeapSnapshot(message.heapSnapshotPath);
    process.send!(reply);
  });
}
