/**
 * Keyset cursors (control/src/http/page-cursor.ts, docs/protocol.md §4.4): what the API hands
 * out decodes to the same key, and anything else is validation_failed naming `cursor`, never an
 * exception or a key it did not issue.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pageOf } from '../../../control/src/db/keyset-page.js';
import { ApiError } from '../../../control/src/http/errors.js';
import { decodePageCursor, encodePageCursor } from '../../../control/src/http/page-cursor.js';

function refused(cursor: string): void {
  let caught: unknown;
  try {
    decodePageCursor(cursor);
  } catch (error) {
    caught = error;
  }
  expect(caught, JSON.stringify(cursor)).toBeInstanceOf(ApiError);
  expect((caught as ApiError).toBody()).toEqual({ error: 'validation_failed', message: 'cursor: is not a cursor this API returned.', field: 'cursor' });
}

describe('page cursors', () => {
  it('round-trip every key: times and ids, app-user subjects with any characters', () => {
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.string({ minLength: 1, maxLength: 256, unit: 'grapheme' }), (at, id) => {
        const cursor = encodePageCursor({ at, id });
        expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(decodePageCursor(cursor)).toEqual({ at, id });
      }),
    );
    expect(decodePageCursor(undefined)).toBeUndefined();
  });

  it('refuse what the API did not issue', () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64url');
    for (const cursor of ['', '!', 'not a cursor', b64('[1]'), b64('[1,""]'), b64('["1","x"]'), b64('[1.5,"x"]'), b64('{"at":1,"id":"x"}'), b64('[1,"x",2]'), b64('null'), 'x'.repeat(600)]) {
      refused(cursor);
    }
    refused(Buffer.from([0xff, 0xfe, 0x5b]).toString('base64url'));
  });

  it('pages know whether another page follows from one extra row', () => {
    const rows = [1, 2, 3].map((n) => ({ at: n, id: `r${n}` }));
    expect(pageOf(rows, 3, (r) => r)).toEqual({ items: rows, next: null });
    expect(pageOf(rows, 2, (r) => r)).toEqual({ items: rows.slice(0, 2), next: { at: 2, id: 'r2' } });
  });
});
