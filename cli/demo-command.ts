/**
 * `parley demo` (`npm run demo`): encrypted group voice on this machine, end to end. Uses the
 * local stack `npm start` runs, or starts one (cli/demo/demo-stack.ts); three demo users join a
 * channel's voice through the client SDK, one speaks a chord through Opus, the others decrypt,
 * decode and record it (cli/demo/voice-demo.ts). A live progress line, then a summary; exit 0
 * only if voice flowed: every listener got the packets byte for byte (at most 5% lost) and
 * heard the chord's root within 5 Hz.
 *
 * `parley demo --relay-only` is the media plane alone (cli/demo/relay-only-demo.ts).
 */
import { mkdirSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LOCAL_STATE_DIR } from '../control/dev/local-paths.js';
import { DemoStackError, useOrStartStack, type DemoStack } from './demo/demo-stack.js';
import { ProgressLine } from './progress-line.js';
import { RELAY_ONLY_DEMO_USAGE, runRelayOnlyDemo } from './demo/relay-only-demo.js';
import { DemoSetupError, percentile, runVoiceDemo, type VoiceDemoResult } from './demo/voice-demo.js';
import { ParleyError } from '../packages/client/src/index.js';
import { writeWavFile } from './audio/wav-file.js';
import { DEFAULT_VOICE_BITRATE, FRAME_DURATION_MS } from './audio/opus-codec.js';
import type { CommandIo } from './srtp-command.js';

export const DEMO_USAGE = `usage: parley demo [--seconds N] [--state-dir DIR] [--out DIR]
       parley demo --relay-only [options]   (the media plane alone; --relay-only --help)

Three people in a voice channel on this machine: uses the local stack \`npm start\` runs on the
state directory, or starts one (and stops it at the end). Ada, Grace and Alan get access tokens
minted with the stack's operator app key, join the channel's voice through the client SDK
(WebSocket to the channel's room, X25519 key exchange, SRTP over UDP to the relay); Ada speaks
a chord through Opus, Grace and Alan decrypt, decode and record it as WAV files. Exits 0 if
voice flowed (every packet byte for byte, at most 5% lost, the chord's pitch heard).

options:
  --seconds N      length of the clip Ada speaks (1-30, default 3)
  --state-dir DIR  the local stack's state directory (default .parley)
  --out DIR        where the recordings go (default <state dir>/demo)
`;

/** Voice flowed if no listener lost more than this share of the packets. */
const MAX_LOSS = 0.05;
/** …and each heard the chord's root within this. */
const MAX_PITCH_ERROR_HZ = 5;

interface DemoOptions {
  readonly seconds: number;
  readonly stateDir: string;
  readonly outputDir: string;
}

function parseDemoArgs(argv: readonly string[]): DemoOptions | string {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: { seconds: { type: 'string', default: '3' }, 'state-dir': { type: 'string' }, out: { type: 'string' } },
    }));
  } catch {
    return 'invalid arguments';
  }
  const seconds = Number(values.seconds);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 30) return '--seconds must be an integer from 1 to 30';
  const stateDir = resolve(values['state-dir'] ?? LOCAL_STATE_DIR);
  return { seconds, stateDir, outputDir: resolve(values.out ?? resolve(stateDir, 'demo')) };
}

/** A path relative to the working directory when inside it. */
function shown(path: string): string {
  const inside = relative(process.cwd(), path);
  return inside === '' || inside.startsWith('..') ? path : inside;
}

const ms = (value: number): string => (Number.isNaN(value) ? '-' : value < 10 ? value.toFixed(1) : value.toFixed(0));

