/**
 * The client SDK as the package people install: `npm pack` of packages/client, `npm install` of
 * the tarball into an empty project (dependencies from the npm cache, the registry if it lacks
 * one), then a program that imports only `@parley/client` (test/fixtures/client-consumer) is
 * type-checked against the shipped declarations under strict NodeNext, compiled, and run: two
 * listeners hear a speaker through the real relay process, and the package's error classes work
 * across the package boundary. The README's TypeScript examples are type-checked the same way.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRelayProcess, type RelayProcess } from '../../cli/relay-process.js';
import { randomMasterKeys } from '../support/relay-fixtures.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const packageDir = join(root, 'packages', 'client');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** npm's own settings only: none of the npm_* variables an enclosing `npm test` sets. */
const npmEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));

let dir: string;
let tarball: string;
let relay: RelayProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-client-pack-'));
  // prepack builds dist/ from scratch.
  const packed = await run('npm', ['pack', packageDir, '--pack-destination', dir, '--json'], { cwd: dir, env: npmEnv, maxBuffer: 16 << 20 });
  tarball = join(dir, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
  const project = join(dir, 'project');
  await run('mkdir', [project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'parley-client-consumer', private: true, type: 'module' }));
  await run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: project, env: npmEnv, maxBuffer: 16 << 20 });
}, 300_000);

afterAll(async () => {
  if (relay !== undefined) {
    relay.kill('SIGTERM');
    await Promise.race([relay.exited(), new Promise((resolve) => setTimeout(resolve, 5000))]);
    relay.kill('SIGKILL');
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** What an application developer's strict TypeScript project would use (declarations checked too). */
function consumerCompilerOptions() {
  return {
    strict: true,
    noUncheckedIndexedAccess: true,
    verbatimModuleSyntax: true,
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    target: 'ES2022',
    // The shipped declarations are checked too, not skipped.
    skipLibCheck: false,
    types: ['node'],
    typeRoots: [join(root, 'node_modules', '@types')],
  };
}

describe('@parley/client from npm pack', () => {
  it('ships the compiled modules, their declarations and the README, and nothing else', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
    expect(files).toContain('package.json');
    expect(files).toContain('README.md');
    expect(files).toContain('dist/packages/client/src/index.js');
    expect(files).toContain('dist/packages/client/src/index.d.ts');
    expect(files).toContain('dist/packages/client/src/media-transport.js');
    expect(files.every((f) => f === 'package.json' || f === 'README.md' || /^dist\/.*\.(js|d\.ts)$/.test(f))).toBe(true);
    expect(files.some((f) => f.startsWith('dist/test/') || f.startsWith('dist/relay/') || f.startsWith('dist/control/'))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(dir, 'project', 'node_modules', '@parley', 'client', 'package.json'), 'utf8')) as { name: string };
    expect(manifest.name).toBe('@parley/client');
  });

  it("type-checks every TypeScript example of the package's README against the installed package", async () => {
    const project = join(dir, 'project');
    const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const files = blocks.map((code, i) => {
      const name = `readme-example-${i + 1}.ts`;
      writeFileSync(join(project, name), code);
      return name;
    });
    writeFileSync(join(project, 'tsconfig.readme.json'), JSON.stringify({ compilerOptions: { ...consumerCompilerOptions(), noEmit: true }, files }));
    await run(process.execPath, [tsc, '-p', join(project, 'tsconfig.readme.json')], { cwd: project }).catch((error: { stdout?: string }) => {
      throw new Error(`the README's examples do not type-check:\n${error.stdout ?? ''}`);
    });
  }, 180_000);

  it('type-checks, compiles and runs a program in an empty project: voice through the real relay', async () => {
    const project = join(dir, 'project');
    copyFileSync(join(root, 'test', 'fixtures', 'client-consumer', 'consumer.ts'), join(project, 'consumer.ts'));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { ...consumerCompilerOptions(), outDir: 'out' },
        files: ['consumer.ts'],
      }),
    );
    await run(process.execPath, [tsc, '-p', join(project, 'tsconfig.json')], { cwd: project }).catch((error: { stdout?: string }) => {
      throw new Error(`tsc failed:\n${error.stdout ?? ''}`);
    });

    relay = await startRelayProcess({ relayId: 'client-sdk-pack', env: { RELAY_LOG_LEVEL: 'warn' } });
    const channelId = `chn-${randomBytes(4).toString('hex')}`;
    const members: Array<{ ssrc: number; sendKey: string; sendSalt: string; receiveKey: string; receiveSalt: string }> = [];
    let ssrc = 0x5000_0000 + randomBytes(2).readUInt16BE(0) * 4;
    let endpoint: { host: string; port: number } | undefined;
    for (const name of ['alice', 'bob', 'carol']) {
      const send = randomMasterKeys('aes128gcm');
      const receive = randomMasterKeys('aes128gcm');
      const installed = await relay.api.installSession({
        sessionId: `${channelId}-${name}`,
        userId: `user-${name}`,
        channelId,
        ssrc,
        profile: 'aes128gcm',
        permissions: { canSpeak: true, canListen: true, muted: false, deafened: false },
        expiresAt: Date.now() + 600_000,
        keys: { clientToRelay: send, relayToClient: receive },
      });
      endpoint = installed.udpEndpoint;
      const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
      members.push({ ssrc: ssrc++, sendKey: hex(send.masterKey), sendSalt: hex(send.masterSalt), receiveKey: hex(receive.masterKey), receiveSalt: hex(receive.masterSalt) });
    }
    const input = JSON.stringify({ endpoint, members, frames: 25, closedPort: await freePort('tcp') });
    const child = execFile(process.execPath, [join(project, 'out', 'consumer.js')], { cwd: project, timeout: 60_000 });
    child.stdin!.end(input);
    const output = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (chunk: string) => (stdout += chunk));
      child.stderr!.on('data', (chunk: string) => (stderr += chunk));
      child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`consumer exited ${code}:\n${stderr}`))));
    });
    const result = JSON.parse(output) as {
      heard: Record<string, Array<{ ssrc: number; payload: string; lostBefore: number }>>;
      rttSamples: number[];
      rejected: number[];
      closedError: boolean;
      connectionError: boolean;
      voiceConnectionError: boolean;
    };
    const expected = Array.from({ length: 25 }, (_, i) => ({ ssrc: members[0]!.ssrc, payload: `frame ${i}`, lostBefore: 0 }));
    expect(result.heard[String(members[1]!.ssrc)]).toEqual(expected);
    expect(result.heard[String(members[2]!.ssrc)]).toEqual(expected);
    expect(result.rttSamples.every((n) => n > 0)).toBe(true);
    expect(result.rejected).toEqual([0, 0, 0]);
    expect(result.closedError).toBe(true);
    expect(result.connectionError).toBe(true);
    expect(result.voiceConnectionError).toBe(true);
  }, 180_000);
});
