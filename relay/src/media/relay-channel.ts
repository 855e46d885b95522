/**
 * One channel on a relay worker: its members, and each member's slot — a small number that is
 * the member's alone while it is in the channel, so a speaker stream keeps per-listener state in
 * an array indexed by it (sequence-rewriter.ts) instead of a map looked up per listener per packet.
 * A slot is reused by a later member; state found under a reused slot belongs to the member it
 * names, and is replaced when that is not the one asking.
 */
import type { RelaySession } from './relay-session.js';

export class RelayChannel {
  /** The members, as an array: the forwarding loop iterates it per packet. Replaced, never mutated. */
  #members: readonly RelaySession[] = [];
  /** Slot → member holding it (undefined: free). */
  readonly #slots: Array<RelaySession | undefined> = [];

  constructor(readonly channelId: string) {}

  get members(): readonly RelaySession[] {
    return this.#members;
  }

  get size(): number {
    return this.#members.length;
  }

  /** Adds a member and gives it the lowest free slot. */
  add(session: RelaySession): void {
    let slot = this.#slots.indexOf(undefined);
    if (slot < 0) slot = this.#slots.length;
    this.#slots[slot] = session;
    session.channel = this;
    session.channelSlot = slot;
    this.#members = [...this.#members, session];
  }

  /** Removes a member and frees its slot. */
  remove(session: RelaySession): void {
    if (this.#slots[session.channelSlot] === session) this.#slots[session.channelSlot] = undefined;
    this.#members = this.#members.filter((m) => m !== session);
  }
}
