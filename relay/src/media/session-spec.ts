/**
 * What the control plane installs on a relay for one voice session, after the sealed key
 * material has been opened. Validated at the edge (the internal API); trusted from here on.
 */
import type { SrtpMasterKeys } from '../../../shared/srtp/master-keys.js';
import type { SrtpProfileName } from '../../../shared/srtp/profiles.js';

export interface SessionKeyMaterial {
  /** The SSRC the client sends with under these keys; unique on the relay. */
  readonly ssrc: number;
  /** Keys for packets the client sends (client → relay). */
  readonly clientToRelay: SrtpMasterKeys;
  /** Keys for packets the relay sends to the client (relay → client). */
  readonly relayToClient: SrtpMasterKeys;
}

export interface SessionPermissions {
  readonly canSpeak: boolean;
  readonly canListen: boolean;
  readonly muted: boolean;
  readonly deafened: boolean;
}

export interface SessionSpec extends SessionKeyMaterial, SessionPermissions {
  readonly sessionId: string;
  readonly userId: string;
  readonly channelId: string;
  readonly profile: SrtpProfileName;
  /** Absolute expiry, milliseconds since the Unix epoch. */
  readonly expiresAt: number;
}

export type SessionPatch = Partial<SessionPermissions> & { readonly expiresAt?: number };
