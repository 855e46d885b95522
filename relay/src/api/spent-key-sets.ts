/**
 * Keys are used once: every SRTP master key the relay has accepted, remembered until the expiry
 * of the session it came with, so that no later install or rotation can bring it back
 * (docs/protocol.md §8.4).
 *
 * Why: installing keys again gives their SRTP contexts a fresh replay window and fresh outbound
 * state. A client's old packets would then be accepted once more, and — worse — the relay would
 * protect (SSRC, index) pairs it has already protected under that key, repeating AES-GCM nonces
 * (RFC 7714 §8.1; NIST SP 800-38D §8). The nonce cache (nonce-cache.ts) stops a replayed
 * *request*; this stops the same *keys* arriving in a new request: a control-plane retry
 * re-signs the same sealed blob, and a control plane may re-seal keys it already sent.
 *
 * What is remembered is a fingerprint per master key, HMAC-SHA256 under a key drawn when the
 * relay starts (truncated to 128 bits): it reveals nothing about the key, not even to someone
 * who reads this relay's memory later without that HMAC key, and equal keys always match. A key
 * is refused in either direction and for any session, and a key set whose two directions share a
 * key is refused too (each direction must have its own, or a packet reflected back to its sender
 * would authenticate: abuse case 11).
 *
 * Memory is bounded: at most `capacity` fingerprints. Each is kept until its session's expiry
 * (extended when the session's expiry is), then forgotten; when `capacity` live ones are held the
 * relay refuses new keys rather than forget one (as the nonce cache does). Only requests whose
 * signature verified get here, so only the control plane can fill it.
 *
 * This lives as long as the process. A restarted relay remembers nothing, which is why seals
 * also bind its boot id (shared/relay-api/sealed-keys.ts): nothing sealed before a restart opens
 * after it.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { SrtpMasterKeys } from '../../../shared/srtp/master-keys.js';

export const DEFAULT_SPENT_KEY_CAPACITY = 200_000;
/** Fingerprints are this many bytes of the HMAC: collisions among 2^17 keys are out of reach. */
const FINGERPRINT_BYTES = 16;
/** A full sweep of expired sessions at least every this many claims (and whenever full). */
const SWEEP_EVERY_CLAIMS = 4096;

export type SpentKeyRefusal =
  /** A master key of this set was accepted before (or the set uses one key for both directions). */
  | 'keys-reused'
  /** `capacity` keys are remembered and none has expired yet. */
  | 'spent-keys-full';

export type KeySetClaim = { readonly ok: true; release(): void } | { readonly ok: false; readonly reason: SpentKeyRefusal };

export interface KeySet {
  readonly clientToRelay: SrtpMasterKeys;
  readonly relayToClient: SrtpMasterKeys;
}

interface SessionKeys {
  /** Until when this session's keys are remembered: its latest known expiry. */
  until: number;
  readonly fingerprints: Set<string>;
}

export class SpentKeySets {
  readonly capacity: number;
  /** Drawn once per process; never leaves it. */
  readonly #hmacKey: Buffer;
  /** fingerprint → the session it came with. */
  readonly #owners = new Map<string, string>();
  readonly #sessions = new Map<string, SessionKeys>();
  #claimsSinceSweep = 0;

  constructor(capacity: number = DEFAULT_SPENT_KEY_CAPACITY, hmacKey: Uint8Array = randomBytes(32)) {
    if (!Number.isSafeInteger(capacity) || capacity < 2) throw new RangeError('spent-key-sets: capacity must be an integer of at least 2');
    if (hmacKey.length < 32) throw new RangeError('spent-key-sets: hmacKey must be at least 32 bytes');
    this.capacity = capacity;
    this.#hmacKey = Buffer.from(hmacKey);
  }

  /** Fingerprints remembered. */
  get size(): number {
    return this.#owners.size;
  }

  /**
   * Records both master keys of `keys` for `sessionId` until `until` (ms since the epoch; for a
   * rotation, the session's own expiry is used if it is later), or refuses the set. Keys that
   * were claimed but never installed (the install was refused) are given back with `release()`.
   */
  claim(sessionId: string, keys: KeySet, until: number, now: number): KeySetClaim {
    if (++this.#claimsSinceSweep >= SWEEP_EVERY_CLAIMS) this.sweep(now);
    const inbound = this.#fingerprint(keys.clientToRelay.masterKey);
    const outbound = this.#fingerprint(keys.relayToClient.masterKey);
    if (inbound === outbound || this.#isSpent(inbound, now) || this.#isSpent(outbound, now)) return { ok: false, reason: 'keys-reused' };
    if (this.#owners.size + 2 > this.capacity) {
      this.sweep(now);
      if (this.#owners.size + 2 > this.capacity) return { ok: false, reason: 'spent-keys-full' };
    }
    let session = this.#sessions.get(sessionId);
    if (session !== undefined && session.until < now) {
      this.#forget(sessionId, session);
      session = undefined;
    }
    if (session === undefined) {
      session = { until, fingerprints: new Set() };
      this.#sessions.set(sessionId, session);
    } else if (until > session.until) {
      session.until = until;
    }
    const held = session;
    for (const fingerprint of [inbound, outbound]) {
      held.fingerprints.add(fingerprint);
      this.#owners.set(fingerprint, sessionId);
    }
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        for (const fingerprint of [inbound, outbound]) {
          held.fingerprints.delete(fingerprint);
          if (this.#owners.get(fingerprint) === sessionId) this.#owners.delete(fingerprint);
        }
        if (held.fingerprints.size === 0 && this.#sessions.get(sessionId) === held) this.#sessions.delete(sessionId);
      },
    };
  }

  /** The session's expiry moved (PATCH expiresAt): its keys are remembered at least that long. */
  extend(sessionId: string, until: number): void {
    const session = this.#sessions.get(sessionId);
    if (session !== undefined && until > session.until) session.until = until;
  }

  /** Forgets the keys of every session whose expiry has passed. */
  sweep(now: number): void {
    this.#claimsSinceSweep = 0;
    for (const [sessionId, session] of this.#sessions) {
      if (session.until < now) this.#forget(sessionId, session);
    }
  }

  #forget(sessionId: string, session: SessionKeys): void {
    this.#sessions.delete(sessionId);
    for (const fingerprint of session.fingerprints) {
      if (this.#owners.get(fingerprint) === sessionId) this.#owners.delete(fingerprint);
    }
  }

  /** Whether a live session holds this fingerprint (an expired one's keys are no longer refused). */
  #isSpent(fingerprint: string, now: number): boolean {
    const owner = this.#owners.get(fingerprint);
    if (owner === undefined) return false;
    const session = this.#sessions.get(owner);
    return session !== undefined && session.until >= now && session.fingerprints.has(fingerprint);
  }

  #fingerprint(masterKey: Uint8Array): string {
    return createHmac('sha256', this.#hmacKey).update(masterKey).digest().subarray(0, FINGERPRINT_BYTES).toString('base64url');
  }
}
