import { describe, expect, it } from 'vitest';
import { MessageRateLimiter, type RateVerdict } from '../../../../control/src/room/message-rate-limit.js';

function run(limiter: MessageRateLimiter, times: number[]): RateVerdict[] {
  return times.map((t) => limiter.admit(t));
}

describe('per-socket message rate limit (§5.3)', () => {
  it('takes a burst of 40, then 20 a second', () => {
    const limiter = new MessageRateLimiter(0);
    const burst = run(limiter, Array.from({ length: 40 }, () => 0));
    expect(burst.every((v) => v === 'accept')).toBe(true);
    expect(limiter.admit(0)).toBe('drop_and_notify');
    expect(limiter.admit(10)).toBe('drop');
    expect(limiter.admit(60)).toBe('accept'); // 60 ms refilled 1.2 tokens
    expect(limiter.admit(61)).toBe('drop');
  });

  it('notifies at most once a second while dropping', () => {
    const limiter = new MessageRateLimiter(0);
    run(limiter, Array.from({ length: 40 }, () => 0));
    const verdicts = run(limiter, [0, 1, 2, 999, 1000]);
    expect(verdicts.filter((v) => v === 'drop_and_notify')).toHaveLength(1);
  });

  it('closes after 100 drops inside 10 s, but not for the same number spread wider', () => {
    const flood = new MessageRateLimiter(0);
    const verdicts = run(flood, Array.from({ length: 140 }, () => 5));
    expect(verdicts.indexOf('close')).toBe(139);

    const slow = new MessageRateLimiter(0);
    run(slow, Array.from({ length: 40 }, () => 0));
    // 99 drops, then 11 s later more: the old ones have left the window.
    const early = run(slow, Array.from({ length: 99 }, () => 0));
    expect(early).not.toContain('close');
    const later = run(slow, Array.from({ length: 60 }, () => 11_000));
    expect(later).not.toContain('close');
  });
});
