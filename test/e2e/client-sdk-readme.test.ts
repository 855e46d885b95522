/**
 * The client SDK README's first example (packages/client/README.md, "Accounts and channels")
 * runs as written against the real control plane (wrangler dev on the local libSQL server,
 * test/support/client-stack.ts), and prints what the README says it prints. The only change is
 * where `@parley/client` resolves from (this repository's packages/client/src, not an installed
 * copy; the pack test type-checks the same block against the packed package); the control
 * plane's URL comes in as PARLEY_URL, as the example reads it. Channel ids differ from run to
 * run and are compared as `chn_<id>`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClientTestStack, type ClientTestStack } from '../support/client-stack.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const readmePath = join(root, 'packages', 'client', 'README.md');

let stack: ClientTestStack;
let dir: string;

beforeAll(async () => {
  stack = await startClientTestStack();
  dir = mkdtempSync(join(tmpdir(), 'parley-readme-example-'));
}, 150_000);

afterAll(async () => {
  await stack?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** The first ```ts block of the README and the ```text block that follows it. */
function firstExample(readme: string): { code: string; output: string } {
  const match = /```ts\n([\s\S]*?)```[\s\S]*?```text\n([\s\S]*?)```/.exec(readme);
  if (match === null) throw new Error('packages/client/README.md: no ```ts block followed by its ```text output');
  return { code: match[1]!, output: match[2]! };
}

const normalise = (text: string) => text.replace(/chn_[A-Za-z0-9_-]+/g, 'chn_<id>').trimEnd();

describe("the client SDK README's first example", () => {
  it('runs as written against the control plane and prints what the README shows', async () => {
    const { code, output } = firstExample(readFileSync(readmePath, 'utf8'));
    expect(code).toContain("from '@parley/client'");
    const sdk = pathToFileURL(join(root, 'packages', 'client', 'src', 'index.ts')).href;
    // An ES module project, as the package's users have (the example uses top-level await).
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'readme-example', private: true, type: 'module' }));
    const file = join(dir, 'accounts.ts');
    writeFileSync(file, code.replaceAll("'@parley/client'", `'${sdk}'`));
    const { stdout } = await run(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, PARLEY_URL: stack.controlUrl },
      timeout: 60_000,
    });
    console.log(`the example printed:\n${stdout}`);
    expect(normalise(stdout)).toBe(normalise(output));
    // The top README shows the same output under its Client SDK section.
    const top = readFileSync(join(root, 'README.md'), 'utf8');
    const section = top.slice(top.indexOf('## Client SDK'), top.indexOf('\n## ', top.indexOf('## Client SDK') + 1));
    expect(section).toContain('client-sdk-readme.test.ts');
    expect(normalise(section)).toContain(normalise(output));
  }, 90_000);
});
