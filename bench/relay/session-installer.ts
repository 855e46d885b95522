/**
 * The benchmark's side of the relay internal API (docs/protocol.md §8): signed requests that
 * install and revoke sessions, with keys sealed to the relay's X25519 public key — the same
 * path the control plane takes, so installs cost the relay what they cost in production.
 */
import { RelayApiClient, RelayApiError } from '../../shared/relay-api/relay-api-client.js';
import type { InstallSessionBody } from '../../shared/relay-api/messages.js';
import type { SigningKey } from '../../shared/relay-api/request-signing.js';
import type { SrtpMasterKeys } from '../../shared/srtp/master-keys.js';
import type { SrtpProfileName } from '../../shared/srtp/profiles.js';

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

export interface BenchSession {
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
 * Installs and revokes benchmark sessions through the shared RelayApiClient, retrying (both) the 503 a
 * relay answers when its nonce cache is full (at most 10,000 signed requests per 60 s skew
 * window): a control plane waits and retries; so does the benchmark, a few times.
 */
export class BenchSessionInstaller {
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

  async install(session: BenchSession, expiresAt: number): Promise<void> {
    const body = this.seal(session, expiresAt);
    await this.#retryingUnavailable(() => this.#client.installSealed(body));
  }

  /** The install body with its keys sealed (the caller's costly part), for sendSealed. */
  seal(session: BenchSession, expiresAt: number): InstallSessionBody {
    return this.#client.sealInstall(this.#input(session, expiresAt));
  }

  /** Sends a body from seal(), signed now. */
  async sendSealed(body: InstallSessionBody): Promise<void> {
    await this.#retryingUnavailable(() => this.#client.installSealed(body));
  }

  #input(session: BenchSession, expiresAt: number) {
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
  async #retryingUnavailable(request: () => Promise<unknown>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await request();
        return;
      } catch (error) {
        if (!(error instanceof RelayApiError) || error.status !== 503 || attempt >= 30) throw error;
        this.retries++;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }
}

/** Runs `work(item)` for every item with at most `concurrency` in flight; fails on the first error. */
export async function forEachConcurrently<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(workers);
}
