/**
 * The relay directory's data access on the real libSQL engine: registration and heartbeat
 * writes, the nonce recorded in the same transaction (a replay, a race or a failure changes
 * nothing), bounded pruning of expired nonces, and status computed at read time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { databaseFromClient } from '../../../control/src/db/client.js';
import {
  listRelayDirectory,
  NONCE_PRUNE_BATCH,
  recordRelayAnnouncement,
  RelayDirectoryError,
  type RelayAnnouncement,
} from '../../../control/src/relays/relay-directory.js';
import { relayStatus } from '../../../control/src/relays/relay-status.js';
import type { RelayRegistrationBody } from '../../../shared/relay-api/messages.js';
import { openMigratedTestDatabase, type TestDatabase } from '../../support/control-database.js';

const NOW = 1_760_000_000_000;
const SKEW = 60_000;
const PUBLIC_KEY = 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo';

function registration(overrides: Partial<RelayRegistrationBody> = {}): RelayRegistrationBody {
  const endpoints = overrides.udpEndpoints ?? [
    { host: '203.0.113.7', port: 40000 },
    { host: '203.0.113.7', port: 40001 },
  ];
  return {
    relayId: 'relay-fra-1',
    bootId: 'AAECAwQFBgcICQoLDA0ODw',
    region: 'fra',
    apiUrl: 'https://relay-fra-1.example.com/',
    udpEndpoint: endpoints[0]!,
    udpEndpoints: endpoints,
    publicKey: PUBLIC_KEY,
    load: { sessions: 0, channels: 0 },
    draining: false,
    rekeyRequested: [],
    lostSessions: [],
    ...overrides,
  };
}

let nonceCounter = 0;
function announcement(kind: 'register' | 'heartbeat', overrides: Partial<RelayAnnouncement> & { body?: Partial<RelayRegistrationBody> } = {}): RelayAnnouncement {
  const now = overrides.now ?? NOW;
  const { body, ...rest } = overrides;
  return {
    kind,
    registration: registration(body),
    controlKeyId: 'relay-fra-1-key',
    nonce: `nonce-${String(++nonceCounter).padStart(16, '0')}`,
    nonceExpiresAt: now + SKEW,
    now,
    ...rest,
  };
}

let database: TestDatabase;

beforeEach(async () => {
  database = await openMigratedTestDatabase();
});

afterEach(() => database.close());

async function nonceCount(): Promise<number> {
  const result = await database.client.execute('SELECT count(*) AS n FROM relay_request_nonces');
  return Number(result.rows[0]!['n']);
}

describe('relay directory', () => {
  it('records a registration with every field, and lists it', async () => {
    expect(await recordRelayAnnouncement(database.db, announcement('register', { body: { load: { sessions: 3, channels: 1 } } }))).toBe('recorded');
    expect(await listRelayDirectory(database.db)).toEqual([
      {
        relayId: 'relay-fra-1',
        region: 'fra',
        apiUrl: 'https://relay-fra-1.example.com/',
        publicKey: PUBLIC_KEY,
        bootId: 'AAECAwQFBgcICQoLDA0ODw',
        udpEndpoints: [
          { host: '203.0.113.7', port: 40000 },
          { host: '203.0.113.7', port: 40001 },
        ],
        load: { sessions: 3, channels: 1 },
        draining: false,
        controlKeyId: 'relay-fra-1-key',
        registeredAt: NOW,
        lastSeenAt: NOW,
      },
    ]);
    expect(await nonceCount()).toBe(1);
  });

  it('a heartbeat updates load, draining and last seen, and keeps the registration time', async () => {
    await recordRelayAnnouncement(database.db, announcement('register'));
    const later = NOW + 10_000;
    expect(
      await recordRelayAnnouncement(database.db, announcement('heartbeat', { now: later, body: { load: { sessions: 12, channels: 3 }, draining: true, apiUrl: 'https://relay-fra-1b.example.com/' } })),
    ).toBe('recorded');
    const [entry] = await listRelayDirectory(database.db);
    // The API URL is the latest announced one (§8.6).
    expect(entry).toMatchObject({ load: { sessions: 12, channels: 3 }, draining: true, registeredAt: NOW, lastSeenAt: later, apiUrl: 'https://relay-fra-1b.example.com/' });
  });

  it('registering again (a restarted relay) replaces what the directory held', async () => {
    await recordRelayAnnouncement(database.db, announcement('register', { body: { draining: true, load: { sessions: 9, channels: 9 } } }));
    const later = NOW + 60_000;
    const endpoints = [{ host: '198.51.100.1', port: 50000 }];
    const restarted = 'EBESExQVFhcYGRobHB0eHw';
    await recordRelayAnnouncement(database.db, announcement('register', { now: later, controlKeyId: 'relay-fra-1-key-2', body: { bootId: restarted, udpEndpoints: endpoints, udpEndpoint: endpoints[0]! } }));
    const entries = await listRelayDirectory(database.db);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ bootId: restarted, udpEndpoints: endpoints, draining: false, load: { sessions: 0, channels: 0 }, controlKeyId: 'relay-fra-1-key-2', registeredAt: later, lastSeenAt: later });
  });

  it('a heartbeat for an unknown relay writes nothing, not even its nonce', async () => {
    expect(await recordRelayAnnouncement(database.db, announcement('heartbeat'))).toBe('unknown-relay');
    expect(await listRelayDirectory(database.db)).toEqual([]);
    expect(await nonceCount()).toBe(0);
  });

  it('a replayed registration changes nothing, even with another body', async () => {
    const first = announcement('register');
    await recordRelayAnnouncement(database.db, first);
    const before = await listRelayDirectory(database.db);
    const replay = { ...first, now: NOW + 5_000, registration: registration({ draining: true, region: 'ams' }) };
    expect(await recordRelayAnnouncement(database.db, replay)).toBe('replayed');
    expect(await listRelayDirectory(database.db)).toEqual(before);
    expect(await nonceCount()).toBe(1);
  });

  it('a replayed heartbeat changes nothing', async () => {
    await recordRelayAnnouncement(database.db, announcement('register'));
    const heartbeat = announcement('heartbeat', { now: NOW + 10_000, body: { load: { sessions: 1, channels: 1 } } });
    await recordRelayAnnouncement(database.db, heartbeat);
    const before = await listRelayDirectory(database.db);
    const replay = { ...heartbeat, now: NOW + 20_000, registration: registration({ load: { sessions: 99, channels: 99 } }) };
    expect(await recordRelayAnnouncement(database.db, replay)).toBe('replayed');
    expect(await listRelayDirectory(database.db)).toEqual(before);
  });

  it('a nonce is forgotten once it expired, as in a relay nonce cache', async () => {
    const first = announcement('register');
    await recordRelayAnnouncement(database.db, first);
    // Still live at its expiry instant, gone one millisecond later.
    expect(await recordRelayAnnouncement(database.db, { ...first, now: first.nonceExpiresAt })).toBe('replayed');
    const after = first.nonceExpiresAt + 1;
    expect(await recordRelayAnnouncement(database.db, { ...first, now: after, nonceExpiresAt: after + SKEW })).toBe('recorded');
    expect((await listRelayDirectory(database.db))[0]!.lastSeenAt).toBe(after);
  });

  it('prunes expired nonces a bounded number per request', async () => {
    const expired = 3 * NONCE_PRUNE_BATCH;
    await database.client.batch(
      Array.from({ length: expired }, (_, i) => ({ sql: 'INSERT INTO relay_request_nonces (nonce, expires_at) VALUES (?, ?)', args: [`old-${i}`, NOW - 1 - i] })),
      'write',
    );
    await database.client.execute({ sql: 'INSERT INTO relay_request_nonces (nonce, expires_at) VALUES (?, ?)', args: ['live', NOW] });
    await recordRelayAnnouncement(database.db, announcement('register'));
    // Removed NONCE_PRUNE_BATCH expired ones, added one.
    expect(await nonceCount()).toBe(expired + 1 - NONCE_PRUNE_BATCH + 1);
    await recordRelayAnnouncement(database.db, announcement('heartbeat'));
    await recordRelayAnnouncement(database.db, announcement('heartbeat'));
    await recordRelayAnnouncement(database.db, announcement('heartbeat'));
    // Every expired nonce gone; the live one and the four new ones stay.
    expect(await nonceCount()).toBe(1 + 4);
    const live = await database.client.execute("SELECT count(*) AS n FROM relay_request_nonces WHERE nonce = 'live'");
    expect(Number(live.rows[0]!['n'])).toBe(1);
  });

  it('a failure half-way leaves neither the nonce nor the directory write', async () => {
    await recordRelayAnnouncement(database.db, announcement('register'));
    const before = await listRelayDirectory(database.db);
    await database.client.execute("CREATE TRIGGER refuse_update BEFORE UPDATE ON relays BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
    const failing = announcement('heartbeat', { now: NOW + 1_000, body: { draining: true } });
    await expect(recordRelayAnnouncement(database.db, failing)).rejects.toBeInstanceOf(RelayDirectoryError);
    expect(await listRelayDirectory(database.db)).toEqual(before);
    const row = await database.client.execute({ sql: 'SELECT count(*) AS n FROM relay_request_nonces WHERE nonce = ?', args: [failing.nonce] });
    expect(Number(row.rows[0]!['n'])).toBe(0);
    // The same request, retried once the fault is gone, is not a replay.
    await database.client.execute('DROP TRIGGER refuse_update');
    expect(await recordRelayAnnouncement(database.db, failing)).toBe('recorded');
  });

  it('status is computed at read time: alive, draining, then dead after the dead-after interval', async () => {
    await recordRelayAnnouncement(database.db, announcement('register'));
    const [entry] = await listRelayDirectory(database.db);
    expect(relayStatus(entry!, NOW, 30_000)).toBe('alive');
    expect(relayStatus(entry!, NOW + 30_000, 30_000)).toBe('alive');
    expect(relayStatus(entry!, NOW + 30_001, 30_000)).toBe('dead');
    expect(relayStatus({ ...entry!, draining: true }, NOW, 30_000)).toBe('draining');
    expect(relayStatus({ ...entry!, draining: true }, NOW + 30_001, 30_000)).toBe('dead');
  });
});

describe('relay directory on a file: database shared by two clients', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-relay-directory-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('two copies of one request racing through two connections: exactly one has an effect', async () => {
    const url = `file:${join(dir, 'control.db')}`;
    const migrated = await openMigratedTestDatabase(url);
    const other = createClient({ url, intMode: 'number' });
    try {
      // Wait for a lock instead of failing at once, as the local server and Turso do.
      await other.execute('PRAGMA busy_timeout = 5000');
      await migrated.client.execute('PRAGMA busy_timeout = 5000');
      const otherDb = databaseFromClient(other);
      for (let round = 0; round < 10; round++) {
        const request = announcement('register', { now: NOW + round, body: { load: { sessions: round, channels: 0 } } });
        const outcomes = await Promise.all([recordRelayAnnouncement(migrated.db, request), recordRelayAnnouncement(otherDb, request)]);
        expect(outcomes.sort(), `round ${round}`).toEqual(['recorded', 'replayed']);
      }
      const entries = await listRelayDirectory(otherDb);
      expect(entries).toHaveLength(1);
      expect(entries[0]!.load.sessions).toBe(9);
    } finally {
      other.close();
      migrated.close();
    }
  });
});
