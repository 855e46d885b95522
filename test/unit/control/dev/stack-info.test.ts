import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readStackInfo, removeStackInfo, STACK_INFO_FILE, writeStackInfo } from '../../../../control/dev/local-stack/stack-info.js';
import { processIdentity } from '../../../../control/dev/local-stack/stack-lock.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'parley-stack-info-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const me = () => processIdentity(process.pid)!;

describe('stack.json', () => {
  it('describes a stack whose owner lives, in a 0600 file', () => {
    writeStackInfo(dir, { owner: me(), controlUrl: 'http://127.0.0.1:8787', relayId: 'local-relay', relayUdp: ['127.0.0.1:40000'] });
    expect(readStackInfo(dir)).toEqual({ owner: me(), controlUrl: 'http://127.0.0.1:8787', relayId: 'local-relay', relayUdp: ['127.0.0.1:40000'] });
    expect(statSync(join(dir, STACK_INFO_FILE)).mode & 0o777).toBe(0o600);
  });

  it('describes nothing when its owner is gone (a killed run), or when it is missing or malformed', () => {
    expect(readStackInfo(dir)).toBeNull();
    // The same pid with another start time is another process (a recycled pid).
    writeStackInfo(dir, { owner: `${process.pid}:1`, controlUrl: 'http://127.0.0.1:8787' });
    expect(readStackInfo(dir)).toBeNull();
    writeFileSync(join(dir, STACK_INFO_FILE), '{"owner": 5');
    expect(readStackInfo(dir)).toBeNull();
    writeFileSync(join(dir, STACK_INFO_FILE), JSON.stringify({ owner: me() }));
    expect(readStackInfo(dir)).toBeNull();
  });

  it('is removed only by its owner, and removing twice is fine', () => {
    writeStackInfo(dir, { owner: me(), controlUrl: 'http://127.0.0.1:8787' });
    removeStackInfo(dir, `${process.pid}:1`);
    expect(existsSync(join(dir, STACK_INFO_FILE))).toBe(true);
    removeStackInfo(dir, me());
    removeStackInfo(dir, me());
    expect(existsSync(join(dir, STACK_INFO_FILE))).toBe(false);
  });
});
