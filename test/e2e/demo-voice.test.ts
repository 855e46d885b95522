/**
 * The demo's voice call over the real stack on loopback, as `npm run demo` runs it: the local
 * libSQL server, the control plane in wrangler dev (workerd, the channel's room Durable Object)
 * and the compiled relay, started by npm start's own code on ephemeral ports and stopped by
 * process group. Three clients of the SDK join one channel's voice with minted tokens; one
 * speaks a chord through Opus. Checked: every Opus packet each listener decrypted is the one
 * sent, byte for byte and in order; each listener's WAV file holds exactly what a decoder makes
 * of the sent packets, and sounds like the clip (its pitch within 2 Hz, correlation above 0.9).
 * Then the `parley demo` command itself: on a running stack it uses it (and leaves it running);
 * on a state directory with none it starts one, and stops every process of it at the end.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bestAlignment, dominantFrequency } from '../../cli/audio/analysis.js';
import { OPUS_SAMPLE_RATE } from '../../cli/audio/opus-codec.js';
import { parseWav } from '../../cli/audio/wav.js';
import { DEMO_USERS, runVoiceDemo } from '../../cli/demo/voice-demo.js';
import { REPO_ROOT } from '../../control/dev/local-paths.js';
import { readStackInfo } from '../../control/dev/local-stack/stack-info.js';
import { findStackProcesses } from '../../control/dev/local-stack/stack-lock.js';
import { useLocalStack } from '../support/local-stack-fixture.js';

const local = useLocalStack('demo');

const hex = (packets: readonly Uint8Array[]) => packets.map((p) => Buffer.from(p).toString('hex'));

/** Runs `parley demo` as a user does; resolves with its exit code and output. */
function parleyDemo(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/parley.ts', 'demo', ...args], { cwd: REPO_ROOT, env: { ...process.env, PARLEY_ENV: 'development' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const limit = setTimeout(() => child.kill('SIGKILL'), 230_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(limit);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the demo voice call', () => {
  it('three clients: each listener decrypts the sent Opus packets byte for byte, and its recording is the clip', async () => {
    const outputDir = local.tempDir('out');
    const steps: string[] = [];
    const result = await runVoiceDemo({ controlUrl: local.stack.control.url, operatorKey: local.stack.operatorKey.key, outputDir, clipMs: 2_000, onStep: (s) => steps.push(s) });

    expect(result.relayId).toBe('local-relay');
    expect(steps.filter((s) => / joined voice /.test(s))).toHaveLength(3);
    const sent = result.sentPackets;
    expect(sent).toHaveLength(100); // 2 s of 20 ms frames
    // Real Opus: a steady chord repeats itself, but not one packet over and over.
    expect(new Set(hex(sent)).size).toBeGreaterThan(10);
    expect(result.listeners.map((l) => l.user.userId)).toEqual(DEMO_USERS.slice(1).map((u) => u.userId));

    const reference = result.referenceDecoded;
    expect(Math.abs(dominantFrequency(reference, OPUS_SAMPLE_RATE) - 440)).toBeLessThan(2);
    for (const listener of result.listeners) {
      // The relay re-encrypted every packet for this listener; what it decrypted is what Ada sent.
      expect(hex(listener.packets)).toEqual(hex(sent));
      expect(listener.identical).toBe(sent.length);
      expect(listener.lost).toBe(0);
      expect(listener.latenciesMs).toHaveLength(sent.length);

      // Its recording, read back from the file: what a decoder makes of the sent packets…
      expect(listener.wavPath).toBe(join(outputDir, listener.user.userId, 'Ada.wav'));
      const wav = parseWav(new Uint8Array(readFileSync(listener.wavPath)));
      expect(wav.sampleRate).toBe(OPUS_SAMPLE_RATE);
      expect(wav.channels).toBe(1);
      expect(Buffer.from(wav.samples.buffer, wav.samples.byteOffset, wav.samples.byteLength).equals(Buffer.from(reference.buffer, reference.byteOffset, reference.byteLength))).toBe(true);
      // …which sounds like the clip: its pitch, and its waveform once Opus's delay is allowed for.
      expect(Math.abs(dominantFrequency(wav.samples, OPUS_SAMPLE_RATE) - result.clip.rootHz)).toBeLessThan(2);
      expect(Math.abs(listener.heardHz - result.clip.rootHz)).toBeLessThan(2);
      expect(bestAlignment(result.clip.samples, wav.samples).correlation).toBeGreaterThan(0.9);
      expect(listener.wavSeconds).toBeCloseTo(2, 1);
    }
  }, 120_000);

  it('parley demo uses the stack that runs on its state directory, reports what flowed, and leaves the stack running', async () => {
    const outputDir = local.tempDir('cli-out');
    const run = await parleyDemo(['--state-dir', local.stateDir, '--out', outputDir, '--seconds', '1']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Using the local stack that runs on ${local.stateDir} (npm start): control plane ${local.stack.control.url}`);
    expect(run.stdout).toMatch(/^ {2}Ada speaking: 50\/50 packets sent; received: Grace 50, Alan 50$/m);
    expect(run.stdout).toMatch(/^ {2}Grace +50\/50 +0 +50 +[\d.]+ +[\d.]+ +44\d\.\d +0\.9\d\d +/m);
    expect(run.stdout).toMatch(/^ {2}Alan +50\/50 +0 +50 +[\d.]+ +[\d.]+ +44\d\.\d +0\.9\d\d +/m);
    expect(run.stdout).toMatch(/latency \(Ada's send to the listener's frame event, both listeners\): p50 [\d.]+ ms, p99 [\d.]+ ms/);
    expect(run.stdout).toContain('Voice flowed: Grace and Alan heard Ada');
    expect(run.stdout).not.toContain('Stopping the local stack');
    for (const file of ['grace/Ada.wav', 'alan/Ada.wav', 'sent/Ada.wav']) expect(existsSync(join(outputDir, file))).toBe(true);
    // Still running, still the same stack.
    expect(readStackInfo(local.stateDir)?.controlUrl).toBe(local.stack.control.url);
    expect((await fetch(`${local.stack.control.url}/healthz`)).status).toBe(200);
  }, 240_000);

  it('parley demo on a state directory without a stack starts one and stops every process of it', async () => {
    const ownState = local.tempDir('own');
    const run = await parleyDemo(['--state-dir', ownState, '--seconds', '1']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Starting the local stack (the code npm start runs), on free ports, state in ${ownState}:`);
    expect(run.stdout).toContain('Voice flowed: Grace and Alan heard Ada');
    expect(run.stdout).toMatch(/Stopping the local stack this demo started…\nStopped\./);
    expect(existsSync(join(ownState, 'demo', 'grace', 'Ada.wav'))).toBe(true);
    expect(findStackProcesses(ownState)).toEqual([]);
    expect(readStackInfo(ownState)).toBeNull();
    expect(existsSync(join(ownState, 'stack.json'))).toBe(false);
  }, 240_000);

  it('refuses bad options with usage and exit code 2', async () => {
    const run = await parleyDemo(['--seconds', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--seconds must be an integer from 1 to 30/);
    expect(run.stderr).toContain('usage: parley demo');
  }, 60_000);
});
