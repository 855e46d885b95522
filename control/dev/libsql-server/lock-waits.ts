/**
 * Waiting for SQLite's write lock without blocking the event loop.
 *
 * Every stream has its own connection to one WAL database, so SQLite allows one write
 * transaction at a time and answers SQLITE_BUSY to a second writer. SQLite's own busy_timeout
 * would sleep inside the synchronous engine call, i.e. stop this single-threaded server — and
 * with it the request that would have committed and released the lock. So connections run with
 * busy_timeout=0, and a statement that gets SQLITE_BUSY awaits here instead: it is woken
 * whenever a statement on any connection of this server finishes (it may have released the
 * lock), and at least every POLL_MS (the holder may be another process, such as `db:migrate`).
 */
export const LOCK_POLL_MS = 25;

export class LockWaits {
  readonly #waiters = new Set<() => void>();
  #closed = false;

  /** Wakes every waiter: a connection may have released the write lock. */
  notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves at the next notify(), after at most `maxMs`, or at once once closed. */
  wait(maxMs: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, Math.min(maxMs, LOCK_POLL_MS)));
      this.#waiters.add(wake);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Wakes every waiter for good; waiters check `closed` and give up. Idempotent. */
  close(): void {
    this.#closed = true;
    this.notify();
  }
}
