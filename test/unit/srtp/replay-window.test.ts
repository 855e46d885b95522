import { describe, expect, it } from 'vitest';
import { ReplayWindow } from '../../../shared/srtp/replay-window.js';
import { estimateSrtpIndex } from '../../../shared/srtp/roc.js';

describe('ReplayWindow (RFC 3711 §3.3.2)', () => {
  it('accepts new indices, rejects repeats and indices behind the window', () => {
    const w = new ReplayWindow(128);
    expect(w.check(1000)).toBe('new');
    w.commit(1000);
    expect(w.check(1000)).toBe('replay');
    expect(w.check(999)).toBe('new');
    expect(w.check(1000 - 127)).toBe('new');
    expect(w.check(1000 - 128)).toBe('too-old');
    w.commit(990);
    expect(w.check(990)).toBe('replay');
    expect(w.check(1001)).toBe('new');
  });

  it('check never changes state; only commit does', () => {
    const w = new ReplayWindow(64);
    w.commit(10);
    for (let i = 0; i < 5; i++) expect(w.check(11)).toBe('new');
    expect(w.highest).toBe(10);
  });

  it('forgets stale bits when the window slides, across small and large jumps', () => {
    for (const size of [64, 128, 1000, 32768]) {
      const w = new ReplayWindow(size);
      w.commit(5);
      w.commit(5 + size - 1);
      expect(w.check(5)).toBe('replay');
      w.commit(5 + 4 * size); // far jump: everything before is too old or unreceived
      expect(w.check(5 + 4 * size - 1)).toBe('new');
      expect(w.check(5 + 3 * size + 1)).toBe('new');
      expect(w.check(5 + 3 * size)).toBe('too-old');
      // Indices that alias the old bits in the ring must read as unreceived.
      for (let i = 1; i < Math.min(size, 300); i++) expect(w.check(5 + 4 * size - i)).toBe('new');
    }
  });

  it('matches a reference set model over a random walk', () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const size = 128;
    const w = new ReplayWindow(size);
    const seen = new Set<number>();
    let highest = -1;
    for (let step = 0; step < 20000; step++) {
      const candidate = Math.max(0, highest + Math.floor(random() * 300) - 200);
      const expected = candidate > highest ? 'new' : highest - candidate >= size ? 'too-old' : seen.has(candidate) ? 'replay' : 'new';
      expect(w.check(candidate)).toBe(expected);
      if (expected === 'new' && random() < 0.7) {
        w.commit(candidate);
        seen.add(candidate);
        highest = Math.max(highest, candidate);
      }
    }
  });

  it.each([0, 63, 32769, 100.5, Number.NaN])('refuses window size %s', (size) => {
    expect(() => new ReplayWindow(size)).toThrow(RangeError);
  });
});

describe('index estimation (RFC 3711 §3.3.1, Appendix A)', () => {
  it.each([
    // [highest index, seq, expected index]
    [100, 101, 101],
    [100, 50, 50],
    [65535, 0, 65536],
    [65533, 2, 65538],
    [65536 + 2, 65534, 65534],
    [65536 * 5 + 40000, 100, 65536 * 6 + 100],
    [65536 * 5 + 10, 60000, 65536 * 4 + 60000],
    // ROC 0: a guess of ROC -1 is taken as ROC 0, as libsrtp does (the packet is far ahead).
    [10, 60000, 60000],
    [32767, 65535, 65535],
  ])('highest %i, seq %i → %i', (highest, seq, expected) => {
    expect(estimateSrtpIndex(highest, seq)).toBe(expected);
  });
});
