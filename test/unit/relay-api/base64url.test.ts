import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBase64Url, encodeBase64Url } from '../../../shared/relay-api/base64url.js';

describe('base64url', () => {
  it('matches Buffer for every length 0..64', () => {
    for (let length = 0; length <= 64; length++) {
      const bytes = new Uint8Array(randomBytes(length));
      const text = Buffer.from(bytes).toString('base64url');
      expect(encodeBase64Url(bytes)).toBe(text);
      expect(decodeBase64Url(text)).toEqual(bytes);
    }
  });

  it.each([
    ['padding', 'AA=='],
    ['standard alphabet', 'a+/b'],
    ['white space', 'AA AA'],
    ['a lone character', 'AAAAA'],
    ['non-zero trailing bits (1 byte)', 'AB'],
    ['non-zero trailing bits (2 bytes)', 'AAB'],
    ['non-ASCII', 'AAé'],
  ])('refuses %s', (_name, text) => {
    expect(decodeBase64Url(text)).toBeNull();
  });
});
