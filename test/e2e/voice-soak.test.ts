/**
 * Abuse case 25 (/work/shared/ABUSE-CASES.md) in 30 seconds: the soak of bench/soak/voice-soak.ts
 * (`npm run soak -- --minutes 10` runs it for ten) at the load it uses by default — the real
 * relay process, 16 channels × 8 SDK clients, 2 speakers each at 50 frames/s, a leave and a join
 * every second, a rekey every 1.5 s — with every check it makes: the relay's RSS, heap and file
 * descriptors flat after the warm-up, no ROC drift, and every counter adding up.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SOAK, runVoiceSoak } from '../../bench/soak/voice-soak.js';

describe('soak at capacity with joins, leaves and rekeys (case 25)', () => {
  it('case 25: 30 s at capacity with joins, leaves and rekeys: memory and fds flat, no ROC drift, every counter adds up', { timeout: 120_000 }, async () => {
    const result = await runVoiceSoak({ ...DEFAULT_SOAK, durationMs: 30_000, onProgress: (line) => console.log(`case 25: ${line}`) });
    for (const c of result.checks) console.log(`case 25: ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
    console.log(`case 25: ${JSON.stringify(result.totals)}`);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.checks.length).toBeGreaterThanOrEqual(10);
    // The run did what it says: members left, joined and rekeyed, and voice flowed.
    // (Bounds far below the schedule's 30 and 20: a loaded machine installs sessions slowly.)
    expect(result.totals.leaves).toBeGreaterThanOrEqual(5);
    expect(result.totals.rekeys).toBeGreaterThanOrEqual(5);
    expect(result.totals.voiceReceived).toBeGreaterThan(4 * result.totals.voiceSent * 0.9);
  });
});
