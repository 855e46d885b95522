/**
 * Installs and revokes many sessions on one relay through its internal API (docs/protocol.md
 * §8): signed requests, keys sealed to the relay's X25519 public key and boot id — the path the
 * control plane takes, so installs cost the relay what they cost in production. Used by
 * `parley loadtest` (relay mode) and `npm run bench:relay`.
 */
import { RelayApiClient, RelayApiError } from '../shared/relay-api/relay-api-client.js';
import type { InstallSessionBody, InstallSessionResponse } from '../shared/relay-api/messages.js';
import type { SigningKey } from '../shared/relay-api/request-signing.js';
import type { SrtpMasterKeys } from '../shared/srtp/master-keys.js';
import type { SrtpProfileName } from '../shared/srtp/profiles.js';

export interface RelayApiTarget {
  /** e.g. http://127.0.0.1:7400 */
  readonly baseUrl: string;
  /** The relay's id: the audience every request is signed for. */
  readonly relayId: string;
  /** This run of the relay; seals name it. */
  readonly relayBootId: string;
  readonly relayPublicKey: Uint8Array;
  readonly key: SigningKey;
}

/** One session to install: ids, SSRC, role and both directions' master keys. */
export interface InstallableSession {
  readonly sessionId: string;
  readonly userId: string;
  readonly channelId: string;
  readonly ssrc: number;
  readonly profile: SrtpProfileName;
  readonly canSpeak: boolean;
  readonly canListen: boolean;
  readonly clientToRelay: SrtpMasterKeys;
  readonly relayToClient: SrtpMasterKeys;
}

/**
 * Installs and revokes sessions through the shared RelayApiClient, retrying (both) the 503 a
 * relay answers when its nonce cache is full (at most 10,000 signed requests per 60 s skew
 * window): a control plane waits and retries; so does this, a bounded number of times.
 */
export class RelaySessionInstaller {
  /** Requests repeated after a 503. */
  retries = 0;
  readonly #client: RelayApiClient;

  constructor(target: RelayApiTarget) {
    this.#client = new RelayApiClient({
      ...target,
      fetch: (request) => fetch(request, { signal: AbortSignal.timeout(10_000) }),
      now: Date.now,
    });
  }

  /** Installs a session; the answer names the UDP endpoint its client must send to (§8.5). */
  async install(session: InstallableSession, expiresAt: number): Promise<InstallSessionResponse> {
    const body = this.seal(session, expiresAt);
    return this.#retryingUnavailable(() => this.#client.installSealed(body));
  }

  /** The install body with its keys sealed (the caller's costly part), for sendSealed. */
  seal(session: InstallableSession, expiresAt: number): InstallSessionBody {
    return this.#client.sealInstall(this.#input(session, expiresAt));
  }

  /** Sends a body from seal(), signed now. */
  async sendSealed(body: InstallSessionBody): Promise<InstallSessionResponse> {
    return this.#retryingUnavailable(() => this.#client.installSealed(body));
  }

  #input(session: InstallableSession, expiresAt: number) {
    return {
      sessionId: session.sessionId,
      userId: session.userId,
      channelId: session.channelId,
      ssrc: session.ssrc,
      profile: session.profile,
      permissions: { canSpeak: session.canSpeak, canListen: session.canListen, muted: false, deafened: false },
      expiresAt,
      keys: { clientToRelay: session.clientToRelay, relayToClient: session.relayToClient },
    };
  }

  /** Revokes a session; a session that is already gone counts as revoked. */
  async revoke(sessionId: string): Promise<void> {
    try {
      await this.#retryingUnavailable(() => this.#client.revokeSession(sessionId));
    } catch (error) {
      if (!(error instanceof RelayApiError) || error.status !== 404) throw error;
    }
  }

  /** Runs `request`, waiting 1 s and repeating (up to 30 times) while the relay answers 503. */
  async #retryingUnavailable<T>(request: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await request();
      } catch (error) {
        if (!(error instanceof RelayApiError) || error.status !== 503 || attempt >= 30) throw error;
        this.retries++;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }
}

/** Runs `work(item)` for every item with at most `concurrency` in flight; fails on the first error. */
export async function forEachConcurrently<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(workers);
}
