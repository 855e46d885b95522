/**
 * What a system test needs from the machine (Debian packages), and what to do when it is missing.
 *
 * `npm test` needs only Node and a C toolchain; `npm run test:system` runs the tests that need
 * more (libsrtp2 today). On a developer's machine a missing package skips the test with one
 * line saying what to install; under CI a skip would hide a broken pipeline, so there it fails.
 *
 *   const ready = systemTestCanRun('libsrtp interop', [binaryOnPath('gcc', 'gcc'), ...]);
 *   describe.runIf(ready)('...', () => { ... });
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export type Requirement =
  /** An executable found on PATH, e.g. gcc. */
  | { readonly kind: 'binary'; readonly name: string; readonly debianPackage: string }
  /** A module `pkg-config --exists` knows, e.g. libsrtp2 (its .pc file comes with the -dev package). */
  | { readonly kind: 'pkg-config'; readonly module: string; readonly debianPackage: string }
  /** A C header gcc's preprocessor finds, e.g. sanitizer/asan_interface.h. */
  | { readonly kind: 'c-header'; readonly header: string; readonly debianPackage: string };

export const binaryOnPath = (name: string, debianPackage: string): Requirement => ({ kind: 'binary', name, debianPackage });
export const pkgConfigModule = (module: string, debianPackage: string): Requirement => ({
  kind: 'pkg-config',
  module,
  debianPackage,
});
export const cHeader = (header: string, debianPackage: string): Requirement => ({ kind: 'c-header', header, debianPackage });

export interface UnmetRequirement {
  readonly requirement: Requirement;
  /** Why it is unmet, in a few words ("gcc not on PATH"). */
  readonly reason: string;
}

export type SystemTestVerdict =
  | { readonly action: 'run' }
  | { readonly action: 'skip'; readonly message: string }
  | { readonly action: 'fail'; readonly message: string };

/** Thrown when CI meets a system test whose requirements are unmet: CI must not skip. */
export class SystemRequirementError extends Error {
  override readonly name = 'SystemRequirementError';
  constructor(
    message: string,
    readonly testName: string,
    readonly unmet: readonly UnmetRequirement[],
  ) {
    super(message);
  }
}

/**
 * CI is on when CI is set to anything but "", "0" or "false" (GitHub Actions, GitLab and
 * .ci/run set CI=true; some systems set CI=1).
 */
export function isCi(env: NodeJS.ProcessEnv): boolean {
  const value = env['CI']?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== '0' && value !== 'false';
}

/** The one command that installs everything the test needs (not just what is missing now). */
export function aptGetCommand(requirements: readonly Requirement[]): string {
  const packages = [...new Set(requirements.map((requirement) => requirement.debianPackage))];
  return `apt-get install -y ${packages.join(' ')}`;
}

/** Pure decision: run when nothing is unmet, otherwise skip — or fail under CI. */
export function decideSystemTest(
  testName: string,
  requirements: readonly Requirement[],
  unmet: readonly UnmetRequirement[],
  env: NodeJS.ProcessEnv,
): SystemTestVerdict {
  if (unmet.length === 0) return { action: 'run' };
  const why = `${unmet.map((item) => item.reason).join('; ')}; install with: ${aptGetCommand(requirements)}`;
  if (isCi(env)) {
    return { action: 'fail', message: `${testName}: CI must not skip system tests, but ${why}` };
  }
  return { action: 'skip', message: `SKIPPED: ${testName}: ${why}` };
}

/** Looks for one requirement on this machine; returns why it is unmet, or undefined when met. */
export function probeRequirement(requirement: Requirement, env: NodeJS.ProcessEnv = process.env): string | undefined {
  switch (requirement.kind) {
    case 'binary':
      return findOnPath(requirement.name, env) === undefined ? `${requirement.name} not on PATH` : undefined;
    case 'pkg-config':
      return probePkgConfigModule(requirement.module, env);
    case 'c-header':
      return probeCHeader(requirement.header, env);
  }
}

export function findUnmet(requirements: readonly Requirement[], env: NodeJS.ProcessEnv = process.env): UnmetRequirement[] {
  return requirements.flatMap(function probeOne(requirement): UnmetRequirement[] {
    const reason = probeRequirement(requirement, env);
    return reason === undefined ? [] : [{ requirement, reason }];
  });
}

/**
 * Probes, decides and acts, at collection time of a test file: true when the test can run;
 * false after printing the SKIPPED line; throws SystemRequirementError under CI.
 */
export function systemTestCanRun(
  testName: string,
  requirements: readonly Requirement[],
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  const unmet = findUnmet(requirements, env);
  const verdict = decideSystemTest(testName, requirements, unmet, env);
  switch (verdict.action) {
    case 'run':
      return true;
    case 'skip':
      console.warn(verdict.message);
      return false;
    case 'fail':
      throw new SystemRequirementError(verdict.message, testName, unmet);
  }
}

/** The first executable file called `name` in env.PATH, like `command -v`. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here (or not executable): keep looking
    }
  }
  return undefined;
}

function probePkgConfigModule(module: string, env: NodeJS.ProcessEnv): string | undefined {
  if (findOnPath('pkg-config', env) === undefined) return `pkg-config not on PATH, so module ${module} cannot be found`;
  const probe = spawnSync('pkg-config', ['--exists', module], { env, encoding: 'utf8' });
  if (probe.error !== undefined) return `pkg-config failed to start (${probe.error.message})`;
  return probe.status === 0 ? undefined : `pkg-config module ${module} not found`;
}

function probeCHeader(header: string, env: NodeJS.ProcessEnv): string | undefined {
  if (findOnPath('gcc', env) === undefined) return `gcc not on PATH, so <${header}> cannot be looked for`;
  // Preprocess only: finds the header on gcc's include path without compiling or linking.
  const probe = spawnSync('gcc', ['-E', '-x', 'c', '-o', '/dev/null', '-'], {
    env,
    encoding: 'utf8',
    input: `#include <${header}>\n`,
  });
  if (probe.error !== undefined) return `gcc failed to start (${probe.error.message})`;
  return probe.status === 0 ? undefined : `C header <${header}> not found`;
}
