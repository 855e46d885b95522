/**
 * The metrics token is compared in constant time: both sides hashed, the digests compared with
 * crypto.timingSafeEqual (wrapped here to record what decides). No timing is measured.
 */
import { describe, expect, it, vi } from 'vitest';

const compared = vi.hoisted(() => ({ calls: [] as Array<[number, number]> }));

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return {
    ...original,
    timingSafeEqual(a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView): boolean {
      compared.calls.push([a.byteLength, b.byteLength]);
      return original.timingSafeEqual(a, b);
    },
  };
});

const { bearerTokenMatches } = await import('../../../relay/src/api/bearer-token.js');

const TOKEN = 'metrics-token-0123456789';

describe('bearerTokenMatches (metrics token, constant time)', () => {
  it('accepts exactly "Bearer <token>"', () => {
    expect(bearerTokenMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['another scheme', `Basic ${TOKEN}`],
    ['a lower-case scheme', `bearer ${TOKEN}`],
    ['two spaces', `Bearer  ${TOKEN}`],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`],
    ['the token and more', `Bearer ${TOKEN}x`],
    ['the last character wrong', `Bearer ${TOKEN.slice(0, -1)}8`],
    ['the first character wrong', `Bearer N${TOKEN.slice(1)}`],
  ])('refuses %s', (_what, header) => {
    expect(bearerTokenMatches(header, TOKEN)).toBe(false);
  });

  it('decides with timingSafeEqual over equal-length digests, whatever the lengths presented', () => {
    compared.calls.length = 0;
    for (const header of [`Bearer ${TOKEN}`, 'Bearer x', `Bearer ${TOKEN.repeat(10)}`]) bearerTokenMatches(header, TOKEN);
    expect(compared.calls).toEqual([
      [32, 32],
      [32, 32],
      [32, 32],
    ]);
  });
});
