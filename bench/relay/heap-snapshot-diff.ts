/**
 * `tsx bench/relay/heap-snapshot-diff.ts before.heapsnapshot after.heapsnapshot [count]`: what
 * grew between two V8 heap snapshots, by constructor (objects) or kind (strings, arrays, …),
 * divided by `count` (e.g. the sessions installed in between) — the memory phase of
 * `npm run bench:relay -- --memory-only --heap-snapshots DIR` writes such a pair.
 *
 * Self sizes only: what each kind of object itself occupies, not what it keeps alive.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly node_types: [string[], ...unknown[]] } };
  readonly nodes: number[];
  readonly strings: string[];
}

/** Node types whose names are per-instance (a string's name is its text): grouped by type. */
const GROUPED_BY_TYPE = new Set(['string', 'concatenated string', 'sliced string', 'number', 'code', 'regexp', 'bigint']);

function totals(file: string): Map<string, { count: number; bytes: number }> {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const byKey = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snapshot.nodes.length; i += stride) {
    const type = types[snapshot.nodes[i + typeAt]!]!;
    const name = snapshot.strings[snapshot.nodes[i + nameAt]!]!;
    const key = GROUPED_BY_TYPE.has(type) ? `(${type})` : type === 'object' || type === 'closure' ? name : `(${type}) ${name.slice(0, 48)}`;
    const entry = byKey.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += snapshot.nodes[i + sizeAt]!;
    byKey.set(key, entry);
  }
  return byKey;
}

const [beforeFile, afterFile, countArg] = process.argv.slice(2);
if (beforeFile === undefined || afterFile === undefined) {
  console.error('usage: tsx bench/relay/heap-snapshot-diff.ts before.heapsnapshot after.heapsnapshot [count]');
  process.exit(2);
}
const per = Number(countArg ?? 1);
const before = totals(beforeFile);
const after = totals(afterFile);
const rows = [...after].map(([key, a]) => {
  const b = before.get(key) ?? { count: 0, bytes: 0 };
  return { key, count: (a.count - b.count) / per, bytes: (a.bytes - b.bytes) / per };
});
rows.sort((x, y) => y.bytes - x.bytes);
const total = rows.reduce((sum, r) => sum + r.bytes, 0);
console.log(`self bytes grown per unit (÷ ${per}): ${total.toFixed(0)} in all`);
for (const r of rows.filter((r) => Math.abs(r.bytes) >= 2).slice(0, 40)) {
  console.log(`${r.bytes.toFixed(0).padStart(7)} B ${r.count.toFixed(2).padStart(7)} ×  ${r.key}`);
}
