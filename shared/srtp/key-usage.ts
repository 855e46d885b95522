/**
 * Key-usage limits, RFC 3711 §9.2: one master key protects at most 2^48 SRTP packets and 2^31
 * SRTCP packets. Parley asks for a rekey 2^16 packets before each limit (the soft limit) so
 * the new keys are in place before the hard limit refuses.
 */
export const SRTP_HARD_LIMIT = 2 ** 48;
export const SRTCP_HARD_LIMIT = 2 ** 31;
export const REKEY_MARGIN = 2 ** 16;
export const SRTP_SOFT_LIMIT = SRTP_HARD_LIMIT - REKEY_MARGIN;
export const SRTCP_SOFT_LIMIT = SRTCP_HARD_LIMIT - REKEY_MARGIN;

export interface KeyUsageCounts {
  /** SRTP packets processed under this master key. */
  readonly srtp: number;
  /** SRTCP packets processed under this master key. */
  readonly srtcp: number;
}

export type KeyUsageVerdict = 'ok' | 'rekey' | 'exhausted';

export class KeyUsage {
  #srtp: number;
  #srtcp: number;

  constructor(prior: KeyUsageCounts = { srtp: 0, srtcp: 0 }) {
    for (const [name, value] of Object.entries(prior)) {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`srtp: prior key usage '${name}' must be a non-negative integer`);
    }
    this.#srtp = prior.srtp;
    this.#srtcp = prior.srtcp;
  }

  get counts(): KeyUsageCounts {
    return { srtp: this.#srtp, srtcp: this.#srtcp };
  }

  /** True once either count reached its soft limit: the owner should rekey. */
  get rekeyRequested(): boolean {
    return this.#srtp >= SRTP_SOFT_LIMIT || this.#srtcp >= SRTCP_SOFT_LIMIT;
  }

  /** Whether one more SRTP packet may be processed. */
  srtpAvailable(): boolean {
    return this.#srtp < SRTP_HARD_LIMIT;
  }

  srtcpAvailable(): boolean {
    return this.#srtcp < SRTCP_HARD_LIMIT;
  }

  countSrtp(): void {
    this.#srtp++;
  }

  countSrtcp(): void {
    this.#srtcp++;
  }
}
