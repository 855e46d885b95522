/**
 * Packet index estimation, RFC 3711 §3.3.1 and Appendix A.
 *
 * The 48-bit SRTP index is i = 2^16 · ROC + SEQ. A receiver only sees SEQ, so it guesses the
 * ROC from the highest sequence number seen so far (s_l):
 *
 *   if s_l < 2^15:  v = ROC - 1 if SEQ - s_l > 2^15, else ROC
 *   else:           v = ROC + 1 if s_l - 2^15 > SEQ, else ROC
 *
 * Pure arithmetic on numbers: 48-bit indices are exact in a double.
 */
const SEQ_MODULUS = 0x10000;
const HALF_SEQ = 0x8000;

/** The largest SRTP index, 2^48 - 1. */
export const MAX_SRTP_INDEX = 2 ** 48 - 1;

/**
 * Estimates the index of a packet with sequence number `seq`, given the highest index seen so
 * far. Returns -1 when the guess falls before the stream's start (ROC would be -1): no valid
 * packet can have that index.
 */
export function estimateSrtpIndex(highestIndex: number, seq: number): number {
  const roc = Math.floor(highestIndex / SEQ_MODULUS);
  const highestSeq = highestIndex % SEQ_MODULUS;
  let guessedRoc = roc;
  if (highestSeq < HALF_SEQ) {
    if (seq - highestSeq > HALF_SEQ) guessedRoc = roc - 1;
  } else if (highestSeq - HALF_SEQ > seq) {
    guessedRoc = roc + 1;
  }
  if (guessedRoc < 0) return -1;
  return guessedRoc * SEQ_MODULUS + seq;
}

export function rocOf(index: number): number {
  return Math.floor(index / SEQ_MODULUS);
}

export function seqOf(index: number): number {
  return index % SEQ_MODULUS;
}
