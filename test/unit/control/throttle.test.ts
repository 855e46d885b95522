import { describe, expect, it } from 'vitest';
import {
  clientAddressKey,
  CredentialThrottle,
  memoryThrottleBuckets,
  requiredWaitMs,
  reserveAttempt,
  settleAttempt,
  type ThrottleState,
} from '../../../control/src/auth/throttle.js';
import type { ThrottlePolicy } from '../../../control/src/config.js';
import { ApiError } from '../../../control/src/http/errors.js';

const POLICY: ThrottlePolicy = { freeAttempts: 3, baseDelayMs: 1000, maxDelayMs: 8000, forgetAfterMs: 60_000 };

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, set: (t: number) => (now = t), advance: (ms: number) => (now += ms) };
}

describe('throttle counting rule', () => {
  it('lets the free attempts through, then doubles the delay up to the maximum', () => {
    let state: ThrottleState | undefined;
    const at = (now: number) => {
      const result = reserveAttempt(state, POLICY, now);
      state = result.state;
      return result.decision;
    };
    expect([at(0), at(0), at(0)]).toEqual([{ allowed: true }, { allowed: true }, { allowed: true }]);
    expect(at(0)).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect(at(999)).toEqual({ allowed: false, retryAfterMs: 1 });
    expect(state).toEqual({ attempts: 3, lastAttemptAt: 0 }); // refused attempts are not counted
    expect(at(1000)).toEqual({ allowed: true });
    expect(at(1000)).toEqual({ allowed: false, retryAfterMs: 2000 });
    expect(at(3000)).toEqual({ allowed: true });
    expect(at(3000)).toEqual({ allowed: false, retryAfterMs: 4000 });
    expect(at(7000)).toEqual({ allowed: true });
    expect(at(7000)).toEqual({ allowed: false, retryAfterMs: 8000 });
    expect(at(15_000)).toEqual({ allowed: true });
    expect(at(15_000)).toEqual({ allowed: false, retryAfterMs: 8000 }); // capped
    expect(state).toEqual({ attempts: 7, lastAttemptAt: 15_000 });
  });

  it('forgets a bucket untouched for forgetAfterMs', () => {
    const state: ThrottleState = { attempts: 40, lastAttemptAt: 0 };
    expect(requiredWaitMs(state, POLICY, 59_999)).toBe(0); // the 8 s maximum has long passed
    expect(reserveAttempt(state, POLICY, 59_999).state).toEqual({ attempts: 41, lastAttemptAt: 59_999 });
    expect(reserveAttempt(state, POLICY, 60_000).state).toEqual({ attempts: 1, lastAttemptAt: 60_000 });
  });

  it('never overflows for huge attempt counts', () => {
    expect(requiredWaitMs({ attempts: 1_000_000, lastAttemptAt: 0 }, POLICY, 0)).toBe(8000);
  });

  it('success resets, a refund takes back one attempt', () => {
    const state: ThrottleState = { attempts: 5, lastAttemptAt: 10 };
    expect(settleAttempt(state, 'success')).toBeUndefined();
    expect(settleAttempt(state, 'refund')).toEqual({ attempts: 4, lastAttemptAt: 10 });
    expect(settleAttempt({ attempts: 1, lastAttemptAt: 10 }, 'refund')).toBeUndefined();
    expect(settleAttempt(undefined, 'refund')).toBeUndefined();
  });
});

describe('client address keys', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    [' 203.0.113.7 ', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:DB8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['::ffff:192.0.2.1', '0:0:0:0::/64'],
    [undefined, 'unknown'],
    ['', 'unknown'],
    ['not an address', 'unknown'],
    ['256.1.1.1', 'unknown'],
    ['2001:db8::1::2', 'unknown'],
    ['1:2:3:4:5:6:7:8:9', 'unknown'],
  ])('%s → %s', (header, key) => {
    expect(clientAddressKey(header)).toBe(key);
  });

  it('puts every address of one IPv6 /64 in one bucket', () => {
    expect(clientAddressKey('2001:db8:aa:bb:1::1')).toBe(clientAddressKey('2001:db8:aa:bb:ffff:ffff:ffff:ffff'));
    expect(clientAddressKey('2001:db8:aa:bb::1')).not.toBe(clientAddressKey('2001:db8:aa:bc::1'));
  });
});

describe('credential throttle', () => {
  const policies = { loginPerAccount: POLICY, loginPerAddress: { ...POLICY, freeAttempts: 5 }, registerPerAddress: { ...POLICY, freeAttempts: 2 } };

  async function refused(promise: Promise<unknown>): Promise<ApiError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }

  it('backs off one account tried from many addresses, with Retry-After in whole seconds', async () => {
    const time = clock();
    const buckets = memoryThrottleBuckets(time.now);
    const throttle = new CredentialThrottle(buckets, policies);
    for (let i = 0; i < 3; i++) await throttle.beginLogin('alice', `198.51.100.${i}`);
    const error = await refused(throttle.beginLogin('alice', '198.51.100.99'));
    expect(error.code).toBe('too_many_requests');
    expect(error.retryAfterSeconds).toBe(1);
    // The refused attempt's address reservation was refunded: that address has no count.
    expect(buckets.states.has('login-address:198.51.100.99')).toBe(false);
    time.advance(1000);
    await throttle.beginLogin('alice', '198.51.100.50');
    expect((await refused(throttle.beginLogin('alice', '198.51.100.51'))).retryAfterSeconds).toBe(2);
  });

  it('backs off one address trying many accounts, without counting against those accounts', async () => {
    const time = clock();
    const buckets = memoryThrottleBuckets(time.now);
    const throttle = new CredentialThrottle(buckets, policies);
    for (let i = 0; i < 5; i++) await throttle.beginLogin(`user${i}`, '192.0.2.1');
    const error = await refused(throttle.beginLogin('user-next', '192.0.2.1'));
    expect(error.code).toBe('too_many_requests');
    expect(buckets.states.has('login-account:user-next')).toBe(false);
    // Another address is unaffected.
    await throttle.beginLogin('user-next', '192.0.2.2');
  });

  it('a successful login resets the account and refunds the address', async () => {
    const time = clock();
    const buckets = memoryThrottleBuckets(time.now);
    const throttle = new CredentialThrottle(buckets, policies);
    await throttle.beginLogin('alice', '192.0.2.1');
    await throttle.beginLogin('alice', '192.0.2.1');
    const attempt = await throttle.beginLogin('alice', '192.0.2.1');
    expect(buckets.states.get('login-account:alice')?.attempts).toBe(3);
    await attempt.succeeded();
    expect(buckets.states.has('login-account:alice')).toBe(false);
    expect(buckets.states.get('login-address:192.0.2.1')?.attempts).toBe(2);
  });

  it('counts every registration from an address', async () => {
    const time = clock();
    const throttle = new CredentialThrottle(memoryThrottleBuckets(time.now), policies);
    await throttle.beginRegistration('192.0.2.9');
    await throttle.beginRegistration('192.0.2.9');
    expect((await refused(throttle.beginRegistration('192.0.2.9'))).code).toBe('too_many_requests');
    await throttle.beginRegistration('192.0.2.10');
  });
});
