/**
 * `npm run soak -- --minutes 10`: abuse case 25 as an opt-in command (bench/soak/voice-soak.ts):
 * the real relay at this machine's capacity, with joins, leaves and rekeys, for as long as asked;
 * a progress line every 5 s, then every check with its numbers and a verdict. Exit code 0 when
 * every check holds, 1 when one fails, 2 for bad options.
 *
 * Options: --minutes N (default 10) or --seconds N, --channels N, --members N (per channel),
 * --speakers N (per channel), --churn-ms N (a leave + join this often), --rekey-ms N.
 * Everything runs on 127.0.0.1; timings are noisy on a shared machine.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_SOAK, runVoiceSoak } from './soak/voice-soak.js';

function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`soak: --${name} must be a positive number`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    seconds: { type: 'string' },
    channels: { type: 'string' },
    members: { type: 'string' },
    speakers: { type: 'string' },
    'churn-ms': { type: 'string' },
    'rekey-ms': { type: 'string' },
  },
});
const durationMs = values.seconds !== undefined ? positive(values.seconds, 'seconds', 600) * 1000 : positive(values.minutes, 'minutes', 10) * 60_000;
const result = await runVoiceSoak({
  durationMs,
  channels: Math.round(positive(values.channels, 'channels', DEFAULT_SOAK.channels)),
  members: Math.round(positive(values.members, 'members', DEFAULT_SOAK.members)),
  speakers: Math.round(positive(values.speakers, 'speakers', DEFAULT_SOAK.speakers)),
  churnEveryMs: positive(values['churn-ms'], 'churn-ms', DEFAULT_SOAK.churnEveryMs),
  rekeyEveryMs: positive(values['rekey-ms'], 'rekey-ms', DEFAULT_SOAK.rekeyEveryMs),
  onProgress: (line) => console.log(line),
});
const t = result.totals;
const nominal = result.options.channels * result.options.speakers * 50;
console.log(
  `sent ${(t.voiceSent / (t.elapsedMs / 1000)).toFixed(0)} of the ${nominal} packets/s asked into the relay` +
    (t.voiceSent / (t.elapsedMs / 1000) < nominal * 0.9 ? ' (this machine fell behind the schedule; the checks hold for what was sent)' : ''),
);
console.log(`done in ${(t.elapsedMs / 1000).toFixed(0)} s: ${t.joins} joins, ${t.leaves} leaves, ${t.rekeys} rekeys; ${t.voiceSent} frames sent, ${t.voiceReceived} copies received; cpu relay ${t.relayCores.toFixed(2)} cores, clients ${t.clientCores.toFixed(2)} cores (of 2, shared)`);
for (const c of result.checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
console.log(result.ok ? 'verdict: PASS (case 25)' : 'verdict: FAIL (case 25)');
process.exitCode = result.ok ? 0 : 1;
