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
 *      the first packet sent to it, numbered below 2^15 (docs/protocol.md §6.1).
 *
 * A late packet (behind the newest one seen) keeps the offset of its time if no packet was
 * withheld since; if one was, its number can no longer be known without remembering every
 * withholding, and it is withheld too (it then shows as a loss). Outputs are strictly increasing
 * for in-order inputs and never repeat, so the outbound context's refusal to protect an index
 * twice never drops a packet the rewriting numbered.
 */
const SEQ_HALF = 0x8000;

export class SequenceRewriter {
  /** Subtracted from an input index to give its output index. */
  #offset: number;
  /** The highest input index seen, sent or withheld; -1 before the first. */
  #highest: number;
  /** Late inputs at or below this are withheld: the offset has moved since (or the stream began). */
  #barrier: number;

  constructor(offset = 0, highest = -1, barrier = -1) {
    this.#offset = offset;
    this.#highest = highest;
    this.#barrier = barrier;
  }

  /** The output index for an input the relay sends, or -1 if it must be withheld after all. */
  send(input: number): number {
    if (input > this.#highest) {
      this.#highest = input;
      return input - this.#offset;
    }
    return input > this.#barrier ? input - this.#offset : -1;
  }

  /** Records an input the relay chose not to send: if it is the newest, the numbering closes over it. */
  withhold(input: number): void {
    if (input <= this.#highest) return; // a late one: its number stays unused, like a loss
    this.#highest = input;
    this.#offset++;
    this.#barrier = input;
  }
}

/**
 * Stage 2: one listener's numbering of one speaker stream. It starts at `first`, the first
 * input sent to this listener, numbered below 2^15; nothing before `first` is ever sent.
 */
export class ListenerSequence extends SequenceRewriter {
  constructor(
    /** The session this numbering belongs to: a channel slot reused by another session starts afresh. */
    readonly listener: object,
    first: number,
  ) {
    super(first - (first % SEQ_HALF), first - 1, first - 1);
  }
}

/**
 * A speaker stream's rewriting (one per key epoch, so per SSRC): stage 1, and stage 2 for each
 * listener, by the listener's slot in the channel (relay-channel.ts), so the forwarding loop
 * finds it with an array read.
 */
export class ForwardedStream {
  readonly toAll = new SequenceRewriter();
  readonly listeners: Array<ListenerSequence | undefined> = [];

  /** The numbering for the listener in `slot`, started at `first` if it has none (or a stale one). */
  open(slot: number, listener: object, first: number): ListenerSequence {
    const sequence = new ListenerSequence(listener, first);
    this.listeners[slot] = sequence;
    return sequence;
  }
}
