/**
 * The process management under `npm start` (control/dev/local-stack/), with real processes and
 * sockets on loopback: process groups stopped whole (SIGTERM, then SIGKILL), a death reported
 * with its status, one stack per state directory, leftovers of a killed run found by their
 * environment and stopped, and ports that fall back or fail naming who holds them.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { choosePort, PortUnavailableError } from '../../control/dev/local-stack/ports.js';
import { isAlive, processGroupMembers } from '../../control/dev/local-stack/proc.js';
import { waitUntilReady, ChildDiedError, NotReadyError, StartAbortedError } from '../../control/dev/local-stack/readiness.js';
import {
  findLeftovers,
  LOCK_FILE_NAME,
  processIdentity,
  StackAlreadyRunningError,
  StackLock,
  STACK_DIR_VARIABLE,
  STACK_OWNER_VARIABLE,
  stopLeftovers,
} from '../../control/dev/local-stack/stack-lock.js';
import { SupervisedProcess } from '../../control/dev/local-stack/supervised-process.js';

let workDir: string;
const started: SupervisedProcess[] = [];

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'parley-stack-processes-'));
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop(500)));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

/** A node child running `script`; its output goes to `log` when given. */
function startNode(script: string, options: { env?: NodeJS.ProcessEnv; logFile?: string } = {}): SupervisedProcess {
  const child = SupervisedProcess.start({
    name: 'test child',
    command: process.execPath,
    args: ['-e', script],
    cwd: workDir,
    env: { ...process.env, ...options.env },
    logFile: options.logFile,
  });
  started.push(child);
  return child;
}

/** Resolves with the first line that matches. */
function lineMatching(child: SupervisedProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve) => {
    const seen = child.tail().find((line) => pattern.test(line));
    if (seen !== undefined) return resolve(seen);
    const stop = child.onLine((line) => {
      if (pattern.test(line)) {
        stop();
        resolve(line);
      }
    });
  });
}

// A parent that starts a grandchild (same process group) and prints both pids.
const PARENT_WITH_GRANDCHILD = `
  const { spawn } = require('node:child_process');
  const grandchild = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  console.log('pids ' + process.pid + ' ' + grandchild.pid);
  setInterval(() => {}, 1000);
`;

describe('SupervisedProcess', () => {
  it('leads its own process group, and stop() ends the whole group, grandchildren included', async () => {
    const child = startNode(PARENT_WITH_GRANDCHILD);
    const [, parentPid, grandchildPid] = (await lineMatching(child, /^pids /)).split(' ').map(Number);
    expect(parentPid).toBe(child.pid);
    expect(processGroupMembers(child.pid).map((m) => m.pid).sort()).toEqual([child.pid, grandchildPid].sort());
    const status = await child.stop();
    expect(status).toEqual({ code: null, signal: 'SIGTERM' });
    expect(isAlive(grandchildPid!)).toBe(false);
    expect(child.groupMembers()).toEqual([]);
    // Idempotent: the same answer again.
    expect(await child.stop()).toEqual(status);
  });

  it('escalates to SIGKILL when the group ignores SIGTERM past the grace period', async () => {
    const child = startNode(`process.on('SIGTERM', () => console.log('ignored')); console.log('up'); setInterval(() => {}, 1000);`);
    await lineMatching(child, /^up$/);
    const status = await child.stop(300);
    expect(status.signal).toBe('SIGKILL');
    expect(child.tail()).toContain('ignored');
  });

  it('reports its own exit, keeps the last lines, and writes every line to its log file', async () => {
    const logFile = join(workDir, 'child.log');
    const child = startNode(`for (let i = 0; i < 50; i++) console.log('line ' + i); console.error('on stderr'); process.exit(3);`, { logFile });
    expect(await child.exited).toEqual({ code: 3, signal: null });
    expect(child.running).toBe(false);
    await child.stop();
    expect(child.tail()).toHaveLength(40);
    expect(child.tail()).toContain('on stderr');
    const logged = readFileSync(logFile, 'utf8').trim().split('\n');
    expect(logged).toHaveLength(51);
    expect(logged).toContain('line 0');
  });

  it('kill() ends a group at once, while a stop() waits out its grace period', async () => {
    const child = startNode(`process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000);`);
    await lineMatching(child, /^up$/);
    const stopping = child.stop(60_000);
    child.kill();
    expect((await stopping).signal).toBe('SIGKILL');
  });
});

describe('waitUntilReady', () => {
  it('gives up at once, naming the process, when a watched process dies', async () => {
    const child = startNode(`setTimeout(() => process.exit(7), 100);`);
    const waiting = waitUntilReady({ what: 'waiting for nothing', probe: async () => ({ state: 'waiting', detail: 'never' }), watch: [child], timeoutMs: 60_000 });
    await expect(waiting).rejects.toThrow(ChildDiedError);
    await expect(waiting).rejects.toThrow(/test child exited with code 7 while waiting for nothing/);
  });

  it('stops on a failed probe, on its time limit and when aborted', async () => {
    await expect(waitUntilReady({ what: 'w', probe: async () => ({ state: 'failed', detail: 'broken' }), watch: [], timeoutMs: 60_000 })).rejects.toThrow(/w: broken/);
    await expect(waitUntilReady({ what: 'w', probe: async () => ({ state: 'waiting', detail: 'slow' }), watch: [], timeoutMs: 50, intervalMs: 10 })).rejects.toThrow(NotReadyError);
    const abort = new AbortController();
    const waiting = waitUntilReady({ what: 'w', probe: async () => ({ state: 'waiting', detail: 'slow' }), watch: [], timeoutMs: 60_000, signal: abort.signal });
    abort.abort();
    await expect(waiting).rejects.toThrow(StartAbortedError);
  });
});

