/**
 * The Durable Object behind every throttle bucket (auth/throttle.ts): one instance per bucket
 * name, so all isolates of the Worker count in one place, and its state is in durable storage,
 * so an eviction or a restart does not forgive anyone. A Durable Object handles one event at a
 * time and its storage calls are atomic with respect to its other events (input gates), so
 * `reserve` cannot be raced.
 *
 * Called over Durable Object RPC (compatibility date ≥ 2024-04-03). Its own clock decides; an
 * alarm deletes the state once it would be forgotten anyway, so storage does not grow with every
 * username ever tried.
 */
import { DurableObject } from 'cloudflare:workers';
import type { ControlBindings } from '../bindings.js';
import type { ThrottlePolicy } from '../config.js';
import {
  isForgotten,
  reserveAttempt,
  settleAttempt,
  type ThrottleBuckets,
  type ThrottleDecision,
  type ThrottleSettlement,
  type ThrottleState,
} from './throttle.js';

const STATE_KEY = 'state';
const POLICY_KEY = 'policy';

export class AuthThrottle extends DurableObject<ControlBindings> {
  async reserve(policy: ThrottlePolicy): Promise<ThrottleDecision> {
    const now = Date.now();
    const stored = await this.ctx.storage.get<ThrottleState>(STATE_KEY);
    const { decision, state } = reserveAttempt(stored, policy, now);
    if (decision.allowed && state !== undefined) {
      await this.ctx.storage.put({ [STATE_KEY]: state, [POLICY_KEY]: policy });
      await this.ctx.storage.setAlarm(state.lastAttemptAt + policy.forgetAfterMs);
    }
    return decision;
  }

  async settle(settlement: ThrottleSettlement): Promise<void> {
    const stored = await this.ctx.storage.get<ThrottleState>(STATE_KEY);
    const next = settleAttempt(stored, settlement);
    if (next === undefined) await this.forget();
    else await this.ctx.storage.put(STATE_KEY, next);
  }

  override async alarm(): Promise<void> {
    const state = await this.ctx.storage.get<ThrottleState>(STATE_KEY);
    const policy = await this.ctx.storage.get<ThrottlePolicy>(POLICY_KEY);
    if (state === undefined || policy === undefined || isForgotten(state, policy, Date.now())) await this.forget();
    else await this.ctx.storage.setAlarm(state.lastAttemptAt + policy.forgetAfterMs);
  }

  private async forget(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }
}

/** Throttle buckets as AuthThrottle objects, one per bucket name. */
export function durableObjectThrottleBuckets(namespace: DurableObjectNamespace<AuthThrottle>): ThrottleBuckets {
  const stub = (bucket: string) => namespace.get(namespace.idFromName(bucket));
  return {
    reserve: (bucket, policy) => stub(bucket).reserve(policy),
    settle: (bucket, settlement) => stub(bucket).settle(settlement),
  };
}
