/**
 * The `parley` account commands and the load test's control-plane mode, end to end, as separate
 * processes against the real local stack (npm start's own code: the libSQL server, the control
 * plane in wrangler dev, the compiled relay; loopback, ephemeral ports, stopped by process group):
 *   - register and login store the login in a 0600 file in a 0700 directory; a wrong password
 *     is refused with exit 4; channels create and list;
 *   - one `join --record --export-keys` hears another `join --send` of a short WAV: the recording
 *     has the clip's length and pitch, and the exported keys are the session's real ones — a
 *     keepalive protected with its clientToRelay keys, from another socket, makes the relay send a
 *     challenge that opens with its relayToClient keys;
 *   - the errors: an unreachable URL (3), a full channel (5), a login ended on the server (4), each
 *     one line without a stack;
 *   - a bounded control-plane load test (about 10 s): WSS joins and key exchanges with tokens the
 *     operator app key mints, zero decrypt and replay failures, handshake times, the HTML report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { dominantFrequency } from '../../cli/audio/analysis.js';
import { makeSpeakerClip } from '../../cli/audio/clip.js';
import { OPUS_SAMPLE_RATE } from '../../cli/audio/opus-codec.js';
import { parseWav } from '../../cli/audio/wav.js';
import { writeWavFile } from '../../cli/audio/wav-file.js';
import type { SrtpParametersJson } from '../../cli/account/srtp-parameters-json.js';
import type { LoadResult } from '../../cli/loadtest/load-run.js';
import { REPO_ROOT } from '../../control/dev/local-paths.js';
import { ParleyClient } from '../../packages/client/src/index.js';
import { ClientMediaSession } from '../../shared/client/media-session.js';
import { nodeCryptoBackend } from '../../shared/srtp/backends/node-crypto.js';
import { useLocalStack } from '../support/local-stack-fixture.js';

const local = useLocalStack('commands');
let work: string;

beforeAll(() => {
  work = local.tempDir('work');
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Environment of one user: their own config directory; the URL from PARLEY_URL. */
function userEnv(user: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: join(work, `config-${user}`), PARLEY_URL: local.stack.control.url };
  delete env['PARLEY_APP_KEY'];
  return env;
}

function start(args: readonly string[], env: NodeJS.ProcessEnv, stdin = ''): ChildProcess & { out: () => string; err: () => string; done: Promise<Run> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/parley.ts', ...args], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin!.end(stdin);
  const done = new Promise<Run>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return Object.assign(child, { out: () => stdout, err: () => stderr, done });
}

function parley(args: readonly string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<Run> {
  return start(args, env, stdin).done;
}

async function until(what: string, condition: () => boolean, limitMs: number, context: () => string): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what} did not happen within ${limitMs} ms:\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A failure is one line on stderr with no stack trace. */
function expectOneLine(run: Run, pattern: RegExp): void {
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at |unexpected failure/);
}

const PASSWORDS = { alice: 'alice correct horse', bob: 'bob battery staple', erin: 'erin tr0ub4dor &3' } as const;

