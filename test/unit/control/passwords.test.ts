import { argon2id } from '@noble/hashes/argon2.js';
import { describe, expect, it } from 'vitest';
import {
  checkNewPassword,
  createPasswordHasher,
  formatPasswordHash,
  isPasswordTooLong,
  needsRehash,
  nobleArgon2id,
  normalizePassword,
  parsePasswordHash,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  type Argon2idFunction,
} from '../../../control/src/auth/passwords.js';
import type { PasswordHashParameters } from '../../../control/src/config.js';

const CHEAP: PasswordHashParameters = { memoryKib: 64, iterations: 1, parallelism: 1 };
const STRONGER: PasswordHashParameters = { memoryKib: 128, iterations: 2, parallelism: 1 };

function countingArgon2id(): { derive: Argon2idFunction; calls: PasswordHashParameters[] } {
  const calls: PasswordHashParameters[] = [];
  return {
    calls,
    derive: (password, salt, params) => {
      calls.push(params);
      return nobleArgon2id(password, salt, params);
    },
  };
}

describe('password rules', () => {
  it('require 15 to 256 characters, counted as code points after normalisation', () => {
    expect(PASSWORD_MIN_LENGTH).toBe(15);
    expect(PASSWORD_MAX_LENGTH).toBe(256);
    expect(checkNewPassword('a'.repeat(13) + 'bc')).toEqual({ ok: true });
    expect(checkNewPassword('abcdefghijklmn')).toMatchObject({ ok: false, problem: 'length' });
    // 15 emoji are 30 UTF-16 units but 15 characters.
    expect(checkNewPassword('😀🎉'.repeat(7) + '😀')).toEqual({ ok: true });
    expect(checkNewPassword('ab'.repeat(128))).toEqual({ ok: true });
    expect(checkNewPassword('ab'.repeat(128) + 'c')).toMatchObject({ ok: false, problem: 'length' });
    // e + combining acute is one character after NFC.
    expect(checkNewPassword('e\u0301'.repeat(13) + 'x')).toMatchObject({ ok: false, problem: 'length' });
  });

  it('refuse a megabyte at once, by its UTF-16 length, before normalising', () => {
    const huge = 'x'.repeat(1024 * 1024);
    expect(isPasswordTooLong(huge)).toBe(true);
    expect(isPasswordTooLong('😀'.repeat(256))).toBe(false);
    expect(isPasswordTooLong('😀'.repeat(257))).toBe(true);
    expect(checkNewPassword(huge)).toMatchObject({ ok: false, problem: 'length' });
  });

  it('refuse control characters, lone surrogates, one repeated character and the username', () => {
    expect(checkNewPassword('correct horse\u0000battery')).toMatchObject({ problem: 'control_characters' });
    expect(checkNewPassword('correct horse\tbattery')).toMatchObject({ problem: 'control_characters' });
    expect(checkNewPassword('correct horse \ud800 battery')).toMatchObject({ problem: 'control_characters' });
    expect(checkNewPassword('x'.repeat(20))).toMatchObject({ problem: 'repeated_character' });
    expect(checkNewPassword('AliceInWonderland', { username: 'aliceinwonderland' })).toMatchObject({ problem: 'same_as_username' });
    expect(checkNewPassword('ＡｌｉｃｅＩｎＷｏｎｄｅｒｌａｎｄ', { username: 'aliceinwonderland' })).toMatchObject({ problem: 'same_as_username' });
    expect(checkNewPassword('alice in wonderland', { username: 'aliceinwonderland' })).toEqual({ ok: true });
  });

  it('normalise as RFC 8265 OpaqueString: non-ASCII spaces to U+0020, NFC, no case or width mapping', () => {
    expect(normalizePassword('a\u00a0b\u3000c\u2009d')).toBe('a b c d');
    expect(normalizePassword('e\u0301')).toBe('é');
    expect(normalizePassword('ＡＢＣ')).toBe('ＡＢＣ');
    expect(normalizePassword('ABC')).toBe('ABC');
  });
});

