import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '@libsql/client';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyDatabaseError } from '../../../control/src/db/database-errors.js';
import { databaseFromClient } from '../../../control/src/db/client.js';
import { users } from '../../../control/src/db/schema.js';
import { openMigratedTestDatabase, type TestDatabase } from '../../support/control-database.js';

async function failureOf(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('expected the database call to fail');
}

describe('classifyDatabaseError', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openMigratedTestDatabase();
  });
  afterAll(() => database.close());

  it('a statement the engine refuses is a statement failure with its SQLite code, and nothing of its parameters', async () => {
    const secret = 'argon2id-hash-that-must-not-be-logged';
    const row = { id: 'usr_dup', username: 'dup', usernameKey: 'dup', passwordHash: secret, createdAt: 1, updatedAt: 1, passwordChangedAt: 1 } as typeof users.$inferInsert;
    await database.db.insert(users).values(row);
    const error = await failureOf(() => database.db.insert(users).values(row));
    const report = classifyDatabaseError(error);
    expect(report?.failure).toBe('statement');
    expect(report?.code).toMatch(/^SQLITE_CONSTRAINT/);
    expect(report?.chain[0]).toBe('DrizzleQueryError');
    expect(JSON.stringify(report)).not.toContain(secret);
    // The control: the wrapped error's own message does carry the parameters.
    expect(String((error as Error).message)).toContain(secret);
  });

  it('a server that answers 5xx is unavailable', async () => {
    const server = createServer((_request, response) => {
      response.writeHead(503).end('down');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const client = createClient({ url: `http://127.0.0.1:${port}`, authToken: 't' });
      const error = await failureOf(() => databaseFromClient(client).select().from(users).where(eq(users.id, 'x')));
      client.close();
      expect(classifyDatabaseError(error)?.failure).toBe('unavailable');
    } finally {
      server.close();
    }
  });

  it('a server nobody listens on is unavailable', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const client = createClient({ url: `http://127.0.0.1:${port}`, authToken: 't' });
    const error = await failureOf(() => databaseFromClient(client).select().from(users).where(eq(users.id, 'x')));
    client.close();
    expect(classifyDatabaseError(error)?.failure).toBe('unavailable');
  });

  it('a batch to a server nobody listens on is unavailable too, through drizzle or the client (not a bare fetch error)', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const client = createClient({ url: `http://127.0.0.1:${port}`, authToken: 't' });
    const db = databaseFromClient(client);
    const viaDrizzle = await failureOf(() => db.batch([db.select().from(users).where(eq(users.id, 'x')), db.select().from(users)]));
    const viaClient = await failureOf(() => db.$client.batch([{ sql: 'SELECT 1', args: [] }], 'write'));
    client.close();
    for (const error of [viaDrizzle, viaClient]) {
      expect(classifyDatabaseError(error)).toMatchObject({ failure: 'unavailable' });
      expect(classifyDatabaseError(error)?.chain[0]).toBe('DatabaseBatchError');
    }
  });

  it('a batch statement the engine refuses is a statement failure with its SQLite code', async () => {
    const row = { id: 'usr_dup2', username: 'dup2', usernameKey: 'dup2', passwordHash: 'h', createdAt: 1, updatedAt: 1, passwordChangedAt: 1 } as typeof users.$inferInsert;
    await database.db.insert(users).values(row);
    const error = await failureOf(() => database.db.batch([database.db.insert(users).values(row)]));
    const report = classifyDatabaseError(error);
    expect(report?.failure).toBe('statement');
    expect(report?.code).toMatch(/^SQLITE_CONSTRAINT/);
  });

  it('an error that did not come from the database is not classified', () => {
    expect(classifyDatabaseError(new TypeError('fetch failed'))).toBeUndefined();
    expect(classifyDatabaseError('a string')).toBeUndefined();
  });
});
