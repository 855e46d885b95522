import { describe, expect, it } from 'vitest';
import { StartAbortedError, unlessAborted } from '../../../../control/dev/local-stack/readiness.js';

describe('unlessAborted', () => {
  it('after an abort, a wait that rejects later (its child being stopped) is not an unhandled rejection', async () => {
    const abort = new AbortController();
    abort.abort();
    let rejectLater: (error: Error) => void = () => {};
    const waiting = new Promise<never>((_, reject) => (rejectLater = reject));
    await expect(unlessAborted(waiting, abort.signal, 'waiting for the relay')).rejects.toBeInstanceOf(StartAbortedError);
    rejectLater(new Error('relay was killed by SIGTERM'));
    // Vitest fails the run on an unhandled rejection; give it the turn to notice one.
    await new Promise((resolve) => setTimeout(resolve, 20));
  });

  it('passes the result or the failure through while not aborted, and aborts a wait in progress', async () => {
    const abort = new AbortController();
    await expect(unlessAborted(Promise.resolve(7), abort.signal, 'x')).resolves.toBe(7);
    await expect(unlessAborted(Promise.reject(new RangeError('no')), abort.signal, 'x')).rejects.toBeInstanceOf(RangeError);
    const pending = unlessAborted(new Promise<never>(() => {}), abort.signal, 'x');
    abort.abort();
    await expect(pending).rejects.toBeInstanceOf(StartAbortedError);
  });
});
