/**
 * The caller's side of the relay internal API (docs/protocol.md §8): seals session keys to the
 * relay, signs each request for that relay, and turns answers into values or RelayApiError.
 * The control plane uses it to drive relays; tests and benchmarks use it to drive a real relay.
 * `fetch` and the clock are injected, so it runs in workerd and Node alike.
 */
import { signRequest, type SigningKey } from './request-signing.js';
import { sealSessionKeys, sealSessionKeysWith, type SealContext, type SealedKeys, type SealEphemeralKey, type SessionKeyMaterial } from './sealed-keys.js';
import {
  parseInstallSessionResponse,
  type InstallSessionBody,
  type InstallSessionResponse,
  type RotateSessionBody,
  type SessionListResponse,
  type UpdateSessionBody,
} from './messages.js';
import type { SrtpProfileName } from '../srtp/profiles.js';

export interface RelayApiClientOptions {
  /** The relay's internal API base URL, e.g. https://relay-ams.example.net/. */
  readonly baseUrl: string;
  readonly relayId: string;
  /** The relay's boot id from its latest registration (§8.6); seals name it. */
  readonly relayBootId: string;
  /** The relay's X25519 public key, as it registered it. */
  readonly relayPublicKey: Uint8Array;
  readonly key: SigningKey;
  readonly fetch: (request: Request) => Promise<Response>;
  /** ms since the Unix epoch. */
  readonly now: () => number;
  /**
   * A fresh ephemeral X25519 key pair per seal (sealSessionKeysWith), e.g. WebCrypto's in the
   * control plane. Without it installSession and rotateSession seal with @noble/curves.
   */
  readonly ephemeralKey?: () => Promise<SealEphemeralKey>;
}

/** An install as the caller knows it: the body's fields with the keys in the clear (sealed here). */
export type InstallSessionInput = Omit<InstallSessionBody, 'sealedKeys'> & { readonly keys: SessionKeyMaterial };

/** A non-2xx answer. `status` and the relay's `error` code are safe to log. */
export class RelayApiError extends Error {
  override readonly name = 'RelayApiError';
  constructor(
    readonly status: number,
    readonly error: string,
    readonly detail: string | undefined,
  ) {
    super(`relay-api: ${status} ${error}${detail ? ` (${detail})` : ''}`);
  }
}

export class RelayApiClient {
  readonly #options: RelayApiClientOptions;
  readonly #base: string;

  constructor(options: RelayApiClientOptions) {
    this.#options = options;
    this.#base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
  }

  /** Installs a session; the answer says which UDP endpoint its client must send to. */
  async installSession(input: InstallSessionInput): Promise<InstallSessionResponse> {
    const { keys, ...fields } = input;
    const sealedKeys = await this.#seal(this.#sealContext(input.sessionId, input.ssrc, input.profile), keys);
    return this.installSealed({ ...fields, sealedKeys });
  }

  /**
   * The install body for `input`, its keys sealed to the relay (the expensive part: X25519), to
   * send with installSealed. A relay accepts a key set once (§8.4): a body that reached it is not
   * worth sending again except to learn the answer (409 keys-reused if it was installed).
   */
  sealInstall(input: InstallSessionInput): InstallSessionBody {
    const { keys, ...fields } = input;
    return {
      ...fields,
      sealedKeys: sealSessionKeys(this.#options.relayPublicKey, this.#sealContext(input.sessionId, input.ssrc, input.profile), keys),
    };
  }

  /** Sends an install body from sealInstall, signed now. */
  async installSealed(body: InstallSessionBody): Promise<InstallSessionResponse> {
    const answer = parseInstallSessionResponse(await this.#request('POST', 'v1/sessions', body));
    // A 201 we cannot read leaves the client without an endpoint: as much a failure as a 5xx.
    if (!answer.ok) throw new RelayApiError(201, 'invalid_response', answer.detail);
    return answer.value;
  }

  async updateSession(sessionId: string, patch: UpdateSessionBody): Promise<void> {
    await this.#request('PATCH', `v1/sessions/${encodeURIComponent(sessionId)}`, patch);
  }

  /**
   * New keys and SSRC for a session; `profile` must be the session's. `expiresAt`, when given,
   * becomes the session's expiry in the same request.
   */
  async rotateSession(sessionId: string, ssrc: number, profile: SrtpProfileName, keys: SessionKeyMaterial, expiresAt?: number): Promise<void> {
    const sealedKeys = await this.#seal(this.#sealContext(sessionId, ssrc, profile), keys);
    const body: RotateSessionBody = expiresAt === undefined ? { ssrc, sealedKeys } : { ssrc, sealedKeys, expiresAt };
    await this.#request('POST', `v1/sessions/${encodeURIComponent(sessionId)}/rotate`, body);
  }

  async revokeSession(sessionId: string): Promise<void> {
    await this.#request('DELETE', `v1/sessions/${encodeURIComponent(sessionId)}`);
  }

  async listSessions(): Promise<SessionListResponse> {
    return (await this.#request('GET', 'v1/sessions')) as SessionListResponse;
  }

  async #seal(context: SealContext, keys: SessionKeyMaterial): Promise<SealedKeys> {
    const ephemeralKey = this.#options.ephemeralKey;
    if (ephemeralKey === undefined) return sealSessionKeys(this.#options.relayPublicKey, context, keys);
    return sealSessionKeysWith(await ephemeralKey(), this.#options.relayPublicKey, context, keys);
  }

  #sealContext(sessionId: string, ssrc: number, profile: SrtpProfileName): SealContext {
    return { relayId: this.#options.relayId, bootId: this.#options.relayBootId, sessionId, ssrc, profile };
  }

  async #request(method: string, path: string, json?: unknown): Promise<unknown> {
    const url = new URL(path, this.#base);
    const body = json === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(json));
    const authorization = signRequest({ method, url, body, audience: this.#options.relayId, key: this.#options.key, now: this.#options.now() });
    const headers: Record<string, string> = { authorization };
    if (json !== undefined) headers['content-type'] = 'application/json';
    const init: RequestInit = { method, headers };
    if (json !== undefined) init.body = body;
    const response = await this.#options.fetch(new Request(url, init));
    const text = await response.text();
    if (!response.ok) {
      let parsed: { error?: unknown; detail?: unknown } = {};
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        // a proxy's HTML error page, say: keep the status only
      }
      throw new RelayApiError(response.status, typeof parsed.error === 'string' ? parsed.error : 'error', typeof parsed.detail === 'string' ? parsed.detail : undefined);
    }
    return text === '' ? undefined : JSON.parse(text);
  }
}
