/**
 * `npm run bench:control:profile` — where the channel room's CPU goes per key exchange, by
 * workerd's own V8 CPU profiler (the DevTools protocol's Profiler domain on workerd's
 * `--inspector-addr`), which bench:control's /proc figures cannot say.
 *
 * Starts the same local stack as bench:control (libSQL server, wrangler dev, a relay), warms the
 * room up, then profiles two phases of `--count` operations each, one at a time: rotations
 * (`request_rekey` and an exchange: the exchange alone) and joins with their leave. For each it
 * prints the busy time per operation the profiler sampled and splits it by the module each
 * sampled frame belongs to (the bundle wrangler built, mapped back through esbuild's
 * `// path` module comments) and by function. The profiler's own overhead is in the sampled
 * time, so read the shares, and take the absolute CPU per exchange from bench:control.
 *
 * A developer tool, not a test. `--keep <dir>` keeps the .cpuprofile files (Chrome DevTools
 * opens them).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { EPHEMERAL_PORTS, startLocalStack } from '../../control/dev/local-stack/local-stack.js';
import { readCommandLine } from '../../control/dev/local-stack/proc.js';
import { ControlClient, expectValue } from './control-client.js';
import { RoomSocket } from './room-socket.js';
import { sampleWeight, type CallFrame, type CpuProfile } from '../relay/cpu-profile-summary.js';

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The DevTools protocol over one WebSocket: numbered requests, answers matched by id. */
class Inspector {
  readonly #ws: WebSocket;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
      if (message.id === undefined) return;
      const waiter = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (message.error !== undefined) waiter?.reject(new Error(`inspector: ${message.error.message}`));
      else waiter?.resolve(message.result);
    });
  }

  static async connect(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Inspector(ws);
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.#ws.close();
  }
}

/**
 * The DevTools inspector wrangler dev serves (`--inspector-port`, on its own command line): its
 * proxy in front of workerd's inspector, which miniflare puts on a port of its choosing.
 */
function inspectorAddress(wranglerPid: number): string {
  const line = readCommandLine(wranglerPid, 100_000);
  const match = /--inspector-port[= ](\d+)/.exec(line);
  if (match === null) throw new Error('room-profile: wrangler dev runs without --inspector-port');
  return `127.0.0.1:${match[1]!}`;
}

async function workerTarget(address: string): Promise<string> {
  const response = await fetch(`http://${address}/json/list`);
  const targets = (await response.json()) as Array<{ id: string; title?: string; webSocketDebuggerUrl?: string }>;
  const target = targets.find((t) => !/proxy/i.test(t.title ?? t.id)) ?? targets[0];
  if (target === undefined) throw new Error('room-profile: workerd lists no inspector target');
  return target.webSocketDebuggerUrl ?? `ws://${address}/${target.id}`;
}

