/**
 * One live status line, for every `parley` command that shows progress (demo, loadtest): on a
 * terminal it is rewritten in place (carriage return, erase line, ANSI EL, ECMA-48 §8.3.41);
 * written to a file or a pipe (a CI log), where rewriting would pile up, a line is printed at
 * most once per `pipeIntervalMs`, and the last one always.
 */
import type { Writable } from 'node:stream';

export interface ProgressLineOptions {
  /** On a pipe, at most one line per this many ms (default 1000; 0: every update). */
  readonly pipeIntervalMs?: number;
  /** The clock (ms) that spaces a pipe's lines; tests pass their own. */
  readonly now?: () => number;
}

export class ProgressLine {
  readonly #out: Writable;
  readonly #tty: boolean;
  #shown = false;
  #lastPrinted = -Infinity;
  #lastLine = '';
  #unprinted = false;

  readonly #now: () => number;
  readonly #pipeIntervalMs: number;

  /** `out` is a terminal when it says so (`isTTY`), as process.stdout and process.stderr do. */
  constructor(out: Writable, options: ProgressLineOptions = {}) {
    this.#out = out;
    this.#now = options.now ?? (() => performance.now());
    this.#pipeIntervalMs = options.pipeIntervalMs ?? 1_000;
    this.#tty = (out as Writable & { isTTY?: boolean }).isTTY === true;
  }

  /** Shows `line` (on a pipe: if the interval has passed since the last one printed). */
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
    if (now - this.#lastPrinted < this.#pipeIntervalMs) return;
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
