/**
 * relay/native under AddressSanitizer and UndefinedBehaviorSanitizer (gcc): the addon is built
 * with both, then (1) a deliberately broken module built the same way must be caught (else this
 * file would prove nothing), (2) the addon's own tests — AES-GCM engines, the key functions,
 * batched send and receive — run against the sanitized build, and (3) a bounded fuzz run drives
 * every entry point with random arguments (test/system/support/native-fuzz.ts). Any sanitizer
 * report aborts the process under test, which fails the test here.
 *
 * Needs gcc and its sanitizer runtimes (Debian: gcc, libgcc-12-dev, libasan8, libubsan1): without
 * them the file is skipped with a SKIPPED line, except under CI, where it fails
 * (test/system/support/requirements.ts). Not part of `npm test`: `npm run test:system`, .ci/run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryOnPath, cHeader, systemTestCanRun } from './support/requirements.js';
import { buildSanitized, sanitizedEnv } from './support/sanitized-addon.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ready = systemTestCanRun('native addon under ASan and UBSan (test/system/native-sanitizers.test.ts)', [
  binaryOnPath('gcc', 'gcc'),
  // gcc's sanitizer headers; the package also brings the runtimes (libasan8, libubsan1).
  cHeader('sanitizer/asan_interface.h', 'libgcc-12-dev'),
]);

/** The addon's tests, as they are in `npm test`. */
const ADDON_TESTS = [
  'test/unit/relay/native-gcm-backend.test.ts',
  'test/unit/relay/native-keys.test.ts',
  'test/unit/relay/datagram-batch.test.ts',
  'test/e2e/datagram-batch.test.ts',
  'test/e2e/datagram-receiver.test.ts',
];
const FUZZ_RUNS = 2000;
const FUZZ_SEED = Number(process.env['PARLEY_FUZZ_SEED'] ?? 20261201);

let dir: string;
let addon: string;
let canary: string;

/** Everything a sanitizer prints when it finds something. */
function sanitizerReports(output: string): string[] {
  return output.split('\n').filter((line) => /ERROR: AddressSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer/.test(line));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'parley-sanitized-'));
  addon = buildSanitized(dir);
  canary = buildSanitized(dir, 'sanitizer_canary', [fileURLToPath(new URL('support/sanitizer-canary.c', import.meta.url))]);
}, 120_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe.runIf(ready)('relay/native built with AddressSanitizer and UBSan', () => {
  it.each([
    ['a heap overflow', 'heapOverflow()', /heap-buffer-overflow/],
    ['a signed integer overflow', 'signedOverflow(2147483647)', /signed integer overflow/],
  ])('catches %s in a module built the same way (the control)', (_what, expression, report) => {
    const run = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(canary)}).${expression}`], { env: sanitizedEnv(addon), encoding: 'utf8', timeout: 60_000 });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(report);
  });

  it('passes the addon\'s own tests (gcm, keys, batch, receiver) with no sanitizer report', () => {
    const run = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--project', 'unit', '--project', 'e2e', ...ADDON_TESTS], {
      cwd: REPO_ROOT,
      env: { ...sanitizedEnv(addon), CI: process.env['CI'] ?? '', NO_COLOR: '1', FORCE_COLOR: '0' },
      encoding: 'utf8',
      timeout: 300_000,
    });
    const output = `${run.stdout}\n${run.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
    expect(sanitizerReports(output)).toEqual([]);
    expect(run.status, output.slice(-4000)).toBe(0);
    expect(output).toMatch(/Test Files\s+5 passed \(5\)/);
  }, 320_000);

  it(`survives a bounded fuzz run of every entry point (${FUZZ_RUNS} runs per entry point) with no sanitizer report`, () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'test/system/support/native-fuzz.ts', '--runs', String(FUZZ_RUNS), '--seed', String(FUZZ_SEED)], {
      cwd: REPO_ROOT,
      env: sanitizedEnv(addon),
      encoding: 'utf8',
      timeout: 300_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(sanitizerReports(output)).toEqual([]);
    expect(run.status, output.slice(-4000)).toBe(0);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { ok: boolean; addon: string; runs: Record<string, number> };
    expect(summary.ok).toBe(true);
    expect(summary.addon).toBe(addon); // the sanitized build, not the normal one
    expect(Object.keys(summary.runs).length).toBeGreaterThanOrEqual(7);
  }, 320_000);
});
