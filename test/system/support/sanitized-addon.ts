/**
 * Builds relay/native with AddressSanitizer and UndefinedBehaviorSanitizer (gcc), for the
 * system tests that run the addon's own tests and a bounded fuzz run against it, and the
 * environment a process needs to load it: Node is not built with ASan, so the ASan runtime must be
 * the first library loaded (LD_PRELOAD), and PARLEY_RELAY_ADDON points the relay's loader (and
 * its worker threads) at the sanitized file instead of the normal build.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const NATIVE_SOURCES = readdirSync(join(REPO_ROOT, 'relay/native/src'))
  .filter((name) => name.endsWith('.c'))
  .map((name) => join(REPO_ROOT, 'relay/native/src', name));

/** Sanitizer flags: every UBSan finding is fatal, frames kept for readable reports. */
const SANITIZE = ['-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-fno-omit-frame-pointer', '-g', '-O1'];

/** Node's own headers (node_api.h, openssl/): beside the node binary, else node-gyp's cache. */
export function nodeIncludeDir(): string {
  const candidates = [
    join(dirname(dirname(process.execPath)), 'include', 'node'),
    join(homedir(), '.cache', 'node-gyp', process.versions.node, 'include', 'node'),
  ];
  const found = candidates.find((dir) => existsSync(join(dir, 'node_api.h')) && existsSync(join(dir, 'openssl', 'evp.h')));
  if (found === undefined) throw new Error(`no Node headers for ${process.version} in ${candidates.join(' or ')}; run npm run build:native once`);
  return found;
}

/** Compiles `sources` (the addon's by default) into `outDir/<name>.node` with the sanitizers. */
export function buildSanitized(outDir: string, name = 'parley_gcm', sources: readonly string[] = NATIVE_SOURCES): string {
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `${name}.node`);
  execFileSync('gcc', ['-shared', '-fPIC', '-std=c11', '-Wall', '-Wextra', ...SANITIZE, '-DNAPI_VERSION=8', '-fvisibility=hidden', `-I${nodeIncludeDir()}`, ...sources, '-o', out], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out;
}

/** gcc's shared sanitizer runtimes, ASan first (it must come before every other library). */
export function sanitizerRuntimes(): string[] {
  return ['libasan.so', 'libubsan.so'].map((lib) => execFileSync('gcc', [`-print-file-name=${lib}`], { encoding: 'utf8' }).trim());
}

/**
 * Environment for a child process that loads `addonPath` under the sanitizers. Leak detection is
 * off: Node itself does not free everything at exit. Any report aborts the process (exit != 0).
 */
export function sanitizedEnv(addonPath: string, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...env,
    LD_PRELOAD: sanitizerRuntimes().join(':'),
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
    PARLEY_RELAY_ADDON: addonPath,
  };
}
