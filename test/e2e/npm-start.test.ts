/**
 * `npm start` itself, as a user runs it (on ephemeral ports and a temporary state directory):
 * it prints the URLs once everything is healthy and they answer; SIGTERM stops every process it
 * started and exits 0; a child that dies is named, the rest stopped, exit 1; a second run on the
 * same directory is refused; a taken port the user asked for fails clearly; and the processes a
 * SIGKILLed run leaves behind are stopped by the next run.
 */
import { createServer, type Server } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../control/dev/local-paths.js';
import { isAlive, listPids, readCommandLine, readProcessStat } from '../../control/dev/local-stack/proc.js';
import { findStackProcesses } from '../../control/dev/local-stack/stack-lock.js';
import { SupervisedProcess } from '../../control/dev/local-stack/supervised-process.js';

const EPHEMERAL = ['--control-port', '0', '--libsql-port', '0', '--relay-api-port', '0', '--relay-udp-port', '0', '--relay-metrics-port', '0'];

let stateDir: string;
const runs: SupervisedProcess[] = [];

beforeAll(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'parley-e2e-npm-start-'));
});

// A failed test must not leave its run holding the state directory for the next one.
afterEach(async () => {
  await Promise.all(runs.splice(0).map((run) => run.stop(20_000)));
}, 60_000);

afterAll(async () => {
  for (const leftover of findStackProcesses(stateDir)) process.kill(-leftover.processGroup, 'SIGKILL');
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

function npmStart(args: readonly string[]): SupervisedProcess {
  const run = SupervisedProcess.start({
    name: 'npm start',
    command: 'npm',
    args: ['start', '--', '--quiet', '--state-dir', stateDir, ...args],
    cwd: REPO_ROOT,
    env: { ...process.env, PARLEY_ENV: 'development' },
    tailLines: 200,
  });
  runs.push(run);
  return run;
}

/** Resolves with the output so far once a line matches; rejects if the run exits first. */
function outputUntil(run: SupervisedProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => (run.tail().some((l) => pattern.test(l)) ? run.tail().join('\n') : null);
    const seen = check();
    if (seen !== null) return resolve(seen);
    const stop = run.onLine(() => {
      const output = check();
      if (output !== null) {
        stop();
        resolve(output);
      }
    });
    void run.exited.then((status) => {
      stop();
      const output = check();
      if (output !== null) resolve(output);
      else reject(new Error(`npm start exited (${status.code ?? status.signal}) before /${pattern.source}/:\n${run.tail().join('\n')}`));
    });
  });
}

/** The value printed on a summary row, e.g. "control plane" → http://127.0.0.1:PORT. */
function row(output: string, label: string): string {
  const summary = output.slice(output.indexOf('Parley is running'));
  const match = new RegExp(`^  ${label}\\s+(\\S+)`, 'm').exec(summary);
  if (match === null) throw new Error(`no "${label}" row in:\n${output}`);
  return match[1]!;
}

/** The node process npm exec-ed for `npm start` (npm's child). */
function supervisorOf(run: SupervisedProcess): number {
  const child = listPids().find((pid) => readProcessStat(pid)?.parentPid === run.pid && readCommandLine(pid).includes('control/dev/start.ts'));
  if (child === undefined) throw new Error('no control/dev/start.ts process under npm');
  return child;
}

describe('npm start', () => {
  it('fails clearly when a port given on the command line is taken', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const taken = (server.address() as { port: number }).port;
    try {
      const run = npmStart([...EPHEMERAL, '--control-port', String(taken)]);
      expect((await run.exited).code).toBe(1);
      expect(run.tail().join('\n')).toContain(`control plane port ${taken}/tcp is held by pid ${process.pid}`);
      expect(findStackProcesses(stateDir)).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 60_000);

  let firstKey = '';

  it('prints the URLs once everything is healthy, and each answers', async () => {
    const run = npmStart(EPHEMERAL);
    const output = await outputUntil(run, /^\(up in /);
    expect(output).toContain('Parley is running on this machine, with development keys (production refuses them):');
    const control = row(output, 'control plane');
    const health = await fetch(row(output, 'health'));
    expect(await health.json()).toMatchObject({ ok: true, service: 'parley-control' });
    const openapi = (await (await fetch(row(output, 'OpenAPI'))).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(openapi.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.paths)).toContain('/v1/admin/relays');
    expect((await fetch(`${row(output, 'relay API')}/healthz`)).status).toBe(200);
    expect(await (await fetch(row(output, 'relay metrics'))).text()).toContain('parley_relay_');
    expect(await (await fetch(`${row(output, 'database')}/v2`)).text()).toContain('Hrana');
    // First run: the operator key is new, shown once, and kept (mode 0600) for later runs.
    firstKey = row(output, 'operator key');
    expect(readFileSync(join(stateDir, 'operator-app-key'), 'utf8').trim()).toBe(firstKey);
    const relays = await fetch(`${control}/v1/admin/relays`, { headers: { authorization: `Bearer ${firstKey}` } });
    const listing = (await relays.json()) as { relays: { relayId: string; status: string; udpEndpoints: { port: number }[] }[] };
    expect(listing.relays.find((r) => r.relayId === 'local-relay')).toMatchObject({
      status: 'alive',
      udpEndpoints: [{ port: Number(row(output, 'relay UDP').split(':')[1]) }],
    });

    // A second stack on the same state directory is refused while this one runs.
    const second = npmStart(EPHEMERAL);
    expect((await second.exited).code).toBe(1);
    expect(second.tail().join('\n')).toMatch(/a local stack already runs on .* \(pid \d+\)/);

    // SIGKILL npm start's own process: its children live on, orphaned, as after a crash.
    const supervisor = supervisorOf(run);
    process.kill(supervisor, 'SIGKILL');
    await run.exited;
    await expect.poll(() => isAlive(supervisor)).toBe(false);
    expect(findStackProcesses(stateDir).length).toBeGreaterThan(0);
  }, 240_000);

  it('stops what a killed run left behind, reuses the operator key, and when a child dies names it, stops the rest and exits 1', async () => {
    const orphans = findStackProcesses(stateDir).map((p) => p.pid);
    const run = npmStart(EPHEMERAL);
    const output = await outputUntil(run, /^\(up in /);
    expect(output).toMatch(/stopped \d+ process\(es\) that a killed run on .* left behind/);
    expect(orphans.filter(isAlive)).toEqual([]);
    expect(row(output, 'operator key')).toBe(`${stateDir}/operator-app-key`);

    const relay = findStackProcesses(stateDir).find((p) => /relay\/src\/main\.ts|dist\/relay\/src\/main\.js/.test(p.commandLine));
    expect(relay).toBeDefined();
    process.kill(relay!.pid, 'SIGKILL');
    expect((await run.exited).code).toBe(1);
    expect(run.tail().join('\n')).toContain('relay was killed by SIGKILL; stopping the rest.');
    expect(findStackProcesses(stateDir)).toEqual([]);
  }, 240_000);

  it('stops every process it started on SIGTERM and exits 0', async () => {
    const run = npmStart(EPHEMERAL);
    await outputUntil(run, /^\(up in /);
    const children = findStackProcesses(stateDir);
    expect(children.length).toBeGreaterThanOrEqual(4);
    run.signal('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.tail().join('\n')).toContain('Stopped: every process npm start started has exited.');
    expect(children.map((c) => c.pid).filter(isAlive)).toEqual([]);
    expect(findStackProcesses(stateDir)).toEqual([]);
  }, 240_000);
});
