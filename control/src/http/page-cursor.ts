/**
 * Cursors for keyset pagination (docs/protocol.md §4.4): a list is ordered by a time and an id,
 * and a page's `nextCursor` names the last row it returned, so the next page starts strictly
 * after it. Rows inserted or deleted meanwhile never shift a page, as they would with offsets.
 *
 * On the wire a cursor is opaque: base64url of the JSON `[at, id]`. Clients pass it back
 * unchanged; anything else is `400 validation_failed` naming `cursor`.
 */
import { z } from '@hono/zod-openapi';
import { decodeBase64Url, encodeBase64Url } from '../../../shared/relay-api/index.js';
import type { PageKey } from '../db/keyset-page.js';
import { ApiError } from './errors.js';

export type { PageKey } from '../db/keyset-page.js';

const MAX_CURSOR_LENGTH = 512;

export const CursorQuerySchema = z
  .string()
  .max(MAX_CURSOR_LENGTH)
  .optional()
  .openapi({ description: 'The `nextCursor` of the previous page; omit for the first page.', example: 'WzE3NjQ1OTIwMDAwMDAsImNobl8uLi4iXQ' });

export function encodePageCursor(key: PageKey): string {
  return encodeBase64Url(new TextEncoder().encode(JSON.stringify([key.at, key.id])));
}

/** The key a cursor names; throws validation_failed (field `cursor`) for anything we did not issue. */
export function decodePageCursor(cursor: string | undefined): PageKey | undefined {
  if (cursor === undefined) return undefined;
  const bytes = cursor.length <= MAX_CURSOR_LENGTH ? decodeBase64Url(cursor) : null;
  let parsed: unknown = null;
  if (bytes !== null) {
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes));
    } catch {
      parsed = null;
    }
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    !Number.isSafeInteger(parsed[0]) ||
    typeof parsed[1] !== 'string' ||
    parsed[1].length === 0 ||
    parsed[1].length > 300
  ) {
    throw new ApiError('validation_failed', { field: 'cursor', message: 'cursor: is not a cursor this API returned.' });
  }
  return { at: parsed[0] as number, id: parsed[1] };
}
