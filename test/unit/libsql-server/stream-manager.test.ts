/**
 * Streams and batons of the local libSQL server, on a manual clock (no timers, no waiting):
 * a baton is good for one request, cannot be forged or moved to another stream, and an idle
 * stream expires — closing its connection — and is then answered with STREAM_EXPIRED.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ProtocolError, StreamUnavailableError } from '../../../control/dev/libsql-server/errors.js';
import { LocalDatabase } from '../../../control/dev/libsql-server/local-database.js';
import { LockWaits } from '../../../control/dev/libsql-server/lock-waits.js';
import { ResponseBudget } from '../../../control/dev/libsql-server/sql-connection.js';
import { StreamManager } from '../../../control/dev/libsql-server/stream-manager.js';

const IDLE_MS = 1_000;

describe('StreamManager', () => {
  let now = 0;
  let database: LocalDatabase;
  let lockWaits: LockWaits;
  let manager: StreamManager;

  beforeEach(() => {
    now = 0;
    lockWaits = new LockWaits();
    database = LocalDatabase.open({ location: ':memory:', lockWaits, busyTimeoutMs: 100 });
    manager = new StreamManager({
      connect: () => database.connect(),
      maxStreams: 2,
      idleTimeoutMs: IDLE_MS,
      now: () => now,
      sweepTimer: false,
    });
  });

  afterEach(() => {
    manager.close();
    lockWaits.close();
    database.close();
  });

  function expectProtocolError(action: () => unknown): void {
    expect(action).toThrow(ProtocolError);
  }

  function expectUnavailable(action: () => unknown, code: string): void {
    try {
      action();
    } catch (error) {
      expect(error).toBeInstanceOf(StreamUnavailableError);
      expect((error as StreamUnavailableError).code).toBe(code);
      return;
    }
    expect.unreachable(`expected ${code}`);
  }

  it('opens a stream without a baton and resumes it with the baton it got', () => {
    const stream = manager.acquire(undefined);
    const baton = manager.release(stream);
    expect(baton).toEqual(expect.any(String));
    expect(manager.acquire(baton)).toBe(stream);
    expect(manager.openCount).toBe(1);
  });

  it('accepts each baton once: a replayed or concurrent baton is a protocol error', () => {
    const stream = manager.acquire(null);
    const first = manager.release(stream) as string;
    manager.acquire(first);
    expectProtocolError(() => manager.acquire(first)); // in use
    const second = manager.release(stream) as string;
    expect(second).not.toBe(first);
    expectProtocolError(() => manager.acquire(first)); // stale sequence
    expect(manager.acquire(second)).toBe(stream);
  });

  it('rejects forged batons and batons moved onto another stream', () => {
    const a = manager.acquire(null);
    const batonA = manager.release(a) as string;
    const b = manager.acquire(null);
    const batonB = manager.release(b) as string;
    const [idA, sequenceA, macA] = batonA.split('.');
    const [idB] = batonB.split('.');
    for (const forged of [
      'nonsense',
      '',
      `${idA}.${sequenceA}`,
      `${idB}.${sequenceA}.${macA}`, // A's MAC on B's id
      `${idA}.${Number(sequenceA) + 1}.${macA}`, // a later sequence with the old MAC
      `${idA}.${sequenceA}.${Buffer.alloc(32).toString('base64url')}`,
    ]) {
      expectProtocolError(() => manager.acquire(forged));
    }
    expect(manager.acquire(batonA)).toBe(a);
  });

  it('expires an idle stream, rolling back its transaction, then answers STREAM_EXPIRED', async () => {
    const stream = manager.acquire(null);
    const budget = new ResponseBudget(1 << 20);
    const statement = (sql: string) => ({ sql, args: [], namedArgs: [], wantRows: true });
    await stream.connection.execute(statement('CREATE TABLE t(x)'), budget);
    await stream.connection.execute(statement('BEGIN IMMEDIATE'), budget);
    await stream.connection.execute(statement('INSERT INTO t VALUES (1)'), budget);
    const connection = stream.connection;
    const baton = manager.release(stream) as string;

    now = IDLE_MS - 1;
    expect(manager.expireIdle()).toBe(0);
    now = IDLE_MS;
    expect(manager.expireIdle()).toBe(1);
    expect(connection.closed).toBe(true);
    expect(manager.openCount).toBe(0);
    expectUnavailable(() => manager.acquire(baton), 'STREAM_EXPIRED');

    // The write lock is free again and the insert is gone.
    const other = manager.acquire(null);
    await other.connection.execute(statement('BEGIN IMMEDIATE'), budget);
    const count = await other.connection.execute(statement('SELECT count(*) FROM t'), budget);
    expect(count.rows).toEqual([[{ type: 'integer', value: '0' }]]);
  });

  it('never expires a stream while a request holds it', () => {
    const stream = manager.acquire(null);
    now = 10 * IDLE_MS;
    expect(manager.expireIdle()).toBe(0);
    expect(manager.release(stream)).toEqual(expect.any(String));
  });

  it('refuses a stream past maxStreams and one more after a close', () => {
    const a = manager.acquire(null);
    manager.acquire(null);
    expectUnavailable(() => manager.acquire(null), 'STREAMS_EXHAUSTED');
    a.close();
    expect(manager.release(a)).toBeNull();
    expect(manager.openCount).toBe(1);
    manager.acquire(null);
  });

  it('close() closes every stream, is idempotent, and refuses new work', () => {
    const stream = manager.acquire(null);
    const connection = stream.connection;
    manager.close();
    manager.close();
    expect(connection.closed).toBe(true);
    expectUnavailable(() => manager.acquire(null), 'SERVER_CLOSING');
  });
});
