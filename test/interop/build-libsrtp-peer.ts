/**
 * Compiles test/interop/libsrtp-peer.c against the system libsrtp2 into a fresh temp dir.
 *
 * The system test checks for gcc, pkg-config and libsrtp2 first (and skips or, under CI, fails
 * there); a failure that still happens here is real, so it throws an Error naming the Debian
 * packages to install and carrying gcc's output.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LIBSRTP_PEER_SOURCE = fileURLToPath(new URL('./libsrtp-peer.c', import.meta.url));

const INSTALL_HINT = 'install the Debian packages: apt-get install -y libsrtp2-dev pkg-config gcc';

export interface BuiltLibsrtpPeer {
  /** Absolute path of the compiled executable. */
  readonly path: string;
  /** Removes the temp dir; safe to call more than once. */
  dispose(): void;
}

/** Compiler and linker flags for libsrtp2: pkg-config when present, plain -lsrtp2 otherwise. */
function libsrtpFlags(): string[] {
  const probe = spawnSync('pkg-config', ['--cflags', '--libs', 'libsrtp2'], { encoding: 'utf8' });
  if (probe.status === 0 && probe.stdout.trim() !== '') {
    return probe.stdout.trim().split(/\s+/);
  }
  return ['-lsrtp2'];
}

export function buildLibsrtpPeer(): BuiltLibsrtpPeer {
  const gcc = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  if (gcc.error !== undefined || gcc.status !== 0) {
    throw new Error(`libsrtp interop: gcc not found (${gcc.error?.message ?? `exit ${gcc.status}`}); ${INSTALL_HINT}`);
  }

  const dir = mkdtempSync(join(tmpdir(), 'parley-libsrtp-peer-'));
  const path = join(dir, 'libsrtp-peer');
  const dispose = (): void => rmSync(dir, { recursive: true, force: true });

  const compile = spawnSync('gcc', ['-O2', '-Wall', '-o', path, LIBSRTP_PEER_SOURCE, ...libsrtpFlags()], {
    encoding: 'utf8',
  });
  if (compile.status !== 0) {
    dispose();
    const output = `${compile.stderr}${compile.stdout}`.trim();
    const missingLibsrtp = /srtp2\/srtp\.h|-lsrtp2|cannot find -lsrtp2|undefined reference to `srtp_/.test(output);
    const cause = missingLibsrtp ? 'libsrtp2 headers or library not found (Debian package libsrtp2-dev)' : 'gcc failed';
    throw new Error(`libsrtp interop: ${cause}; ${INSTALL_HINT}\n${output}`);
  }
  return { path, dispose };
}
