import fc from 'fast-check';
import type { DestinationStream } from 'pino';
import { describe, expect, it } from 'vitest';
import { createRelayLogger, REDACTED_FIELDS, redactPaths } from '../../../relay/src/logger.js';

function capture(level: 'info' | 'debug' = 'info') {
  const lines: string[] = [];
  const destination: DestinationStream = { write: (line: string) => void lines.push(line) };
  const log = createRelayLogger({ logLevel: level, relayId: 'relay-ams-1', region: 'ams' }, destination);
  return { log, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createRelayLogger', () => {
  it('writes one JSON object per line with the relay identity and a readable level', () => {
    const { log, lines, records } = capture();
    log.info({ sessionId: 's1' }, 'session installed');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const [record] = records();
    expect(record).toMatchObject({
      level: 'info',
      service: 'parley-relay',
      relayId: 'relay-ams-1',
      region: 'ams',
      sessionId: 's1',
      msg: 'session installed',
    });
    expect(typeof record!.time).toBe('string');
  });

  it('honours the level', () => {
    const quiet = capture('info');
    quiet.log.debug('hidden');
    expect(quiet.lines).toHaveLength(0);
    const chatty = capture('debug');
    chatty.log.debug('shown');
    expect(chatty.lines).toHaveLength(1);
  });

  it('prints [Redacted] for key-like fields at every depth, never their values', () => {
    const { log, lines, records } = capture();
    const secrets = {
      masterKey: 'SECRET-master-key-top',
      token: 'SECRET-token-top',
      spec: {
        sealedKeys: 'SECRET-sealed',
        clientToRelay: { masterKey: 'SECRET-c2r-key', masterSalt: 'SECRET-c2r-salt' },
      },
      request: { headers: { authorization: 'Parley-HMAC-SHA256 keyId=k1, sig=SECRET-sig' } },
      a: { b: { c: { privateKey: 'SECRET-private-deep', secret: 'SECRET-deep-secret' } } },
      config: { api: { apiKeys: 'SECRET-api-keys' } },
      keys: { relayToClient: { masterSalt: 'SECRET-r2c-salt' } },
    };
    log.info(secrets, 'dump');
    expect(lines[0]).not.toContain('SECRET');
    const [record] = records() as [Record<string, any>];
    expect(record.masterKey).toBe('[Redacted]');
    expect(record.token).toBe('[Redacted]');
    expect(record.spec.sealedKeys).toBe('[Redacted]');
    expect(record.spec.clientToRelay).toBe('[Redacted]');
    expect(record.request.headers.authorization).toBe('[Redacted]');
    expect(record.a.b.c.privateKey).toBe('[Redacted]');
    expect(record.a.b.c.secret).toBe('[Redacted]');
    expect(record.config.api.apiKeys).toBe('[Redacted]');
    expect(record.keys.relayToClient).toBe('[Redacted]');
    // The caller's object is left alone.
    expect(secrets.spec.clientToRelay.masterKey).toBe('SECRET-c2r-key');
  });

  it('redacts byte arrays too', () => {
    const { log, lines } = capture();
    log.warn({ session: { masterKey: new Uint8Array([0xde, 0xad, 0xbe, 0xef]) } }, 'oops');
    expect(lines[0]).toContain('"masterKey":"[Redacted]"');
    expect(lines[0]).not.toContain('222'); // 0xde
  });

  it('lists the fields it redacts', () => {
    for (const field of ['masterKey', 'masterSalt', 'sealedKeys', 'authorization', 'secret', 'token', 'privateKey']) {
      expect(REDACTED_FIELDS).toContain(field);
    }
  });

  it('never changes the logged object and never leaks, for any nesting (property)', () => {
    // Random objects up to five levels deep whose keys mix redacted and ordinary names; every
    // string value is a unique "SECRET-n" marker.
    const key = fc.constantFrom(...REDACTED_FIELDS, 'spec', 'session', 'a', 'b');
    let counter = 0;
    const leaf = fc.constant(null).map(() => `SECRET-${counter++}`);
    const tree = fc.letrec((tie) => ({
      node: fc.dictionary(key, fc.oneof({ depthSize: 'small' }, leaf, tie('node')), { maxKeys: 3 }),
    })).node;
    const { log, lines } = capture();
    fc.assert(
      fc.property(tree, (object) => {
        const before = JSON.stringify(object);
        lines.length = 0;
        log.info(object, 'property');
        expect(JSON.stringify(object)).toBe(before);
        for (const secret of secretsUnderRedactedKeys(object)) expect(lines[0]).not.toContain(`"${secret}"`);
      }),
      { numRuns: 500 },
    );
  });

  it('orders its paths shallow-first', () => {
    const depths = redactPaths().map((p) => p.split('*.').length - 1);
    expect(depths).toEqual([...depths].sort((x, y) => x - y));
  });
});

/** Strings under a redacted key at most four objects deep: what must not reach the log. */
function secretsUnderRedactedKeys(object: unknown, depth = 0): string[] {
  if (typeof object !== 'object' || object === null) return [];
  const found: string[] = [];
  for (const [k, v] of Object.entries(object)) {
    if ((REDACTED_FIELDS as readonly string[]).includes(k) && depth <= 4) found.push(...allStrings(v));
    else found.push(...secretsUnderRedactedKeys(v, depth + 1));
  }
  return found;
}

function allStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null) return [];
  return Object.values(value).flatMap(allStrings);
}
