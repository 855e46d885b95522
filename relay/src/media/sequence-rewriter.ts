/**
 * Per-listener sequence numbers for forwarded voice. mediasoup's SeqManager is the model: keep
 * an offset per stream; packets the relay chose not to send shift it, packets that never arrived
 * pass through as gaps.
 *
 * Why: a listener's relay→client context and the client's receiver estimate each packet's ROC
 * from its sequence number (RFC 3711 §3.3.1), which only works across jumps below 2^15. If the
 * relay forwarded the speaker's numbers unchanged, a listener that missed 2^15 or more of a
 * speaker's packets — deafened, the speaker muted, not yet proved, rate-limited: about 11 minutes
 * at 50 packets/s — would be refused every packet from then on. Rewritten, the relay's own
 * withholdings leave no gap, so the only jumps a listener sees are the network's losses
 * between the speaker and the relay, which receivers should see and report (RFC 3550 §6.4).
 *
 * Two stages, both of this class, in packet indices (ROC · 2^16 + SEQ, 48 bits):
 *   1. per speaker stream: what the relay withholds from every listener (the speaker muted or
 *      over its byte rate);
 *   2. per (listener, speaker stream): what it withholds from that listener only (deafened,
 *      may not listen, address not proved, keys not yet proved). A listener's stream starts at
 *      the first packet sent to it, numbered below 2^15 (docs/protocol.md §6.7).
 *
 * A late packet (behind the newest one seen) keeps the offset of its time if no packet was
 * withheld since; if one was, its number can no longer be known without remembering every
 * withholding, and it is withheld too (it then shows as a loss). Outputs are strictly increasing
 * for in-order inputs and never repeat, so the outbound context's refusal to protect an index
 * twice never drops a packet the rewriting numbered.
 */
const SEQ_HALF = 0x8000;

/*
 * One stream's state is three numbers at `at` in a Float64Array (48-bit indices are exact):
 *   [at]     offset: subtracted from an input index to give its output index;
 *   [at + 1] highest: the highest input index seen, sent or withheld (-1 before the first);
 *   [at + 2] barrier: late inputs at or below it are withheld (the offset moved since, or the
 *            stream began after them).
 * Flat arrays, not an object per stream: the forwarding loop reads one per listener per packet,
 * and a speaker's listeners then share a few cache lines.
 */
const OFFSET = 0;
const HIGHEST = 1;
const BARRIER = 2;
const STRIDE = 3;

function sendAt(state: Float64Array, at: number, input: number): number {
  if (input > state[at + HIGHEST]!) {
    state[at + HIGHEST] = input;
    return input - state[at + OFFSET]!;
  }
  return input > state[at + BARRIER]! ? input - state[at + OFFSET]! : -1;
}

function withholdAt(state: Float64Array, at: number, input: number): void {
  if (input <= state[at + HIGHEST]!) return; // a late one: its number stays unused, like a loss
  state[at + HIGHEST] = input;
  state[at + OFFSET]!++;
  state[at + BARRIER] = input;
}

/** One stream's rewriting (stage 1, or a test of the rule). */
export class SequenceRewriter {
  readonly #state = Float64Array.of(0, -1, -1);

  /** A stream whose first output is `first`'s numbered below 2^15, and which sends nothing from before `first`. */
  static startingAt(first: number): SequenceRewriter {
    const rewriter = new SequenceRewriter();
    startAt(rewriter.#state, 0, first);
    return rewriter;
  }

  /** The output index for an input the relay sends, or -1 if it must be withheld after all. */
  send(input: number): number {
    return sendAt(this.#state, 0, input);
  }

  /** Records an input the relay chose not to send: if it is the newest, the numbering closes over it. */
  withhold(input: number): void {
    withholdAt(this.#state, 0, input);
  }
}

function startAt(state: Float64Array, at: number, first: number): void {
  state[at + OFFSET] = first - (first % SEQ_HALF);
  state[at + HIGHEST] = first - 1;
  state[at + BARRIER] = first - 1;
}

/**
 * A speaker stream's rewriting (one per key epoch, so per SSRC): stage 1 (`toAll`), and stage 2
 * for each listener, by the listener's slot in the channel (relay-channel.ts). A listener's
 * numbering starts at the first packet sent to it; a slot whose owner changed starts afresh.
 */
export class ForwardedStream {
  readonly toAll = new SequenceRewriter();
  /** Slot → the session whose numbering the slot holds. */
  readonly #owners: Array<object | undefined> = [];
  #state = new Float64Array(0);

  /** The output index of shared index `input` for `listener` in `slot` (started now if new), or -1: withhold. */
  sendTo(slot: number, listener: object, input: number): number {
    if (this.#owners[slot] !== listener) this.#start(slot, listener, input);
    return sendAt(this.#state, slot * STRIDE, input);
  }

  /** Records that `input` was not sent to `listener`; nothing to do before its numbering started. */
  withholdFrom(slot: number, listener: object, input: number): void {
    if (this.#owners[slot] === listener) withholdAt(this.#state, slot * STRIDE, input);
  }

  #start(slot: number, listener: object, first: number): void {
    if ((slot + 1) * STRIDE > this.#state.length) {
      const grown = new Float64Array(Math.max(4, 2 * (slot + 1)) * STRIDE);
      grown.set(this.#state);
      this.#state = grown;
    }
    this.#owners[slot] = listener;
    startAt(this.#state, slot * STRIDE, first);
  }
}
