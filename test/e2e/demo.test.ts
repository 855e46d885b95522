/**
 * `parley demo --relay-only`: the media plane alone, through a real relay (no control plane).
 * The full demo (control plane, room, SDK, Opus) is test/e2e/demo-voice.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

it('streams voice through a real relay and reports every copy delivered', { timeout: 60_000 }, () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'cli/parley.ts', 'demo', '--relay-only', '--seconds', '2', '--speakers', '2', '--listeners', '2'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 55_000,
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  // 2 s at 50 frames/s from each of 2 speakers; each frame reaches the 3 other members.
  expect(result.stdout).toMatch(/summary: 100 frames per speaker, 600\/600 copies delivered, lost 0, corrupt or unauthenticated 0/);
  expect(result.stdout).toMatch(/^t=\s+1s/m);
});

it('refuses bad options with usage and exit code 2', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'cli/parley.ts', 'demo', '--relay-only', '--speakers', '0'], { cwd: REPO_ROOT, encoding: 'utf8' });
  expect(result.status).toBe(2);
  expect(result.stderr).toMatch(/--speakers must be an integer from 1 to 20/);
});
