/**
 * Hrana-over-HTTP streams and their batons.
 *
 * A stream is what lets `client.transaction()` span several HTTP requests: the first request
 * (no baton) opens a stream with its own connection; each response carries a baton, and the
 * next request of that stream must present it. A baton is good for exactly one request (its
 * sequence number advances), so two requests can never use one stream at once. A stream ends
 * with a `close` request, or expires after `idleTimeoutMs` without a request; either way its
 * connection closes and an open transaction rolls back.
 *
 * Batons are `<stream id>.<sequence>.<HMAC-SHA256 of both>` under a key drawn at start, like
 * sqld's (libsql-server/src/hrana/http/stream.rs): unguessable, and not forgeable from another
 * stream's baton. An expired stream is remembered for a while so its baton is answered with
 * STREAM_EXPIRED rather than "invalid baton".
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import { ProtocolError, StreamUnavailableError } from './errors.js';
import type { SqlConnection } from './sql-connection.js';

export interface StreamManagerOptions {
  /** Opens the connection of a new stream. */
  readonly connect: () => SqlConnection;
  /** Streams open at once (idle or in a request); a new one past this gets STREAMS_EXHAUSTED. */
  readonly maxStreams: number;
  /** An idle stream expires after this long without a request (sqld: 10 s). */
  readonly idleTimeoutMs: number;
  /** Milliseconds, monotonic; tests pass their own clock and call expireIdle(). */
  readonly now?: () => number;
  /** Sweep for idle streams on a timer (default true; tests with their own clock turn it off). */
  readonly sweepTimer?: boolean;
}

/** How long an expired stream's id is remembered to answer STREAM_EXPIRED (sqld: 5 min). */
const EXPIRED_MEMORY_MS = 300_000;
/** At most this many expired ids are remembered; the oldest are forgotten first. */
const MAX_REMEMBERED_EXPIRED = 10_000;

/** One stream: its connection, the SQL texts it stored, and where its baton sequence is. */
export class HranaStream {
  /** SQL texts stored with store_sql, by sql_id. */
  readonly sqls = new Map<number, string>();
  #connection: SqlConnection | undefined;

  constructor(
    readonly id: string,
    connection: SqlConnection,
  ) {
    this.#connection = connection;
  }

  /** The stream's connection; a request after `close` in the same pipeline is a protocol error. */
  get connection(): SqlConnection {
    if (this.#connection === undefined) throw new ProtocolError('The stream has already been closed');
    return this.#connection;
  }

  get isClosed(): boolean {
    return this.#connection === undefined;
  }

  /** Closes the connection (rolling back an open transaction). Idempotent. */
  close(): void {
    const connection = this.#connection;
    this.#connection = undefined;
    this.sqls.clear();
    connection?.close();
  }
}

/** The manager's bookkeeping of one stream. */
interface StreamEntry {
  readonly stream: HranaStream;
  /** The sequence number the next baton of this stream must carry. */
  sequence: number;
  /** True while a request runs on the stream. */
  acquired: boolean;
  /** When the last request on the stream ended. */
  idleSince: number;
}

export class StreamManager {
  readonly #options: StreamManagerOptions;
  readonly #now: () => number;
  readonly #key = randomBytes(32);
  readonly #streams = new Map<string, StreamEntry>();
  /** Expired stream ids, in expiry order, to when they are forgotten. */
  readonly #expired = new Map<string, number>();
  readonly #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: StreamManagerOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    if (options.sweepTimer ?? true) {
      const period = Math.max(20, Math.min(1_000, Math.floor(options.idleTimeoutMs / 4)));
      this.#sweeper = setInterval(() => this.expireIdle(), period);
      this.#sweeper.unref();
    }
  }

  /** Streams open now (idle or serving a request). */
  get openCount(): number {
    return this.#streams.size;
  }

  /**
   * The stream a request runs on: a new one without a baton, else the baton's. The caller must
   * hand it back with release() (or discard()) when the request is done.
   */
  acquire(baton: string | null | undefined): HranaStream {
    if (this.#closed) throw new StreamUnavailableError('SERVER_CLOSING', 503, 'The server is shutting down');
    if (baton === undefined || baton === null) return this.#open();

    const { id, sequence } = this.#verifyBaton(baton);
    const entry = this.#streams.get(id);
    if (entry === undefined) {
      if (this.#expired.has(id)) {
        throw new StreamUnavailableError('STREAM_EXPIRED', 500, 'The stream has expired due to inactivity');
      }
      throw new ProtocolError('The baton is invalid: its stream does not exist');
    }
    if (entry.acquired || entry.sequence !== sequence) {
      throw new ProtocolError('The baton has already been used');
    }
    entry.acquired = true;
    entry.sequence += 1;
    return entry.stream;
  }

  /** Ends a request on `stream`: the baton for its next request, or null once it is closed. */
  release(stream: HranaStream): string | null {
    const entry = this.#streams.get(stream.id);
    if (entry === undefined || stream.isClosed || this.#closed) {
      this.#forget(stream);
      return null;
    }
    entry.acquired = false;
    entry.idleSince = this.#now();
    return this.#baton(stream.id, entry.sequence);
  }

  /** Closes a stream whose request failed unexpectedly. */
  discard(stream: HranaStream): void {
    this.#forget(stream);
  }

  /** Closes streams idle for longer than the timeout; returns how many expired. */
  expireIdle(now: number = this.#now()): number {
    let expired = 0;
    for (const entry of [...this.#streams.values()]) {
      if (entry.acquired || now - entry.idleSince < this.#options.idleTimeoutMs) continue;
      this.#forget(entry.stream);
      this.#expired.set(entry.stream.id, now + EXPIRED_MEMORY_MS);
      expired += 1;
    }
    for (const [id, forgetAt] of this.#expired) {
      if (forgetAt > now && this.#expired.size <= MAX_REMEMBERED_EXPIRED) break;
      this.#expired.delete(id);
    }
    return expired;
  }

  /** Closes every stream and stops the sweeper. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    for (const entry of [...this.#streams.values()]) this.#forget(entry.stream);
    this.#expired.clear();
  }

  #open(): HranaStream {
    if (this.#streams.size >= this.#options.maxStreams) {
      throw new StreamUnavailableError(
        'STREAMS_EXHAUSTED',
        503,
        `The server already has ${this.#options.maxStreams} open streams`,
      );
    }
    const id = randomBytes(16).toString('base64url');
    const stream = new HranaStream(id, this.#options.connect());
    this.#streams.set(id, { stream, sequence: 0, acquired: true, idleSince: this.#now() });
    return stream;
  }

  #forget(stream: HranaStream): void {
    this.#streams.delete(stream.id);
    stream.close();
  }

  #mac(id: string, sequence: number): Buffer {
    return createHmac('sha256', this.#key).update(`${id}.${sequence}`).digest();
  }

  #baton(id: string, sequence: number): string {
    return `${id}.${sequence}.${this.#mac(id, sequence).toString('base64url')}`;
  }

  #verifyBaton(baton: string): { id: string; sequence: number } {
    const parts = baton.split('.');
    const [id, sequenceText, macText] = parts;
    if (parts.length !== 3 || id === undefined || sequenceText === undefined || macText === undefined) {
      throw new ProtocolError('The baton is invalid');
    }
    const sequence = Number(sequenceText);
    if (!/^[0-9]{1,15}$/.test(sequenceText) || !Number.isSafeInteger(sequence)) {
      throw new ProtocolError('The baton is invalid');
    }
    const expected = this.#mac(id, sequence);
    const given = Buffer.from(macText, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ProtocolError('The baton is invalid');
    }
    return { id, sequence };
  }
}
