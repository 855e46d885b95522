/**
 * Waiting until a part of the local stack is ready: a probe polled until it says so, bounded in
 * time, given up at once when a process it depends on dies, with a progress callback so the
 * terminal shows what is being waited for.
 */
import { describeExit, type SupervisedProcess } from './supervised-process.js';

export type ProbeResult =
  | { readonly state: 'ready' }
  /** Not yet; `detail` says what was seen ("503", "connection refused"). */
  | { readonly state: 'waiting'; readonly detail: string }
  /** Will never become ready (e.g. the control plane is misconfigured). */
  | { readonly state: 'failed'; readonly detail: string };

export class ChildDiedError extends Error {
  override readonly name = 'ChildDiedError';
  constructor(
    readonly child: SupervisedProcess,
    readonly during: string,
  ) {
    super(`${child.name} ${describeExit(child.exitStatus ?? { code: null, signal: null })} while ${during}`);
  }
}

export class NotReadyError extends Error {
  override readonly name = 'NotReadyError';
}

/** The wait was given up because its AbortSignal fired (Ctrl-C during startup). */
export class StartAbortedError extends Error {
  override readonly name = 'StartAbortedError';
  constructor(during: string) {
    super(`stopped while ${during}`);
  }
}

/** Resolves when `signal` aborts (never, without one). */
export function whenAborted(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return new Promise(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** `promise`, or StartAbortedError as soon as `signal` aborts. */
export async function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, during: string): Promise<T> {
  // Once aborted, nobody waits for `promise`; it may still reject (the child it watches is
  // being stopped), and an unobserved rejection would end the process in the middle of the stop.
  promise.catch(() => {});
  if (signal?.aborted === true) throw new StartAbortedError(during);
  const aborted = whenAborted(signal).then(() => {
    throw new StartAbortedError(during);
  });
  return Promise.race([promise, aborted]);
}

export interface WaitOptions {
  /** "waiting for the control plane", for messages. */
  readonly what: string;
  readonly probe: () => Promise<ProbeResult>;
  /** Processes whose death ends the wait at once. */
  readonly watch: readonly SupervisedProcess[];
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Called every `progressEveryMs` (default 3 s) while waiting, with the time waited and the last detail. */
  readonly onWaiting?: (waitedMs: number, detail: string) => void;
  readonly progressEveryMs?: number;
  /** Gives the wait up (StartAbortedError). */
  readonly signal?: AbortSignal;
}

/** Resolves once `probe` says ready; rejects with ChildDiedError or NotReadyError. */
export async function waitUntilReady(options: WaitOptions): Promise<void> {
  const started = Date.now();
  const interval = options.intervalMs ?? 200;
  const progressEvery = options.progressEveryMs ?? 3_000;
  let nextProgress = started + progressEvery;
  let detail = 'not probed yet';
  const aborted = whenAborted(options.signal);
  for (;;) {
    if (options.signal?.aborted === true) throw new StartAbortedError(options.what);
    const dead = options.watch.find((child) => !child.running);
    if (dead !== undefined) throw new ChildDiedError(dead, options.what);
    const result = await options.probe();
    if (result.state === 'ready') return;
    detail = result.detail;
    if (result.state === 'failed') throw new NotReadyError(`${options.what}: ${detail}`);
    const now = Date.now();
    if (now - started >= options.timeoutMs) {
      throw new NotReadyError(`${options.what}: not ready after ${Math.round(options.timeoutMs / 1000)} s (last: ${detail})`);
    }
    if (now >= nextProgress) {
      options.onWaiting?.(now - started, detail);
      nextProgress = now + progressEvery;
    }
    // Wake early if a watched process dies or the wait is aborted meanwhile.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise((resolve) => (timer = setTimeout(resolve, interval))),
      ...options.watch.map((child) => child.exited),
      aborted,
    ]);
    clearTimeout(timer);
  }
}

/** A probe for an HTTP GET: ready on 200, waiting on anything else (including no connection). */
export function httpProbe(
  url: string,
  classify: (response: Response) => Promise<ProbeResult> = async (r) => (r.ok ? { state: 'ready' } : { state: 'waiting', detail: `HTTP ${r.status}` }),
  headers: Record<string, string> = {},
): () => Promise<ProbeResult> {
  return async () => {
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
      try {
        return await classify(response);
      } finally {
        await response.body?.cancel().catch(() => {});
      }
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      return { state: 'waiting', detail: cause === 'ECONNREFUSED' ? 'connection refused' : error instanceof Error ? error.name : 'error' };
    }
  };
}
