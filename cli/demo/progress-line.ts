/**
 * One live status line: on a terminal it is rewritten in place (carriage return, erase line,
 * ANSI EL, ECMA-48 §8.3.41); written to a file or a pipe, where rewriting would pile up,
 * a line is printed at most once a second, and the last one always.
 */
import type { Writable } from 'node:stream';

const PIPE_INTERVAL_MS = 1_000;

export class ProgressLine {
  readonly #out: Writable;
  readonly #tty: boolean;
  #shown = false;
  #lastPrinted = -Infinity;
  #lastLine = '';
  #unprinted = false;

  readonly #now: () => number;

  /** `now`: the clock (ms) that spaces a pipe's lines; tests pass their own. */
  constructor(out: Writable, now: () => number = () => performance.now()) {
    this.#out = out;
    this.#now = now;
    this.#tty = (out as Writable & { isTTY?: boolean }).isTTY === true;
  }

  /** Shows `line` (on a pipe: if a second has passed since the last one printed). */
  update(line: string): void {
    if (line === this.#lastLine) return;
    this.#lastLine = line;
    this.#unprinted = true;
    if (this.#tty) {
      this.#out.write(`\r\x1b[2K${line}`);
      this.#shown = true;
      return;
    }
    const now = this.#now();
    if (now - this.#lastPrinted < PIPE_INTERVAL_MS) return;
    this.#lastPrinted = now;
    this.#unprinted = false;
    this.#out.write(`${line}\n`);
  }

  /**
   * Ends the line: on a terminal the next output starts on a line of its own; on a pipe the
   * last state is printed if it was not. Idempotent.
   */
  end(): void {
    if (this.#tty && this.#shown) this.#out.write('\n');
    if (!this.#tty && this.#unprinted) this.#out.write(`${this.#lastLine}\n`);
    this.#shown = false;
    this.#unprinted = false;
  }
}
