/**
 * One direction's SRTP master key and master salt (RFC 3711 §3.2.1; RFC 7714 §12 for the GCM
 * lengths): what a one-way SrtpContext is keyed with. Parley derives a different pair per
 * direction (docs/protocol.md §3), so every party holds two: client → relay and relay → client.
 *
 * The one name for this shape everywhere: the key schedule's output, the sealed keys a relay
 * opens, a relay session's key epochs, a client's media session.
 */
export interface SrtpMasterKeys {
  /** Profile keyLength bytes (16 or 32). */
  readonly masterKey: Uint8Array;
  /** Profile saltLength bytes (12 for GCM, 14 for AES-CM). */
  readonly masterSalt: Uint8Array;
}
