/**
 * The AuthThrottle Durable Object over RPC: it counts in durable storage, refuses early
 * attempts without counting them, forgets on its alarm, and resets on success.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { ThrottleState } from '../../control/src/auth/throttle.js';

const POLICY = { freeAttempts: 2, baseDelayMs: 60_000, maxDelayMs: 60_000, forgetAfterMs: 3_600_000 };

function bucket(name: string) {
  const namespace = env.AUTH_THROTTLE!;
  return namespace.get(namespace.idFromName(`${name}:${crypto.randomUUID()}`));
}

const storedState = (stub: ReturnType<typeof bucket>) => runInDurableObject(stub, (_, ctx) => ctx.storage.get<ThrottleState>('state'));

describe('AuthThrottle Durable Object', () => {
  it('counts allowed attempts in durable storage and refuses the early ones without counting them', async () => {
    const stub = bucket('count');
    expect(await stub.reserve(POLICY)).toEqual({ allowed: true });
    expect(await stub.reserve(POLICY)).toEqual({ allowed: true });
    const refused = await stub.reserve(POLICY);
    expect(refused.allowed).toBe(false);
    expect(refused.allowed === false && refused.retryAfterMs).toBeGreaterThan(59_000);
    expect((await storedState(stub))?.attempts).toBe(2);
    expect(await runInDurableObject(stub, (_, ctx) => ctx.storage.getAlarm())).not.toBeNull();
  });

  it('refunds one attempt, and resets on success (storage and alarm gone)', async () => {
    const stub = bucket('settle');
    await stub.reserve(POLICY);
    await stub.reserve(POLICY);
    await stub.settle('refund');
    expect((await storedState(stub))?.attempts).toBe(1);
    await stub.settle('success');
    expect(await storedState(stub)).toBeUndefined();
    expect(await runInDurableObject(stub, (_, ctx) => ctx.storage.getAlarm())).toBeNull();
  });

  it('its alarm keeps a bucket still in use and deletes a forgotten one', async () => {
    const kept = bucket('alarm-kept');
    await kept.reserve(POLICY);
    expect(await runDurableObjectAlarm(kept)).toBe(true);
    expect((await storedState(kept))?.attempts).toBe(1);

    const forgotten = bucket('alarm-forgotten');
    await forgotten.reserve({ ...POLICY, forgetAfterMs: 1 });
    // Let the millisecond pass (timers advance workerd's clock); the alarm, set for then, has
    // fired by itself or fires now.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await runDurableObjectAlarm(forgotten);
    expect(await storedState(forgotten)).toBeUndefined();
    expect(await runInDurableObject(forgotten, (_, ctx) => ctx.storage.getAlarm())).toBeNull();
  });
});
