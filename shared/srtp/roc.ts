/**
 * Packet index estimation, RFC 3711 §3.3.1 and Appendix A.
 *
 * The 48-bit SRTP index is i = 2^16 · ROC + SEQ. A receiver only sees SEQ, so it guesses the
 * ROC from the highest sequence number seen so far (s_l):
 *
 *   if s_l < 2^15:  v = ROC - 1 if SEQ - s_l > 2^15, else ROC
 *   else:           v = ROC + 1 if s_l - 2^15 > SEQ, else ROC
 *
 * At the start of a stream (ROC 0) the first branch can guess ROC -1, which no packet has:
 * a forward jump of more than 2^15 from a low first sequence number. libsrtp takes ROC 0 there
 * (srtp_rdbx_estimate_index uses the packet's SEQ as its index while the highest index is at most
 * 2^15), and so does this function: the packet is then simply far ahead, and its tag decides.
 * Refusing it instead would lose every packet of a stream that jumped by 2^15 or more before
 * its first wrap, with no way to recover.
 *
 * Pure arithmetic on numbers: 48-bit indices are exact in a double.
 */
const SEQ_MODULUS = 0x10000;
const HALF_SEQ = 0x8000;

/** The largest SRTP index, 2^48 - 1. */
export const MAX_SRTP_INDEX = 2 ** 48 - 1;

/**
 * Estimates the index of a packet with sequence number `seq`, given the highest index seen so
 * far. A guess of ROC -1 (only possible while ROC is 0) is taken as ROC 0, as libsrtp does.
 */
export function estimateSrtpIndex(highestIndex: number, seq: number): number {
  const roc = Math.floor(highestIndex / SEQ_MODULUS);
  const highestSeq = highestIndex % SEQ_MODULUS;
  let guessedRoc = roc;
  if (highestSeq < HALF_SEQ) {
    if (seq - highestSeq > HALF_SEQ && roc > 0) guessedRoc = roc - 1;
  } else if (highestSeq - HALF_SEQ > seq) {
    guessedRoc = roc + 1;
  }
  return guessedRoc * SEQ_MODULUS + seq;
}

export function rocOf(index: number): number {
  return Math.floor(index / SEQ_MODULUS);
}

export function seqOf(index: number): number {
  return index % SEQ_MODULUS;
}
