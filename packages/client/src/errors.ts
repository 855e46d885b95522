/**
 * The errors the SDK throws. Every one is a ParleyError; `instanceof` tells them apart. None
 * carries a token, a password, a key or a response body beyond the server's fixed message.
 */
import type { ApiErrorCode, KnownOr } from '../../../shared/client/control-api-schemas.js';

export class ParleyError extends Error {
  override name = 'ParleyError';
}

/** The control plane answered with an error (docs/protocol.md §4.2). */
export class ApiError extends ParleyError {
  override name = 'ApiError';
  /** HTTP status. */
  readonly status: number;
  /** The stable error code (`invalid_credentials`, `channel_full`, …); branch on this. */
  readonly code: KnownOr<ApiErrorCode>;
  /** The field a validation error names (`username`, `grants[1].channelId`, …). */
  readonly field: string | undefined;
  /** With 429: how long to wait. */
  readonly retryAfterSeconds: number | undefined;
  /** The request's id (`req_…`), for reports. */
  readonly requestId: string | undefined;

  constructor(fields: { status: number; code: string; message: string; field?: string | undefined; retryAfterSeconds?: number | undefined; requestId?: string | undefined }) {
    super(fields.message);
    this.status = fields.status;
    this.code = fields.code;
    this.field = fields.field;
    this.retryAfterSeconds = fields.retryAfterSeconds;
    this.requestId = fields.requestId;
  }

  /** Whether trying again later may succeed (throttled, unavailable, a server error). */
  get transient(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

/** The control plane (or the voice room) could not be reached, or did not answer in time. */
export class ConnectionError extends ParleyError {
  override name = 'ConnectionError';
}

/** An answer did not have the shape the protocol gives it (a wrong URL, a proxy, a bug). */
export class ProtocolError extends ParleyError {
  override name = 'ProtocolError';
}

/** The client has no credentials: sign in first (or sign in again after a refused refresh). */
export class NotSignedInError extends ParleyError {
  override name = 'NotSignedInError';
  constructor(message = 'Not signed in: call login(), register(), useRefreshToken() or useToken() first.') {
    super(message);
  }
}

/** Used after close(). */
export class ClosedError extends ParleyError {
  override name = 'ClosedError';
  constructor(what: string) {
    super(`${what} is closed`);
  }
}

/** A voice join or session failed (docs/protocol.md §5.12 codes, §5.13 close codes). */
export class VoiceError extends ParleyError {
  override name = 'VoiceError';
  /** The room's error code (`no_relay_available`, `forbidden`, …), or a client-side reason. */
  readonly code: string;
  /** The WebSocket close code when the room closed the socket (§5.13). */
  readonly closeCode: number | undefined;

  constructor(code: string, message: string, closeCode?: number) {
    super(message);
    this.code = code;
    this.closeCode = closeCode;
  }
}
