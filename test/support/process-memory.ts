/**
 * Searches the memory of a live process (Linux /proc/<pid>/mem; the caller needs ptrace access,
 * which a parent has over its child) for byte strings: how a test proves that no copy of a key is
 * left anywhere in a relay process, not only in the buffers the code knows about.
 *
 * Every readable private or anonymous mapping with resident pages is read, including the heap of
 * every thread (V8's heaps, malloc arenas, thread stacks). Mappings backed by files other than
 * anonymous memory are skipped: executables and libraries hold code, not keys.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

const CHUNK_BYTES = 1 << 20;

interface Mapping {
  readonly start: number;
  readonly end: number;
}

/** Readable, resident, non-file mappings of `pid` (smaps: perms start with r, Rss > 0). */
function readableMappings(pid: number): Mapping[] {
  const mappings: Mapping[] = [];
  let current: (Mapping & { readonly readable: boolean; readonly anonymous: boolean }) | null = null;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (header !== null) {
      const path = header[5]!;
      current = {
        start: parseInt(header[1]!, 16),
        end: parseInt(header[2]!, 16),
        readable: header[3]![0] === 'r',
        anonymous: header[4] === '0' && (path === '' || path.startsWith('[heap]') || path.startsWith('[stack') || path.startsWith('[anon')),
      };
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss !== null && current !== null && current.readable && current.anonymous && Number(rss[1]) > 0) {
      mappings.push({ start: current.start, end: current.end });
    }
  }
  return mappings;
}

/** How many times each needle occurs in the process's memory right now. */
export function countInProcessMemory(pid: number, needles: readonly Uint8Array[], where?: (needle: number, address: number) => void): number[] {
  const counts = needles.map(() => 0);
  const longest = Math.max(...needles.map((n) => n.length));
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  // Our own reading buffer is in this process, not the one searched, so it cannot match itself.
  const buffer = Buffer.alloc(CHUNK_BYTES + longest);
  try {
    for (const { start, end } of readableMappings(pid)) {
      let carried = 0;
      for (let at = start; at < end; at += CHUNK_BYTES) {
        const length = Math.min(CHUNK_BYTES, end - at);
        let read = 0;
        try {
          read = readSync(fd, buffer, carried, length, at);
        } catch {
          break; // unmapped meanwhile, or a guard page
        }
        const view = buffer.subarray(0, carried + read);
        needles.forEach((needle, i) => {
          for (let hit = view.indexOf(needle); hit >= 0; hit = view.indexOf(needle, hit + 1)) {
            // A hit inside the carried-over tail was counted in the previous chunk.
            if (hit + needle.length > carried) {
              counts[i]!++;
              where?.(i, at - carried + hit);
            }
          }
        });
        carried = Math.min(longest - 1, view.length);
        buffer.copyWithin(0, view.length - carried, view.length);
      }
    }
  } finally {
    closeSync(fd);
    buffer.fill(0);
  }
  return counts;
}

/**
 * countInProcessMemory for the process's own memory, where the needles themselves live: each
 * secret is given as a head and a tail held in separate buffers (never side by side), and a hit is
 * a head directly followed by its tail. The reading buffer is zeroed after every chunk, so that
 * reading the memory it sits in finds no copy this search made itself.
 */
export function countSplitInOwnMemory(pairs: ReadonlyArray<readonly [Uint8Array, Uint8Array]>): number[] {
  const counts = pairs.map(() => 0);
  const longest = Math.max(...pairs.map(([head, tail]) => head.length + tail.length));
  const fd = openSync('/proc/self/mem', 'r');
  const buffer = Buffer.alloc(CHUNK_BYTES + longest);
  try {
    for (const { start, end } of readableMappings(process.pid)) {
      let carried = 0;
      for (let at = start; at < end; at += CHUNK_BYTES) {
        const length = Math.min(CHUNK_BYTES, end - at);
        let read = 0;
        try {
          read = readSync(fd, buffer, carried, length, at);
        } catch {
          break;
        }
        const total = carried + read;
        pairs.forEach(([head, tail], i) => {
          for (let hit = buffer.indexOf(head); hit >= 0 && hit + head.length + tail.length <= total; hit = buffer.indexOf(head, hit + 1)) {
            if (hit + head.length + tail.length > carried && buffer.compare(tail, 0, tail.length, hit + head.length, hit + head.length + tail.length) === 0) counts[i]!++;
          }
        });
        carried = Math.min(longest - 1, total);
        buffer.copyWithin(0, total - carried, total);
        buffer.fill(0, carried);
      }
      buffer.fill(0);
    }
  } finally {
    closeSync(fd);
    buffer.fill(0);
  }
  return counts;
}