describe('StackLock', () => {
  it('refuses a second stack on the same directory while the first owner lives', () => {
    const dir = join(workDir, 'locked');
    const lock = StackLock.acquire(dir);
    expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8').trim()).toBe(processIdentity(process.pid));
    expect(() => StackLock.acquire(dir)).toThrow(StackAlreadyRunningError);
    lock.release();
    lock.release();
    const again = StackLock.acquire(dir);
    again.release();
  });

  it('takes over a lock whose owner is gone, even if its pid was reused', async () => {
    const dir = join(workDir, 'stale');
    const child = startNode(`console.log('up'); setInterval(() => {}, 1000);`);
    await lineMatching(child, /^up$/);
    const deadOwner = processIdentity(child.pid)!;
    await child.stop();
    StackLock.acquire(dir).release();
    writeFileSync(join(dir, LOCK_FILE_NAME), `${deadOwner}\n`);
    const lock = StackLock.acquire(dir);
    expect(lock.owner).toBe(processIdentity(process.pid));
    lock.release();
    // Our own pid with another start time is not us.
    writeFileSync(join(dir, LOCK_FILE_NAME), `${process.pid}:1\n`);
    StackLock.acquire(dir).release();
  });

  it('leaves a lock that is not its own in place', () => {
    const dir = join(workDir, 'not-ours');
    const lock = StackLock.acquire(dir);
    writeFileSync(join(dir, LOCK_FILE_NAME), '1:1\n');
    lock.release();
    expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')).toBe('1:1\n');
  });
});

describe('leftovers of a killed run', () => {
  it('are the processes marked with the directory whose owner is gone, and they are stopped by group', async () => {
    const dir = join(workDir, 'leftovers');
    const marked = (owner: string) => ({ [STACK_DIR_VARIABLE]: dir, [STACK_OWNER_VARIABLE]: owner });
    // An owner that has exited.
    const owner = startNode(`console.log('up'); setInterval(() => {}, 1000);`);
    await lineMatching(owner, /^up$/);
    const goneOwner = processIdentity(owner.pid)!;
    await owner.stop();

    // Orphans of that owner: a parent and its grandchild (they inherit the marks), not
    // supervised by this test (as after a SIGKILL of npm start).
    const orphan = spawn(process.execPath, ['-e', PARENT_WITH_GRANDCHILD], { detached: true, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ...marked(goneOwner) } });
    const pids = await new Promise<number[]>((resolve) => orphan.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim().split(' ').slice(1).map(Number))));
    // A process of a stack that still runs (owner: this test process) is not a leftover.
    const alive = startNode(`console.log('up'); setInterval(() => {}, 1000);`, { env: marked(processIdentity(process.pid)!) });
    await lineMatching(alive, /^up$/);

    const leftovers = findLeftovers(dir);
    expect(leftovers.map((l) => l.pid).sort()).toEqual([...pids].sort());
    expect(new Set(leftovers.map((l) => l.processGroup))).toEqual(new Set([orphan.pid]));
    await stopLeftovers(leftovers);
    expect(pids.map(isAlive)).toEqual([false, false]);
    expect(findLeftovers(dir)).toEqual([]);
    expect(alive.running).toBe(true);
  });
});

describe('choosePort', () => {
  let server: Server;
  let takenTcp: number;

  beforeAll(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    takenTcp = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('keeps a free port, and picks any free port for 0', async () => {
    const free = await choosePort({ name: 'x', kind: 'tcp', port: 0, explicit: true, option: '--x-port' });
    expect(free.port).toBeGreaterThan(0);
    expect(await choosePort({ name: 'x', kind: 'tcp', port: free.port, explicit: true, option: '--x-port' })).toEqual({ port: free.port });
  });

  it('falls back from a taken default, naming the holder; fails for a taken port the user chose', async () => {
    const fallback = await choosePort({ name: 'control plane', kind: 'tcp', port: takenTcp, explicit: false, option: '--control-port' });
    expect(fallback.port).not.toBe(takenTcp);
    expect(fallback.notice).toContain(`control plane port ${takenTcp}/tcp is held by pid ${process.pid}`);
    expect(fallback.notice).toContain(`using ${fallback.port} instead`);
    const explicit = choosePort({ name: 'control plane', kind: 'tcp', port: takenTcp, explicit: true, option: '--control-port' });
    await expect(explicit).rejects.toThrow(PortUnavailableError);
    await expect(explicit).rejects.toThrow(new RegExp(`held by pid ${process.pid}.*--control-port PORT`));
  });

  it('does the same for UDP', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const taken = socket.address().port;
    try {
      const fallback = await choosePort({ name: 'relay UDP', kind: 'udp', port: taken, explicit: false, option: '--relay-udp-port' });
      expect(fallback.port).not.toBe(taken);
      expect(fallback.notice).toContain(`relay UDP port ${taken}/udp is held by pid ${process.pid}`);
      await expect(choosePort({ name: 'relay UDP', kind: 'udp', port: taken, explicit: true, option: '--relay-udp-port' })).rejects.toThrow(PortUnavailableError);
    } finally {
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    }
  });
});
