/**
 * Login and registration throttling (docs/protocol.md §4.3): growing delays per account and per
 * client address, decided before any password is hashed.
 *
 * A bucket counts attempts. The first `freeAttempts` are free; after that each attempt must wait
 * `baseDelayMs · 2^(attempts − freeAttempts)` (at most `maxDelayMs`) after the previous one, and
 * an attempt that comes too early is refused (429) without being counted. A bucket untouched for
 * `forgetAfterMs` starts again from zero. Policies come from config.ts (throttles.*).
 *
 * An attempt is counted when it is let through, before the password is checked ("reserved"), so
 * concurrent guesses cannot all pass the same check; the outcome then settles it:
 * - login succeeded: the account's bucket is reset; the address's reservation is refunded (an
 *   address is throttled for its failures, not for its users' successful logins);
 * - login failed: nothing more, the reservation stands as the failure;
 * - refused by another bucket: the reservation is refunded, the attempt never happened.
 * Registration counts every attempt that reaches the database, successful or not (mass account
 * creation and probing for taken names are what it limits).
 *
 * Buckets (the key whether or not the account exists, so the throttle cannot tell which do):
 * - `login-account:<username key>` (auth/usernames.ts usernameKey of what was typed);
 * - `login-address:<address>`, `register-address:<address>`, where the address is
 *   `CF-Connecting-IP`: IPv4 as is, IPv6 by its /64 prefix (one subscriber usually holds a whole
 *   /64, so single IPv6 addresses would be free to rotate). Without the header (only when not
 *   behind Cloudflare, i.e. local development and tests) every client shares the key `unknown`.
 *
 * The state lives where every isolate sees it: a Durable Object per bucket with durable storage
 * (auth/throttle-object.ts), so neither a second isolate nor an eviction resets it. This module is
 * the pure part (the counting rule) and the policy around buckets; it runs in Node as well.
 */
import type { ControlConfig, ThrottlePolicy } from '../config.js';
import { ApiError } from '../http/errors.js';

export interface ThrottleState {
  /** Attempts counted since the bucket was last reset or forgotten. */
  readonly attempts: number;
  /** When the last counted attempt was let through (ms). */
  readonly lastAttemptAt: number;
}

export type ThrottleDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

/** `success`: reset the bucket. `refund`: take back one reserved attempt. */
export type ThrottleSettlement = 'success' | 'refund';

/** How long an attempt at `now` must still wait; 0 when it may go ahead. */
export function requiredWaitMs(state: ThrottleState | undefined, policy: ThrottlePolicy, now: number): number {
  if (state === undefined || isForgotten(state, policy, now) || state.attempts < policy.freeAttempts) return 0;
  const doublings = state.attempts - policy.freeAttempts;
  // 2^doublings overflows to Infinity long after maxDelayMs is reached; min() keeps it finite.
  const delay = Math.min(policy.baseDelayMs * 2 ** Math.min(doublings, 60), policy.maxDelayMs);
  return Math.max(0, state.lastAttemptAt + delay - now);
}

export function isForgotten(state: ThrottleState, policy: ThrottlePolicy, now: number): boolean {
  return now - state.lastAttemptAt >= policy.forgetAfterMs;
}

/** Decides an attempt and, when it is allowed, the state that counts it. */
export function reserveAttempt(
  state: ThrottleState | undefined,
  policy: ThrottlePolicy,
  now: number,
): { readonly decision: ThrottleDecision; readonly state: ThrottleState | undefined } {
  const wait = requiredWaitMs(state, policy, now);
  if (wait > 0) return { decision: { allowed: false, retryAfterMs: wait }, state };
  const current = state === undefined || isForgotten(state, policy, now) ? 0 : state.attempts;
  return { decision: { allowed: true }, state: { attempts: current + 1, lastAttemptAt: now } };
}

export function settleAttempt(state: ThrottleState | undefined, settlement: ThrottleSettlement): ThrottleState | undefined {
  if (state === undefined || settlement === 'success') return undefined;
  return state.attempts <= 1 ? undefined : { attempts: state.attempts - 1, lastAttemptAt: state.lastAttemptAt };
}

/** Where buckets live: Durable Objects in the Worker, a Map in Node tests. */
export interface ThrottleBuckets {
  reserve(bucket: string, policy: ThrottlePolicy): Promise<ThrottleDecision>;
  settle(bucket: string, settlement: ThrottleSettlement): Promise<void>;
}

