/**
 * The database file the local libSQL server serves.
 *
 * `:memory:` cannot be shared by several connections (each would get its own empty database),
 * so it is served from a file in a fresh temporary directory that close() deletes: the same
 * WAL semantics as a named file, gone with the server.
 *
 * One anchor connection stays open for the server's lifetime. Without it, each one-shot stream
 * (open, execute, close) would be the last connection to close, and SQLite would checkpoint and
 * delete the WAL every time.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import Database from 'libsql';

import type { LockWaits } from './lock-waits.js';
import { SqlConnection } from './sql-connection.js';

export const IN_MEMORY = ':memory:';

export interface LocalDatabaseOptions {
  /** A file path (created with its folder if missing) or ":memory:". */
  readonly location: string;
  readonly lockWaits: LockWaits;
  readonly busyTimeoutMs: number;
}

export class LocalDatabase {
  readonly #anchor: Database.Database;
  readonly #temporaryDirectory: string | undefined;
  readonly #options: LocalDatabaseOptions;
  #closed = false;

  private constructor(
    readonly path: string,
    anchor: Database.Database,
    temporaryDirectory: string | undefined,
    options: LocalDatabaseOptions,
  ) {
    this.#anchor = anchor;
    this.#temporaryDirectory = temporaryDirectory;
    this.#options = options;
  }

  static open(options: LocalDatabaseOptions): LocalDatabase {
    let temporaryDirectory: string | undefined;
    let path: string;
    if (options.location === IN_MEMORY) {
      temporaryDirectory = mkdtempSync(join(tmpdir(), 'parley-libsql-'));
      path = join(temporaryDirectory, 'memory.db');
    } else {
      path = resolve(options.location);
      mkdirSync(dirname(path), { recursive: true });
    }
    try {
      const anchor = new Database(path, { timeout: 0 });
      try {
        // WAL is a property of the file: set once, every later connection uses it.
        // Readers then never wait for the writer (https://sqlite.org/wal.html).
        const mode = (anchor.prepare('PRAGMA journal_mode = WAL').raw(true).get() as unknown[] | undefined)?.[0];
        if (mode !== 'wal') throw new Error(`the database could not be put in WAL mode (journal_mode is ${String(mode)})`);
        return new LocalDatabase(path, anchor, temporaryDirectory, options);
      } catch (error) {
        anchor.close();
        throw error;
      }
    } catch (error) {
      if (temporaryDirectory !== undefined) rmSync(temporaryDirectory, { recursive: true, force: true });
      throw error;
    }
  }

  /** A new connection of its own (one per stream). */
  connect(): SqlConnection {
    if (this.#closed) throw new Error('local-database: closed');
    return SqlConnection.open(this.path, {
      lockWaits: this.#options.lockWaits,
      busyTimeoutMs: this.#options.busyTimeoutMs,
    });
  }

  /** Closes the anchor connection and deletes a temporary database. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#anchor.close();
    if (this.#temporaryDirectory !== undefined) rmSync(this.#temporaryDirectory, { recursive: true, force: true });
  }
}
