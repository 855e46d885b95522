import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProgressLine } from '../../../cli/progress-line.js';
import { percentile } from '../../../cli/demo/voice-demo.js';

function sink(tty: boolean): { out: Writable; written: string[] } {
  const written: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written.push(chunk.toString());
      done();
    },
  });
  if (tty) Object.assign(out, { isTTY: true });
  return { out, written };
}

describe('ProgressLine', () => {
  it('on a terminal rewrites one line in place and ends it with a newline, once', () => {
    const { out, written } = sink(true);
    const line = new ProgressLine(out, { now: () => 0 });
    line.update('sent 1');
    line.update('sent 1'); // unchanged: nothing written
    line.update('sent 2');
    line.end();
    line.end();
    expect(written).toEqual(['\r\x1b[2Ksent 1', '\r\x1b[2Ksent 2', '\n']);
  });

  it('on a pipe prints at most one line a second, and the last state at the end', () => {
    const { out, written } = sink(false);
    let now = 0;
    const line = new ProgressLine(out, { now: () => now });
    line.update('sent 1');
    now = 500;
    line.update('sent 2');
    now = 1_000;
    line.update('sent 3');
    now = 1_200;
    line.update('sent 4');
    line.end();
    line.end();
    expect(written).toEqual(['sent 1\n', 'sent 3\n', 'sent 4\n']);
  });

  it('on a pipe with no interval prints every update', () => {
    const { out, written } = sink(false);
    const line = new ProgressLine(out, { pipeIntervalMs: 0, now: () => 0 });
    line.update('sent 1');
    line.update('sent 2');
    line.end();
    expect(written).toEqual(['sent 1\n', 'sent 2\n']);
  });

  it('on a pipe does not repeat a last line already printed', () => {
    const { out, written } = sink(false);
    const line = new ProgressLine(out, { now: () => 0 });
    line.update('done');
    line.end();
    expect(written).toEqual(['done\n']);
  });
});

describe('percentile', () => {
  it('is the nearest rank, NaN for no values', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});