/** Line → module of a bundle esbuild wrote: each module starts with a `// path/to/file.ts` line. */
function moduleMap(bundle: string): (line: number) => string {
  const starts: Array<[number, string]> = [];
  const lines = bundle.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^\/\/ ((?:\.\.\/)*[\w@./+-]+\.(?:[cm]?[jt]s|json))$/.exec(lines[i]!);
    if (m !== null) starts.push([i, m[1]!.replace(/^(\.\.\/)+/, '').replace(/^.*node_modules\//, 'node_modules/')]);
  }
  return (line) => {
    let lo = 0;
    let hi = starts.length - 1;
    let found = '(bundle preamble)';
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]![0] <= line) {
        found = starts[mid]![1];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
}

/** A package name or a repository folder: what a reader asks "how much went to". */
function bucketOf(module: string): string {
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(module);
  if (pkg !== null) return pkg[1]!;
  return module;
}

interface Split {
  readonly busyMs: number;
  readonly byModule: Array<[string, number]>;
  readonly byFunction: Array<[string, number]>;
  readonly inclusive: Array<[string, number]>;
}

function splitProfile(profile: CpuProfile, bundles: Map<string, (line: number) => string>): Split {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const modules = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const weight = sampleWeight(profile, i);
    const node = byId.get(profile.samples[i]!);
    if (node === undefined) continue;
    const fn = node.callFrame.functionName || '(anonymous)';
    if (fn === '(idle)') continue;
    busy += weight;
    const url = node.callFrame.url;
    const map = bundles.get(url);
    const module = url === '' ? fn : map !== undefined ? map(node.callFrame.lineNumber) : url.replace(/^.*\//, '');
    const bucket = bucketOf(module);
    modules.set(bucket, (modules.get(bucket) ?? 0) + weight);
    const key = `${fn}  ${module}`;
    functions.set(key, (functions.get(key) ?? 0) + weight);
  }
  // Inclusive: each sample counts once for every distinct function on its stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const inclusive = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const weight = sampleWeight(profile, i);
    const leaf = byId.get(profile.samples[i]!);
    if (leaf === undefined || leaf.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (frame.functionName === '(root)') continue;
      const map = bundles.get(frame.url);
      const module = frame.url === '' ? '' : map !== undefined ? map(frame.lineNumber) : frame.url;
      const key = `${frame.functionName || '(anonymous)'}  ${module}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + weight);
    }
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, us]) => [k, us / 1000] as [string, number]);
  return { busyMs: busy / 1000, byModule: sorted(modules), byFunction: sorted(functions), inclusive: sorted(inclusive) };
}

function format(name: string, count: number, split: Split, top: number): string {
  const per = (ms: number) => (ms / count).toFixed(3).padStart(8);
  const share = (ms: number) => `${((100 * ms) / split.busyMs).toFixed(1).padStart(5)}%`;
  const lines = [`${name}: ${count} operations, ${split.busyMs.toFixed(0)} ms busy sampled, ${(split.busyMs / count).toFixed(2)} ms per operation`, '  by module (ms per operation, share):'];
  for (const [module, ms] of split.byModule.slice(0, top)) lines.push(`  ${per(ms)} ${share(ms)}  ${module}`);
  lines.push('  by function (self):');
  for (const [fn, ms] of split.byFunction.slice(0, top)) lines.push(`  ${per(ms)} ${share(ms)}  ${fn}`);
  lines.push('  by function (inclusive: on the stack), the repository\'s own code:');
  for (const [fn, ms] of split.inclusive.filter(([k]) => /  (control|shared)\//.test(k)).slice(0, 2 * top)) lines.push(`  ${per(ms)} ${share(ms)}  ${fn}`);
  return lines.join('\n');
}

/** The scripts workerd runs (wrangler's bundle), by URL, through the Debugger domain. */
async function scriptModules(inspector: Inspector, profiles: readonly CpuProfile[]): Promise<Map<string, (line: number) => string>> {
  const ids = new Map<string, string>();
  for (const profile of profiles) for (const n of profile.nodes) if (n.callFrame.url !== '') ids.set(n.callFrame.url, (n.callFrame as CallFrame & { scriptId: string }).scriptId);
  const modules = new Map<string, (line: number) => string>();
  await inspector.call('Debugger.enable');
  try {
    for (const [url, scriptId] of ids) {
      try {
        const { scriptSource } = await inspector.call<{ scriptSource: string }>('Debugger.getScriptSource', { scriptId });
        modules.set(url, moduleMap(scriptSource));
      } catch {
        // A runtime-internal script: named by its URL.
      }
    }
  } finally {
    await inspector.call('Debugger.disable');
  }
  return modules;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { count: { type: 'string', default: '200' }, top: { type: 'string', default: '25' }, keep: { type: 'string' }, interval: { type: 'string', default: '100' } },
    strict: true,
  });
  const count = Number(values.count);
  const top = Number(values.top);
  const stateDir = mkdtempSync(join(tmpdir(), 'parley-room-profile-'));
  progress('room-profile: starting the local libSQL server, wrangler dev and the relay…');
  const stack = await startLocalStack({ stateDir, ports: EPHEMERAL_PORTS, relay: { relayId: 'profile-relay', environment: { RELAY_LOG_LEVEL: 'warn' } }, log: (line) => progress(`  ${line.trim()}`) });
  let inspector: Inspector | null = null;
  try {
    const client = new ControlClient(stack.control.url);
    const operatorKey = stack.operatorKey.key;
    const channelId = expectValue('create a channel', await client.createChannel(operatorKey, 'room-profile')).id;
    const tokens: string[] = [];
    for (let u = 0; u < 8; u++) tokens.push(expectValue('mint a token', await client.mintToken(operatorKey, `profile-${u}`, channelId, 3600)).accessToken);
    const controlUrl = stack.control.url;
    const join1 = async (token: string) => {
      const socket = await RoomSocket.authenticate(controlUrl, channelId, token);
      await socket.exchange();
      return socket;
    };
    for (let i = 0; i < 5; i++) await (await join1(tokens[0]!)).leave();
    const inVoice: RoomSocket[] = [];
    for (let s = 0; s < 8; s++) inVoice.push(await join1(tokens[s]!));
    for (const s of inVoice) await s.rotate();

    const address = inspectorAddress(stack.control.process.pid);
    inspector = await Inspector.connect(await workerTarget(address));
    await inspector.call('Profiler.enable');
    await inspector.call('Profiler.setSamplingInterval', { interval: Number(values.interval) });

    const phase = async (name: string, op: (i: number) => Promise<void>): Promise<[string, CpuProfile]> => {
      progress(`  profiling ${name}: ${count}…`);
      await inspector!.call('Profiler.start');
      for (let i = 0; i < count; i++) await op(i);
      const { profile } = await inspector!.call<{ profile: CpuProfile }>('Profiler.stop');
      if (values.keep !== undefined) mkdirSync(values.keep, { recursive: true });
      if (values.keep !== undefined) writeFileSync(join(values.keep, `${name.replace(/\W+/g, '-')}.cpuprofile`), JSON.stringify(profile));
      return [name, profile];
    };
    const profiles: Array<[string, CpuProfile]> = [];
    profiles.push(await phase('rotation', (i) => inVoice[i % inVoice.length]!.rotate().then(() => undefined)));
    await Promise.all(inVoice.map((s) => s.leave()));
    profiles.push(
      await phase('join and leave', async (i) => {
        await (await join1(tokens[i % tokens.length]!)).leave();
      }),
    );
    profiles.push(
      await phase('authenticate', async (i) => {
        await (await RoomSocket.authenticate(controlUrl, channelId, tokens[i % tokens.length]!)).close();
      }),
    );
    const modules = await scriptModules(inspector, profiles.map(([, p]) => p));
    process.stdout.write(`${profiles.map(([name, profile]) => format(name, count, splitProfile(profile, modules), top)).join('\n\n')}\n`);
  } finally {
    inspector?.close();
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`room-profile: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
