/**
 * The relay as deployed: `npm run relay:build` compiles it, and `npm run relay` runs the compiled
 * build with the Docker image's own command line, passing SIGTERM on to the relay (which then
 * drains and exits) instead of leaving it orphaned behind a shell.
 */
import { RELAY_NODE_FLAGS } from '../../relay/src/node-flags.js';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { allocateRelayPorts } from '../../cli/relay-process.js';
import { INSECURE_DEV_RELAY_PUBLIC_KEY } from '../../relay/src/config.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The CMD of the Dockerfile's last stage, as an argv. */
function dockerCommand(): string[] {
  const dockerfile = readFileSync(new URL('Dockerfile', `file://${REPO_ROOT}`), 'utf8');
  const cmd = [...dockerfile.matchAll(/^CMD (\[.*\])$/gm)].at(-1)?.[1];
  if (cmd === undefined) throw new Error('Dockerfile has no exec-form CMD');
  return JSON.parse(cmd) as string[];
}

beforeAll(() => {
  const build = spawnSync('npm', ['run', '--silent', 'relay:build'], { cwd: REPO_ROOT, encoding: 'utf8' });
  expect(build.status, build.stdout + build.stderr).toBe(0);
}, 120_000);

describe('npm run relay (the compiled relay, as the Docker image runs it)', () => {
  it('runs the command of the Dockerfile, exec-ed so that the relay is npm\'s own child', () => {
    const scripts = (JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['relay']).toBe(`exec ${dockerCommand().join(' ')}`);
    // …which is node with the relay's own flags (the local stack and the benchmarks use them too).
    expect(dockerCommand()).toEqual(['node', ...RELAY_NODE_FLAGS, 'dist/relay/src/main.js']);
    expect(scripts['relay:build']).toBe('tsc -p relay/tsconfig.build.json');
  });

  it('passes SIGTERM on: the relay drains and exits with npm, leaving no orphan', async () => {
    const ports = await allocateRelayPorts();
    const npm = spawn('npm', ['run', '--silent', 'relay'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PARLEY_ENV: 'development',
        RELAY_ID: 'compiled-relay',
        RELAY_UDP_HOST: '127.0.0.1',
        RELAY_UDP_PORT: String(ports.udp),
        RELAY_API_PORT: String(ports.api),
        RELAY_METRICS_PORT: String(ports.metrics),
        RELAY_REGISTER: 'false',
        RELAY_ANNOUNCE_PORTS: 'true',
        RELAY_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    const npmExited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
    const ready = await new Promise<{ pid: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the compiled relay did not start; output: ${lines.join('\n')}`)), 20_000);
      let buffered = '';
      npm.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        let newline;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          lines.push(line);
          if (line.includes('"parleyRelay":"ready"')) {
            clearTimeout(timer);
            resolve(JSON.parse(line) as { pid: number });
          }
        }
      });
      npm.stderr!.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
    });
    try {
      // exec: the relay is npm's direct child, not a shell's.
      expect(readFileSync(`/proc/${ready.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]).toBe(String(npm.pid));
      expect(readFileSync(`/proc/${ready.pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(1)).toEqual(dockerCommand().slice(1));
      const health = await fetch(`http://127.0.0.1:${ports.api}/healthz`);
      expect(health.status).toBe(200);
      // The startup log says which public key to seal session keys to (here the development one).
      const listening = lines.find((line) => line.includes('"msg":"relay listening"'));
      expect(JSON.parse(listening!)).toMatchObject({ publicKey: INSECURE_DEV_RELAY_PUBLIC_KEY });

      // Bodies are read straight from the Node request, still capped at 16 KiB: a chunked body
      // past it is refused with 413 after authentication could not even start.
      const chunked = await new Promise<number>((resolve, reject) => {
        const request = httpRequest({ host: '127.0.0.1', port: ports.api, method: 'POST', path: '/v1/sessions', headers: { 'content-type': 'application/json' } }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('error', reject);
        for (let i = 0; i < 20; i++) request.write('x'.repeat(1024));
        request.end();
      });
      expect(chunked).toBe(413);
      const unsigned = await fetch(`http://127.0.0.1:${ports.api}/v1/sessions`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      expect(unsigned.status).toBe(401);

      npm.kill('SIGTERM');
      expect(await npmExited).toBe(0);
      for (let i = 0; i < 100 && isRunning(ready.pid); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(isRunning(ready.pid)).toBe(false);
      expect(lines.some((line) => line.includes('"msg":"drained"'))).toBe(true);
    } finally {
      if (isRunning(ready.pid)) process.kill(ready.pid, 'SIGKILL');
    }
  });
});