describe('PHC strings', () => {
  const salt = new Uint8Array(16).map((_, i) => i);
  const hash = new Uint8Array(32).map((_, i) => 255 - i);

  it('round-trip, in the reference format (standard base64, no padding)', () => {
    const text = formatPasswordHash({ params: { memoryKib: 19456, iterations: 2, parallelism: 1 }, salt, hash });
    expect(text).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(text).toBe('$argon2id$v=19$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$//79/Pv6+fj39vX08/Lx8O/u7ezr6uno5+bl5OPi4eA');
    expect(parsePasswordHash(text)).toEqual({ params: { memoryKib: 19456, iterations: 2, parallelism: 1 }, salt, hash });
  });

  // Known answers from the reference implementation's CLI (Debian package argon2, 20190702):
  //   echo -n 'correct horse battery staple' | argon2 parley-salt-0001 -id -t 2 -k 19456 -p 1 -l 32 -e
  //   echo -n 'correct horse battery staple' | argon2 parley-salt-0002 -id -t 1 -k 64 -p 1 -l 32 -e
  const REFERENCE_OWASP = '$argon2id$v=19$m=19456,t=2,p=1$cGFybGV5LXNhbHQtMDAwMQ$vidtbl+G1NoQdG8oV0S5QjUVDCp2evAm1qHHk9M3kAo';
  const REFERENCE_CHEAP = '$argon2id$v=19$m=64,t=1,p=1$cGFybGV5LXNhbHQtMDAwMg$481eUWUN4vBH6Pv2XjvRpwPO+p07r+Gi+GYsvlbeW04';

  it('match the reference implementation byte for byte (OWASP parameters)', () => {
    const parsed = parsePasswordHash(REFERENCE_OWASP)!;
    expect(parsed.params).toEqual({ memoryKib: 19456, iterations: 2, parallelism: 1 });
    expect(new TextDecoder().decode(parsed.salt)).toBe('parley-salt-0001');
    const computed = argon2id(new TextEncoder().encode('correct horse battery staple'), parsed.salt, { m: 19456, t: 2, p: 1, dkLen: 32 });
    expect(formatPasswordHash({ params: parsed.params, salt: parsed.salt, hash: computed })).toBe(REFERENCE_OWASP);
  });

  it('verify a hash the reference implementation wrote', async () => {
    const hasher = createPasswordHasher();
    expect(await hasher.verify('correct horse battery staple', REFERENCE_CHEAP, CHEAP)).toEqual({ ok: true, needsRehash: false });
    expect(await hasher.verify('correct horse battery staplE', REFERENCE_CHEAP, CHEAP)).toEqual({ ok: false, needsRehash: false });
  });

  it('refuse anything else', () => {
    const good = formatPasswordHash({ params: CHEAP, salt, hash });
    const bad = [
      '',
      good.replace('argon2id', 'argon2i'),
      good.replace('v=19', 'v=16'),
      good.replace('p=1', 'p=4'),
      good.replace('m=64', 'm=064'),
      good.replace('m=64', 'm=4'),
      good.replace('m=64', 'm=99999999'),
      good.replace('t=1', 't=0'),
      good.replace('t=1', 't=1000'),
      `${good}=`,
      `${good}A`,
      good.replace('$AAEC', '$AAE-'),
      good.slice(0, -1) + 'B', // non-zero unused bits: not the canonical encoding
      `${good}\n`,
      good.replace('$argon2id', '$ARGON2ID'),
    ];
    for (const text of bad) expect(parsePasswordHash(text), text).toBeNull();
  });

  it('need rehashing when memory or iterations are below the configured ones', () => {
    expect(needsRehash(CHEAP, CHEAP)).toBe(false);
    expect(needsRehash(CHEAP, STRONGER)).toBe(true);
    expect(needsRehash({ ...STRONGER, iterations: 1 }, STRONGER)).toBe(true);
    expect(needsRehash(STRONGER, CHEAP)).toBe(false);
  });
});

describe('Argon2id hasher', () => {
  it('hashes with a fresh salt and verifies the same normalised password', async () => {
    const hasher = createPasswordHasher();
    const a = await hasher.hash('correct horse battery staple', CHEAP);
    const b = await hasher.hash('correct horse battery staple', CHEAP);
    expect(a).not.toBe(b);
    expect(parsePasswordHash(a)?.params).toEqual(CHEAP);
    expect(await hasher.verify('correct horse battery staple', a, CHEAP)).toEqual({ ok: true, needsRehash: false });
    expect(await hasher.verify('correct horse battery stapl', a, CHEAP)).toEqual({ ok: false, needsRehash: false });
    // The same text typed with a no-break space, or decomposed, is the same password.
    expect(await hasher.verify('correct\u00a0horse battery staple', a, CHEAP)).toMatchObject({ ok: true });
    const accent = await hasher.hash('mot de passe très secret', CHEAP);
    expect(await hasher.verify('mot de passe tre\u0300s secret', accent, CHEAP)).toMatchObject({ ok: true });
  });

  it('reports needsRehash only on success and when the configuration was raised', async () => {
    const hasher = createPasswordHasher();
    const old = await hasher.hash('correct horse battery staple', CHEAP);
    expect(await hasher.verify('correct horse battery staple', old, STRONGER)).toEqual({ ok: true, needsRehash: true });
    expect(await hasher.verify('wrong horse battery staple', old, STRONGER)).toEqual({ ok: false, needsRehash: false });
  });

  it('costs one Argon2id with the current parameters for an unknown user or a corrupt hash, and never matches', async () => {
    const counter = countingArgon2id();
    const hasher = createPasswordHasher(counter.derive);
    expect(await hasher.verify('correct horse battery staple', null, STRONGER)).toEqual({ ok: false, needsRehash: false });
    expect(await hasher.verify('correct horse battery staple', 'garbage', STRONGER)).toEqual({ ok: false, needsRehash: false });
    expect(counter.calls).toEqual([STRONGER, STRONGER]);
    const stored = await hasher.hash('correct horse battery staple', CHEAP);
    counter.calls.length = 0;
    await hasher.verify('wrong horse battery staple', stored, CHEAP);
    expect(counter.calls).toEqual([CHEAP]);
  });
});
