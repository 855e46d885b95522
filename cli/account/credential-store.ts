/**
 * Where `parley login` keeps its tokens: `$XDG_CONFIG_HOME/parley/credentials.json` (else
 * `~/.config/parley/…`, the XDG Base Directory default), the directory 0700 and the file 0600,
 * since a refresh token is a login. One login per control plane, keyed by its URL.
 *
 * A refresh token is used up when it is used (docs/protocol.md §4.3.4): every command that signs
 * in with it stores the pair the refresh returned, written to a temporary file and renamed over
 * the old one, so a crash never leaves half a file.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TokenPair } from '../../packages/client/src/index.js';

export const CREDENTIALS_FILE_NAME = 'credentials.json';

export interface StoredLogin {
  readonly username: string;
  readonly userId: string;
  readonly refreshToken: string;
  readonly refreshTokenExpiresAt: number;
  readonly savedAt: number;
}

interface CredentialFile {
  readonly version: 1;
  readonly logins: Record<string, StoredLogin>;
}

/** The credentials file is there but unusable (not ours, not JSON, group- or world-readable). */
export class CredentialFileError extends Error {
  override readonly name = 'CredentialFileError';
}

/** `$XDG_CONFIG_HOME/parley/credentials.json`, or `~/.config/parley/credentials.json`. */
export function credentialFilePath(env: NodeJS.ProcessEnv): string {
  const configHome = env['XDG_CONFIG_HOME'];
  // XDG: a relative XDG_CONFIG_HOME is invalid and is ignored.
  const base = configHome !== undefined && configHome.startsWith('/') ? configHome : join(env['HOME'] ?? homedir(), '.config');
  return join(base, 'parley', CREDENTIALS_FILE_NAME);
}

export class CredentialStore {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  static forEnvironment(env: NodeJS.ProcessEnv): CredentialStore {
    return new CredentialStore(credentialFilePath(env));
  }

  #read(): CredentialFile {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, logins: {} };
      throw new CredentialFileError(`cannot read ${this.path}`);
    }
    if ((statSync(this.path).mode & 0o077) !== 0) throw new CredentialFileError(`${this.path} is readable by others; run chmod 600 on it (and consider logging in again)`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CredentialFileError(`${this.path} is not JSON; delete it and log in again`);
    }
    const file = parsed as Partial<CredentialFile>;
    if (file.version !== 1 || typeof file.logins !== 'object' || file.logins === null) throw new CredentialFileError(`${this.path} is not a parley credentials file; delete it and log in again`);
    return file as CredentialFile;
  }

  #write(file: CredentialFile): void {
    const dir = dirname(this.path);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    renameSync(temporary, this.path);
  }

  get(controlUrl: string): StoredLogin | null {
    return this.#read().logins[controlUrl] ?? null;
  }

  /** Stores (or replaces) the login for `controlUrl` from a token pair. */
  save(controlUrl: string, pair: TokenPair): StoredLogin {
    const file = this.#read();
    const login: StoredLogin = {
      username: pair.user.username,
      userId: pair.user.id,
      refreshToken: pair.refreshToken,
      refreshTokenExpiresAt: pair.refreshTokenExpiresAt,
      savedAt: Date.now(),
    };
    this.#write({ version: 1, logins: { ...file.logins, [controlUrl]: login } });
    return login;
  }

  /** Forgets the login for `controlUrl`; the file goes when it holds none. */
  remove(controlUrl: string): void {
    const file = this.#read();
    if (file.logins[controlUrl] === undefined) return;
    const { [controlUrl]: _removed, ...rest } = file.logins;
    if (Object.keys(rest).length === 0) rmSync(this.path, { force: true });
    else this.#write({ version: 1, logins: rest });
  }
}