describe('parley register, login, channels, join', () => {
  it('register and login store the login 0600 in a 0700 directory; a wrong password is refused', { timeout: 60_000 }, async () => {
    const env = userEnv('alice');
    const registered = await parley(['register', 'alice'], env, `${PASSWORDS.alice}\n`);
    expect(registered.stderr).toBe(''); // no prompt when the password comes on a pipe
    expect(registered.code).toBe(0);
    expect(registered.stdout).toMatch(/^Registered and logged in as alice \(usr_\w+\) at http:\/\/127\.0\.0\.1:\d+\n/);
    const file = join(work, 'config-alice', 'parley', 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(work, 'config-alice', 'parley')).mode & 0o777).toBe(0o700);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { logins: Record<string, { username: string; refreshToken: string }> };
    expect(stored.logins[local.stack.control.url]).toMatchObject({ username: 'alice' });
    // The password is never kept.
    expect(readFileSync(file, 'utf8')).not.toContain(PASSWORDS.alice);

    const refused = await parley(['login', 'alice'], env, 'not the password\n');
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/login refused: wrong username or password\n$/);
    expect(refused.stderr).not.toMatch(/\n\s+at /);

    const loggedIn = await parley(['login', 'alice'], env, `${PASSWORDS.alice}\n`);
    expect(loggedIn.code).toBe(0);
    const renewed = JSON.parse(readFileSync(file, 'utf8')) as typeof stored;
    expect(renewed.logins[local.stack.control.url]!.refreshToken).not.toBe(stored.logins[local.stack.control.url]!.refreshToken);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const bob = await parley(['register', 'bob'], userEnv('bob'), `${PASSWORDS.bob}\n`);
    expect(bob.code).toBe(0);
  });

  it('channels create and list (each command renews the stored login)', { timeout: 60_000 }, async () => {
    const env = userEnv('alice');
    const file = join(work, 'config-alice', 'parley', 'credentials.json');
    const before = readFileSync(file, 'utf8');
    const created = await parley(['channels', 'create', 'Team', '--open'], env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^Created open channel Team \(chn_\w+\), up to \d+ members\.\n$/);
    expect(readFileSync(file, 'utf8')).not.toBe(before);
    const tiny = await parley(['channels', 'create', 'Tiny', '--open', '--member-limit', '1', '--json'], env);
    expect(tiny.code, tiny.stderr).toBe(0);
    expect(JSON.parse(tiny.stdout)).toMatchObject({ name: 'Tiny', visibility: 'open', memberLimit: 1, memberCount: 1 });

    const listed = await parley(['channels'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^id\s+name\s+visibility\s+members\s+you\n/);
    expect(listed.stdout).toMatch(/chn_\w+\s+Team\s+open\s+1\/\d+\s+owner/);
    expect(listed.stdout).toMatch(/chn_\w+\s+Tiny\s+open\s+1\/1\s+owner/);
    const json = await parley(['channels', 'list', '--json'], env);
    expect(json.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { name: string }).name).sort()).toEqual(['Team', 'Tiny']);
  });

  it('join --send is heard by join --record (length and pitch), and --export-keys gives the session\'s real keys', { timeout: 90_000 }, async () => {
    const clip = makeSpeakerClip(1, { durationMs: 2_000 });
    const clipPath = join(work, 'clip.wav');
    await writeWavFile(clipPath, { sampleRate: clip.sampleRate, channels: 1, samples: clip.samples });
    const recordings = join(work, 'recordings');

    // Bob listens (an open channel he is not a member of yet: he joins it first).
    const listener = start(['join', 'Team', '--record', recordings, '--export-keys'], userEnv('bob'));
    try {
      await until('bob in voice', () => listener.err().includes('In the room:') && listener.out().includes('\n'), 30_000, () => listener.err() + listener.out());
      expect(listener.err()).toMatch(/Became a member of Team/);
      const keys = JSON.parse(listener.out().split('\n')[0]!) as SrtpParametersJson;
      expect(keys).toMatchObject({ purpose: 'join', profile: { name: 'aes128gcm', iana: 'SRTP_AEAD_AES_128_GCM', keyBytes: 16, saltBytes: 12 } });
      expect(keys.clientToRelay.masterKey).toMatch(/^[0-9a-f]{32}$/);
      expect(keys.relayToClient.masterSalt).toMatch(/^[0-9a-f]{24}$/);
      expect(Buffer.from(keys.clientToRelay.keyAndSalt, 'base64').toString('hex')).toBe(keys.clientToRelay.masterKey + keys.clientToRelay.masterSalt);
      expect(keys.relay.host).toBe('127.0.0.1');
      expect(keys.ssrcHex).toBe(`0x${keys.ssrc.toString(16).padStart(8, '0')}`);

      // Alice speaks the clip and leaves.
      const speaker = await parley(['join', 'Team', '--send', clipPath], userEnv('alice'));
      expect(speaker.code, speaker.stderr).toBe(0);
      expect(speaker.stdout).toMatch(/Joined voice in Team \(chn_\w+\) as alice: relay \S+ at 127\.0\.0\.1:\d+, SSRC \d+, handshake \d+ ms/);
      expect(speaker.stdout).toMatch(/In the room: .*bob/);
      expect(speaker.stdout).toMatch(/Sending .*clip\.wav: 100 packets \(2\.00 s/);
      expect(speaker.stdout).toMatch(/Sent 100 packets\.\n/);
      expect(speaker.stdout).toMatch(/Left Team\.\n$/);
      await until('bob seeing alice leave', () => listener.err().includes('- alice left'), 15_000, () => listener.err());
      expect(listener.err()).toMatch(/\+ alice joined/);
      expect(listener.err()).toMatch(/alice is speaking/);

      // The exported keys are the ones in use: a keepalive under clientToRelay from a new socket
      // (the relay moves the latch, §6.3) draws a challenge that opens under relayToClient.
      const media = new ClientMediaSession({
        profile: 'aes128gcm',
        ssrc: keys.ssrc,
        sendKeys: { masterKey: Buffer.from(keys.clientToRelay.masterKey, 'hex'), masterSalt: Buffer.from(keys.clientToRelay.masterSalt, 'hex') },
        receiveKeys: { masterKey: Buffer.from(keys.relayToClient.masterKey, 'hex'), masterSalt: Buffer.from(keys.relayToClient.masterSalt, 'hex') },
        backend: nodeCryptoBackend,
      });
      // The newest SRTCP index of the stream moves a latch: step past bob's own keepalives.
      let ping = media.protectKeepalive(new Uint8Array(8));
      for (let i = 0; i < 1000; i++) ping = media.protectKeepalive(new Uint8Array(8));
      const socket = createSocket('udp4');
      try {
        await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
        const answer = new Promise<Buffer>((resolve) => socket.once('message', (datagram) => resolve(datagram)));
        socket.send(ping, keys.relay.port, keys.relay.host);
        const datagram = await Promise.race([answer, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer from the relay')), 5000))]);
        const opened = media.open(datagram);
        expect(opened.kind).toBe('pong');
      } finally {
        socket.close();
        media.close();
      }

      listener.kill('SIGINT');
      const run = await listener.done;
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/Left Team\.\nRecorded alice: \S+alice\.wav \(\d+\.\d+ s, \d+ packets, 0 lost\)\n$/);
      const recorded = parseWav(new Uint8Array(readFileSync(join(recordings, 'alice.wav'))));
      expect(recorded.sampleRate).toBe(OPUS_SAMPLE_RATE);
      // 100 packets of 20 ms: the clip's 2 s.
      expect(recorded.samples.length).toBe(clip.samples.length);
      expect(Math.abs(dominantFrequency(recorded.samples, OPUS_SAMPLE_RATE) - clip.rootHz)).toBeLessThan(5);
    } finally {
      listener.kill('SIGKILL');
    }
  });

  it('errors: a wrong URL, a full channel, a login ended on the server — one line each, with their exit codes', { timeout: 60_000 }, async () => {
    const unreachable = await parley(['channels', '--url', 'http://127.0.0.1:9'], userEnv('alice'));
    expect(unreachable.code).toBe(3);
    expectOneLine(unreachable, /^parley channels: no Parley control plane answers at http:\/\/127\.0\.0\.1:9 /);
    const loginUnreachable = await parley(['login', 'alice', '--url', 'http://127.0.0.1:9'], userEnv('alice'), 'x\n');
    expect(loginUnreachable.code).toBe(3);
    expect(loginUnreachable.stderr).toMatch(/cannot reach the control plane at http:\/\/127\.0\.0\.1:9 /);
    const badUrl = await parley(['channels', '--url', 'not a url'], userEnv('alice'));
    expect(badUrl.code).toBe(2);

    const full = await parley(['join', 'Tiny'], userEnv('bob'));
    expect(full.code).toBe(5);
    expectOneLine(full, /^parley join: the channel is full \(at its member limit\)$/);

    const env = userEnv('erin');
    expect((await parley(['register', 'erin'], env, `${PASSWORDS.erin}\n`)).code).toBe(0);
    const file = join(work, 'config-erin', 'parley', 'credentials.json');
    const old = join(work, 'erin-old.json');
    copyFileSync(file, old);
    // Two commands: the stored refresh token is used up, and so is its successor.
    expect((await parley(['channels'], env)).code).toBe(0);
    expect((await parley(['channels'], env)).code).toBe(0);
    // The first token again (a stale copy of the file): reuse, which ends the whole login (§4.3.4).
    copyFileSync(old, file);
    const ended = await parley(['channels'], env);
    expect(ended.code).toBe(4);
    expectOneLine(ended, /^parley channels: your login to http:\/\/127\.0\.0\.1:\d+ has expired or was ended: run 'parley login USERNAME' again$/);
    const notLoggedIn = await parley(['logout'], env);
    expect(notLoggedIn.code).toBe(0);
    expect(notLoggedIn.stdout).toMatch(/the login had already ended/);
    const afterLogout = await parley(['channels'], env);
    expect(afterLogout.code).toBe(4);
    expectOneLine(afterLogout, /not logged in to .*: run 'parley login USERNAME' first$/);
  });
});

