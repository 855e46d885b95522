/**
 * Keyset pagination: a list is ordered by (at, id), a time and a unique tie-breaker, and each
 * page after the first starts strictly after the last row of the previous one. Rows inserted or
 * deleted meanwhile never shift a page, as they would with offsets. http/page-cursor.ts turns a
 * key into the opaque cursor clients see.
 */

/** Where a page starts: strictly after (at, id) in (at, id) order. */
export interface PageKey {
  readonly at: number;
  readonly id: string;
}

/** A page's rows and the key of the next page (null on the last page). */
export interface Page<T> {
  readonly items: readonly T[];
  readonly next: PageKey | null;
}

/**
 * Cuts a result fetched with `LIMIT limit + 1` into a page: the extra row, if there, only says
 * that another page exists.
 */
export function pageOf<T>(rows: readonly T[], limit: number, keyOf: (row: T) => PageKey): Page<T> {
  if (rows.length <= limit) return { items: rows, next: null };
  const items = rows.slice(0, limit);
  return { items, next: keyOf(items[items.length - 1]!) };
}