function summary(result: VoiceDemoResult, sentPath: string): { lines: string[]; failures: string[] } {
  const sent = result.sentPackets.length;
  const failures: string[] = [];
  const table: string[][] = [['listener', 'received', 'lost', 'identical', 'p50 ms', 'p99 ms', 'heard Hz', 'correlation', 'recording']];
  for (const l of result.listeners) {
    const name = l.user.displayName;
    table.push([
      name,
      `${l.received}/${sent}`,
      String(l.lost),
      String(l.identical),
      ms(percentile(l.latenciesMs, 50)),
      ms(percentile(l.latenciesMs, 99)),
      Number.isNaN(l.heardHz) ? 'silence' : l.heardHz.toFixed(1),
      Number.isNaN(l.alignment.correlation) ? '-' : l.alignment.correlation.toFixed(3),
      `${shown(l.wavPath)} (${l.wavSeconds.toFixed(1)} s)`,
    ]);
    if (l.received === 0) failures.push(`${name} received nothing`);
    else if (l.lost > sent * MAX_LOSS) failures.push(`${name} lost ${l.lost} of ${sent} packets`);
    if (l.identical !== l.received) failures.push(`${name} decrypted ${l.received - l.identical} packet(s) that differ from what ${result.speaker.displayName} sent`);
    if (!(Math.abs(l.heardHz - result.clip.rootHz) <= MAX_PITCH_ERROR_HZ)) failures.push(`${name} heard ${Number.isNaN(l.heardHz) ? 'silence' : `${l.heardHz.toFixed(1)} Hz`}, not ${result.clip.rootHz} Hz`);
  }
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  const all = result.listeners.flatMap((l) => l.latenciesMs);
  const lines = [
    '',
    `Summary (channel ${result.channelId}, relay ${result.relayId}):`,
    `  ${result.speaker.displayName} sent ${sent} packets (Opus ${DEFAULT_VOICE_BITRATE / 1000} kb/s, ${FRAME_DURATION_MS} ms each, SRTP AES-128-GCM): a ${(result.clip.samples.length / result.clip.sampleRate).toFixed(1)} s chord on ${result.clip.rootHz} Hz, kept in ${shown(sentPath)}`,
    ...table.map((row) => `  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()}`),
    `  latency (${result.speaker.displayName}'s send to the listener's frame event, both listeners): p50 ${ms(percentile(all, 50))} ms, p99 ${ms(percentile(all, 99))} ms`,
    `  identical: packets each listener decrypted that equal, byte for byte, the Opus packet sent at that place`,
  ];
  return { lines, failures };
}

export async function runDemoCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  if (argv.includes('--relay-only')) return runRelayOnlyDemo(argv.filter((a) => a !== '--relay-only'), io);
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(DEMO_USAGE);
    return 0;
  }
  const options = parseDemoArgs(argv);
  if (typeof options === 'string') {
    io.stderr.write(`parley demo: ${options}\n\n${DEMO_USAGE}`);
    return 2;
  }
  if (process.env['PARLEY_ENV'] === 'production') {
    io.stderr.write('parley demo: refusing to run with PARLEY_ENV=production: the local stack uses well-known development keys\n');
    return 1;
  }
  const say = (line: string): void => void io.stdout.write(`${line}\n`);
  say('Parley demo: encrypted group voice on this machine (development keys)');

  // Ctrl-C while the stack starts: the start stops what it started and throws (exit 130 below).
  // Ctrl-C during the call: stop the stack this run started, then exit.
  const abort = new AbortController();
  let stack: DemoStack | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    say(`\n${signal}: stopping…`);
    abort.abort();
    if (stack !== null) void stack.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const started = performance.now();
    try {
      stack = await useOrStartStack({ stateDir: options.stateDir, log: say, signal: abort.signal });
    } catch (error) {
      if (abort.signal.aborted) return 130;
      io.stderr.write(`parley demo: the local stack did not start: ${error instanceof Error ? error.message : String(error)}\n`);
      if (!(error instanceof DemoStackError)) io.stderr.write(`Its logs: ${shown(resolve(options.stateDir, 'logs'))}/\n`);
      return 1;
    }
    if (stack.startedHere) say(`  (up in ${((performance.now() - started) / 1000).toFixed(1)} s)`);

    const progress = new ProgressLine(io.stdout);
    let result: VoiceDemoResult;
    try {
      result = await runVoiceDemo({
        controlUrl: stack.controlUrl,
        operatorKey: stack.operatorKey,
        outputDir: options.outputDir,
        clipMs: options.seconds * 1000,
        onStep: say,
        onProgress: ({ sent, total, received }) => {
          const heard = received.map((l) => `${l.name} ${l.packets}`).join(', ');
          progress.update(`  Ada speaking: ${sent}/${total} packets sent; received: ${heard}`);
        },
      });
    } catch (error) {
      progress.end();
      if (error instanceof DemoSetupError || error instanceof ParleyError) {
        io.stderr.write(`parley demo: voice did not flow: ${error.name}: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
    progress.end();
    const sentPath = resolve(options.outputDir, 'sent', `${result.speaker.displayName}.wav`);
    mkdirSync(dirname(sentPath), { recursive: true });
    await writeWavFile(sentPath, { sampleRate: result.clip.sampleRate, channels: 1, samples: result.clip.samples });
    const { lines, failures } = summary(result, sentPath);
    for (const line of lines) say(line);
    say('');
    if (failures.length > 0) {
      for (const failure of failures) io.stderr.write(`parley demo: voice did not flow as it should: ${failure}\n`);
      return 1;
    }
    say(`Voice flowed: ${result.listeners.map((l) => l.user.displayName).join(' and ')} heard ${result.speaker.displayName}, encrypted end to end through the relay. Play the recordings with any audio player.`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (stack?.startedHere === true) {
      say('Stopping the local stack this demo started…');
      await stack.stop();
      say('Stopped. (`npm start` keeps one running; the demo then uses it.)');
    }
  }
}
