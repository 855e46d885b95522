/**
 * test/system/support/requirements.ts: the skip-or-fail decision of system tests, and the
 * probes, against the real PATH, the real pkg-config and the real gcc preprocessor.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

import {
  aptGetCommand,
  binaryOnPath,
  cHeader,
  decideSystemTest,
  findOnPath,
  isCi,
  pkgConfigModule,
  probeRequirement,
  SystemRequirementError,
  systemTestCanRun,
  type Requirement,
  type UnmetRequirement,
} from '../../system/support/requirements.js';

const LIBSRTP_REQUIREMENTS: readonly Requirement[] = [
  binaryOnPath('gcc', 'gcc'),
  binaryOnPath('pkg-config', 'pkg-config'),
  pkgConfigModule('libsrtp2', 'libsrtp2-dev'),
];
const LIBSRTP_MISSING: readonly UnmetRequirement[] = [
  { requirement: pkgConfigModule('libsrtp2', 'libsrtp2-dev'), reason: 'pkg-config module libsrtp2 not found' },
];

const scratch = mkdtempSync(join(tmpdir(), 'parley-requirements-'));
afterAll(function removeScratch() {
  rmSync(scratch, { recursive: true, force: true });
});
const emptyDir = mkdtempSync(join(scratch, 'empty-'));
const NODE_ONLY_PATH = dirname(process.execPath);

describe('isCi', () => {
  it.each(['true', 'TRUE', '1', 'yes', 'github'])('CI=%s is CI', (value) => {
    expect(isCi({ CI: value })).toBe(true);
  });
  it.each(['', ' ', '0', 'false', 'False'])('CI=%j is not CI', (value) => {
    expect(isCi({ CI: value })).toBe(false);
  });
  it('no CI variable is not CI', () => {
    expect(isCi({})).toBe(false);
  });
});

describe('aptGetCommand', () => {
  it('installs every package the test needs, once each, in the order given', () => {
    expect(aptGetCommand([...LIBSRTP_REQUIREMENTS, cHeader('srtp2/srtp.h', 'libsrtp2-dev')])).toBe(
      'apt-get install -y gcc pkg-config libsrtp2-dev',
    );
  });
});

describe('decideSystemTest', () => {
  it('runs when nothing is unmet, with or without CI', () => {
    expect(decideSystemTest('libsrtp interop', LIBSRTP_REQUIREMENTS, [], {})).toEqual({ action: 'run' });
    expect(decideSystemTest('libsrtp interop', LIBSRTP_REQUIREMENTS, [], { CI: 'true' })).toEqual({ action: 'run' });
  });

  it('skips outside CI with one SKIPPED line: the test, why, and the apt-get command', () => {
    expect(decideSystemTest('libsrtp interop', LIBSRTP_REQUIREMENTS, LIBSRTP_MISSING, { CI: 'false' })).toEqual({
      action: 'skip',
      message:
        'SKIPPED: libsrtp interop: pkg-config module libsrtp2 not found; install with: apt-get install -y gcc pkg-config libsrtp2-dev',
    });
  });

  it('fails under CI with the same reason and command, and no SKIPPED', () => {
    const verdict = decideSystemTest('libsrtp interop', LIBSRTP_REQUIREMENTS, LIBSRTP_MISSING, { CI: 'true' });
    expect(verdict).toEqual({
      action: 'fail',
      message:
        'libsrtp interop: CI must not skip system tests, but pkg-config module libsrtp2 not found; install with: apt-get install -y gcc pkg-config libsrtp2-dev',
    });
  });

  it('names every unmet requirement', () => {
    const unmet: UnmetRequirement[] = [
      { requirement: binaryOnPath('gcc', 'gcc'), reason: 'gcc not on PATH' },
      ...LIBSRTP_MISSING,
    ];
    const verdict = decideSystemTest('libsrtp interop', LIBSRTP_REQUIREMENTS, unmet, {});
    expect(verdict.action).toBe('skip');
    expect(verdict.action !== 'run' && verdict.message).toContain('gcc not on PATH; pkg-config module libsrtp2 not found; install');
  });
});

describe('probeRequirement: binary on PATH', () => {
  it('finds node in the directory of the running node', () => {
    expect(findOnPath('node', { PATH: NODE_ONLY_PATH })).toBe(process.execPath);
    expect(probeRequirement(binaryOnPath('node', 'nodejs'), { PATH: NODE_ONLY_PATH })).toBeUndefined();
  });

  it('does not find a name that is nowhere, or anything with an empty or missing PATH', () => {
    expect(probeRequirement(binaryOnPath('parley-no-such-binary', 'none'), process.env)).toBe('parley-no-such-binary not on PATH');
    expect(probeRequirement(binaryOnPath('node', 'nodejs'), { PATH: '' })).toBe('node not on PATH');
    expect(probeRequirement(binaryOnPath('node', 'nodejs'), {})).toBe('node not on PATH');
  });

  it('ignores a file that is not executable and a directory of that name', () => {
    const dir = mkdtempSync(join(scratch, 'bin-'));
    writeFileSync(join(dir, 'plain-file'), '#!/bin/sh\n');
    chmodSync(join(dir, 'plain-file'), 0o644);
    writeFileSync(join(dir, 'runnable'), '#!/bin/sh\n');
    chmodSync(join(dir, 'runnable'), 0o755);
    mkdirSync(join(dir, 'a-directory'), { mode: 0o755 });
    const env = { PATH: `${join(dir, 'no-such-dir')}:${dir}` };
    expect(probeRequirement(binaryOnPath('plain-file', 'x'), env)).toBe('plain-file not on PATH');
    expect(probeRequirement(binaryOnPath('a-directory', 'x'), env)).toBe('a-directory not on PATH');
    expect(findOnPath('runnable', env)).toBe(join(dir, 'runnable'));
  });
});

// pkg-config and gcc are real Debian packages; `npm test` must pass without pkg-config, so the
// cases that need the tool itself run only where it is installed.
const hasPkgConfig = findOnPath('pkg-config', process.env) !== undefined;
const hasGcc = findOnPath('gcc', process.env) !== undefined;

describe('probeRequirement: pkg-config module', () => {
  it('without pkg-config on PATH, says so', () => {
    expect(probeRequirement(pkgConfigModule('libsrtp2', 'libsrtp2-dev'), { PATH: emptyDir })).toBe(
      'pkg-config not on PATH, so module libsrtp2 cannot be found',
    );
  });

  it.runIf(hasPkgConfig)('finds a module whose .pc file is on its search path, and not one that is absent', () => {
    const pcDir = mkdtempSync(join(scratch, 'pkgconfig-'));
    writeFileSync(join(pcDir, 'parley-probe.pc'), 'Name: parley-probe\nDescription: probe\nVersion: 1.0\n');
    // PKG_CONFIG_LIBDIR replaces pkg-config's default search path, so only pcDir is searched.
    const env = { ...process.env, PKG_CONFIG_LIBDIR: pcDir, PKG_CONFIG_PATH: '' };
    expect(probeRequirement(pkgConfigModule('parley-probe', 'x'), env)).toBeUndefined();
    expect(probeRequirement(pkgConfigModule('libsrtp2', 'libsrtp2-dev'), env)).toBe('pkg-config module libsrtp2 not found');
  });
});

describe('probeRequirement: C header', () => {
  it('without gcc on PATH, says so', () => {
    expect(probeRequirement(cHeader('stdio.h', 'libc6-dev'), { PATH: emptyDir })).toBe(
      'gcc not on PATH, so <stdio.h> cannot be looked for',
    );
  });

  it.runIf(hasGcc)('finds <stdio.h> and not a header that does not exist', () => {
    expect(probeRequirement(cHeader('stdio.h', 'libc6-dev'), process.env)).toBeUndefined();
    expect(probeRequirement(cHeader('parley/no-such-header.h', 'none'), process.env)).toBe(
      'C header <parley/no-such-header.h> not found',
    );
  });
});

describe('systemTestCanRun', () => {
  const missing = [binaryOnPath('parley-no-such-binary', 'parley-tools')];
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is true, and prints nothing, when every requirement is met', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(systemTestCanRun('probe', [binaryOnPath('node', 'nodejs')], { PATH: NODE_ONLY_PATH })).toBe(true);
    expect(warn).not.toHaveBeenCalled();
  });

  it('outside CI: is false after printing the SKIPPED line', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(systemTestCanRun('probe', missing, { PATH: emptyDir })).toBe(false);
    expect(warn.mock.calls).toEqual([
      ['SKIPPED: probe: parley-no-such-binary not on PATH; install with: apt-get install -y parley-tools'],
    ]);
  });

  it('under CI: throws SystemRequirementError carrying what is unmet', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    let thrown: unknown;
    try {
      systemTestCanRun('probe', missing, { PATH: emptyDir, CI: 'true' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SystemRequirementError);
    const error = thrown as SystemRequirementError;
    expect(error.message).toBe(
      'probe: CI must not skip system tests, but parley-no-such-binary not on PATH; install with: apt-get install -y parley-tools',
    );
    expect(error.testName).toBe('probe');
    expect(error.unmet).toEqual([{ requirement: missing[0], reason: 'parley-no-such-binary not on PATH' }]);
    expect(warn).not.toHaveBeenCalled();
  });
});