describe('parley loadtest, control-plane mode', () => {
  it('runs ~10 s of voice through WSS joins and key exchanges with zero decrypt or replay failures, and writes the HTML report', { timeout: 90_000 }, async () => {
    const report = join(work, 'control-plane-report.html');
    const env: NodeJS.ProcessEnv = { ...process.env, PARLEY_LOADTEST_APP_KEY: local.stack.operatorKey.key };
    const run = await parley(
      ['loadtest', '--control-plane', local.stack.control.url, '--app-key-env', 'PARLEY_LOADTEST_APP_KEY',
        '--channels', '2', '--members', '3', '--speakers', '1', '--duration', '8', '--ramp-up', '1', '--json', '--report', report],
      env,
    );
    expect(run.stderr).not.toMatch(/unexpected failure/);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as LoadResult;
    console.log(`control-plane loadtest: handshake p50 ${result.handshakeMs?.p50?.toFixed(0)} ms p95 ${result.handshakeMs?.p95?.toFixed(0)} ms; latency p50 ${result.latencyMs.p50?.toFixed(2)} ms; loss ${result.packets.lossPercent.toFixed(3)} %`);
    expect(result.target).toMatchObject({ mode: 'control-plane', controlPlane: local.stack.control.url });
    expect(JSON.stringify(result)).not.toContain(local.stack.operatorKey.key);
    expect(result.clients).toMatchObject({ planned: 6, joined: 6, failedJoins: 0 });
    expect(result.failures).toEqual({ decrypt: 0, replay: 0, corruptPayload: 0 });
    expect(result.handshakeMs?.samples).toBe(6);
    expect(result.handshakeMs!.p50!).toBeGreaterThan(0);
    expect(result.packets.received).toBeGreaterThan(0);
    // Generous: loopback on a busy machine; a real break loses far more.
    expect(result.packets.lossPercent).toBeLessThan(5);
    const html = readFileSync(report, 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).toContain('uPlot');
    // The handshake chart: its place on the page, and every member's handshake in its bins.
    expect(html).toContain('<div class="chart" id="chart-handshake"></div>');
    expect(html).toContain("'Handshake, WSS join to voice_ready (ms): members per bin of '");
    const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!) as {
      handshake: { counts: number[]; overflow: number; width: number } | null;
    };
    const bins = result.handshakeHistogram!;
    expect(data.handshake).toMatchObject({ counts: bins.counts, width: bins.width, overflow: 0 });
    expect(bins.counts.reduce((a, b) => a + b, 0)).toBe(6);
    // The slowest handshake is in the bin its time falls in, and no bin lies beyond it.
    const slowestBin = Math.floor(result.handshakeMs!.max! / bins.width);
    expect(bins.counts[slowestBin]).toBeGreaterThan(0);
    expect(bins.counts.slice(slowestBin + 1).every((n) => n === 0)).toBe(true);

    // The run's channels are gone afterwards.
    const channels = (await (await fetch(`${local.stack.control.url}/v1/admin/channels`, { headers: { authorization: `Bearer ${local.stack.operatorKey.key}` } })).json()) as { channels: Array<{ name: string }> };
    expect(channels.channels.filter((c) => c.name.startsWith('loadtest '))).toEqual([]);
  });

  it('takes its tokens from refresh tokens too, and rewrites the file with the renewed ones', { timeout: 90_000 }, async () => {
    const tokens: string[] = [];
    for (const name of ['lt-one', 'lt-two', 'lt-three']) {
      const client = new ParleyClient({ baseUrl: local.stack.control.url });
      try {
        tokens.push((await client.register(name, `${name} long enough password`)).refreshToken);
      } finally {
        await client.close();
      }
    }
    const file = join(work, 'refresh-tokens.txt');
    writeFileSync(file, `${tokens.join('\n')}\n`, { mode: 0o600 });
    const run = await parley(
      ['loadtest', '--control-plane', local.stack.control.url, '--refresh-tokens', file, '--channels', '1', '--members', '3', '--duration', '3', '--ramp-up', '0', '--json'],
      { ...process.env },
    );
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as LoadResult;
    expect(result.clients).toMatchObject({ planned: 3, joined: 3, failedJoins: 0 });
    expect(result.failures).toEqual({ decrypt: 0, replay: 0, corruptPayload: 0 });
    expect(result.packets.received).toBeGreaterThan(0);
    const renewed = readFileSync(file, 'utf8').trim().split('\n');
    expect(renewed).toHaveLength(3);
    for (let i = 0; i < 3; i++) expect(renewed[i]).not.toBe(tokens[i]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(run.stdout + run.stderr).not.toContain(tokens[0]!);
  });
});