/** Buckets in memory with an injected clock: for tests and tools, never for the Worker. */
export function memoryThrottleBuckets(clock: () => number): ThrottleBuckets & { readonly states: Map<string, ThrottleState> } {
  const states = new Map<string, ThrottleState>();
  const store = (bucket: string, state: ThrottleState | undefined) => (state === undefined ? states.delete(bucket) : states.set(bucket, state));
  return {
    states,
    async reserve(bucket, policy) {
      const { decision, state } = reserveAttempt(states.get(bucket), policy, clock());
      store(bucket, state);
      return decision;
    },
    async settle(bucket, settlement) {
      store(bucket, settleAttempt(states.get(bucket), settlement));
    },
  };
}

const UNKNOWN_ADDRESS = 'unknown';

/**
 * The throttle key of a client address (`CF-Connecting-IP`): IPv4 as is, IPv6 as its /64 prefix,
 * `unknown` when absent or unparseable.
 */
export function clientAddressKey(header: string | undefined | null): string {
  const text = header?.trim() ?? '';
  if (/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(text)) return text;
  const groups = expandIpv6(text);
  if (groups === null) return UNKNOWN_ADDRESS;
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (lower-case, no leading zeros), or null. */
function expandIpv6(text: string): string[] | null {
  if (text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(':')) return null;
  let body = text.toLowerCase();
  // An embedded IPv4 tail (::ffff:192.0.2.1) only affects the low 64 bits, which are dropped.
  const ipv4Tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (ipv4Tail !== null) body = `${body.slice(0, ipv4Tail.index)}0:0`;
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => g.replace(/^0+(?=.)/, ''));
}

/** A login that got past the throttle; report its success so the counters forgive it. */
export interface LoginAttempt {
  succeeded(): Promise<void>;
}

function tooManyRequests(retryAfterMs: number): ApiError {
  return new ApiError('too_many_requests', { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) });
}

/** The throttling policy of the credential routes over some buckets. */
export class CredentialThrottle {
  constructor(
    private readonly buckets: ThrottleBuckets,
    private readonly policies: ControlConfig['throttles'],
  ) {}

  /**
   * Reserves a login attempt for the account (by username key) and the address, or throws
   * ApiError too_many_requests with the longer wait. Call before hashing anything.
   */
  async beginLogin(usernameKey: string, clientAddress: string): Promise<LoginAttempt> {
    const accountBucket = `login-account:${usernameKey}`;
    const addressBucket = `login-address:${clientAddress}`;
    return this.reserveAll(
      [
        [accountBucket, this.policies.loginPerAccount],
        [addressBucket, this.policies.loginPerAddress],
      ],
      async () => {
        await Promise.all([this.buckets.settle(accountBucket, 'success'), this.buckets.settle(addressBucket, 'refund')]);
      },
    );
  }

  /** A password check by an account already logged in (password change): the account's bucket only. */
  async beginPasswordCheck(usernameKey: string): Promise<LoginAttempt> {
    const accountBucket = `login-account:${usernameKey}`;
    return this.reserveAll([[accountBucket, this.policies.loginPerAccount]], () => this.buckets.settle(accountBucket, 'success'));
  }

  /** Counts a registration attempt from the address, or throws too_many_requests. */
  async beginRegistration(clientAddress: string): Promise<void> {
    await this.reserveAll([[`register-address:${clientAddress}`, this.policies.registerPerAddress]], async () => {});
  }

  private async reserveAll(
    buckets: readonly (readonly [string, ThrottlePolicy])[],
    onSuccess: () => Promise<void>,
  ): Promise<LoginAttempt> {
    const decisions = await Promise.all(buckets.map(([bucket, policy]) => this.buckets.reserve(bucket, policy)));
    let longestWait = 0;
    for (const decision of decisions) if (!decision.allowed) longestWait = Math.max(longestWait, decision.retryAfterMs);
    if (longestWait > 0) {
      await Promise.all(buckets.filter((_, i) => decisions[i]!.allowed).map(([bucket]) => this.buckets.settle(bucket, 'refund')));
      throw tooManyRequests(longestWait);
    }
    return { succeeded: onSuccess };
  }
}
