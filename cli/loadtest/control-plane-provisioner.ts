/**
 * Control-plane mode of `parley loadtest`: each simulated member joins its channel's voice as an
 * app does — the WebSocket to the channel's room, the X25519 key exchange with both key
 * confirmations (docs/protocol.md §5.5) — through the client SDK, which hands over the negotiated
 * keys (`exportKeys`, `media: 'none'`) so the load run's own UDP clients carry the voice.
 *
 * Where tokens come from, so that password hashing and login throttles are not what is measured:
 *   - an app key with the `operator` scope (from an environment variable): the run creates its
 *     own private channels (POST /v1/admin/channels), mints each member a token for its channel
 *     (POST /v1/tokens, §4.5; speak for speakers, listen for all), and deletes the channels at
 *     the end;
 *   - or a file of refresh tokens, one account each (§4.3.4): each is exchanged for a token
 *     pair, the first member of each channel creates an open channel the others join, and the
 *     owners delete them at the end. Refresh tokens are used up by use, so the file is rewritten
 *     with the new ones (mode 0600) when the run ends.
 * That setup happens before the run's clock starts; what is timed per member is the handshake:
 * opening the socket to voice_ready.
 *
 * Every relay endpoint the control plane hands out is checked against the hosts the user gave
 * (AllowedUdpHosts) before anything is sent to it. Sessions are short (at most ramp-up +
 * duration, 12 min): a key rotation the room asks for meanwhile is not followed by the load
 * clients (its copies would count as decrypt failures), which the room does not do that soon.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ApiError, ConnectionError, ParleyClient, ProtocolError, VoiceError, type VoiceSession } from '../../packages/client/src/index.js';
import { forEachConcurrently } from '../relay-session-installer.js';
import type { ControlPlaneTarget } from './loadtest-options.js';
import { AllowedUdpHosts, LoadTargetError, type MemberProvisioner, type PlannedMember, type ProvisionedMember } from './member-provisioner.js';

/** Setup requests at once (token minting, refreshes, channel creation). */
const SETUP_CONCURRENCY = 8;
/** Refresh tokens read from a file at most (the run has at most 2000 members). */
const MAX_REFRESH_TOKENS = 2000;

interface Member {
  /** Signed in during setUp (a minted token, or a refreshed login). */
  readonly client: ParleyClient;
  /** The member's voice session while it is in the run. */
  session: VoiceSession | null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class ControlPlaneProvisioner implements MemberProvisioner {
  readonly mode = 'control-plane' as const;
  readonly description: Readonly<Record<string, string>>;
  readonly #target: ControlPlaneTarget;
  readonly #baseUrl: string;
  readonly #appKey: string | null;
  readonly #refreshTokens: string[];
  readonly #allowed: AllowedUdpHosts;
  readonly #runTag = randomBytes(4).toString('hex');
  readonly #members = new Map<number, Member>();
  /** Channel ids by channel index, and who owns each (refresh mode). */
  readonly #channels: string[] = [];
  readonly #owners = new Map<number, ParleyClient>();
  /** Refresh mode: the newest refresh token of each account, by the file's line. */
  readonly #latestRefresh: string[];
  #closed = false;

  private constructor(target: ControlPlaneTarget, appKey: string | null, refreshTokens: string[]) {
    this.#target = target;
    this.#baseUrl = target.controlPlaneUrl.href.replace(/\/+$/, '');
    this.#appKey = appKey;
    this.#refreshTokens = refreshTokens;
    this.#latestRefresh = [...refreshTokens];
    this.#allowed = new AllowedUdpHosts(target.allowedUdpHosts);
    this.description = {
      mode: 'control-plane',
      controlPlane: target.controlPlaneUrl.origin,
      tokens: appKey !== null ? `minted with the app key in $${target.appKeyVariable}` : `${refreshTokens.length} refresh tokens from ${target.refreshTokensFile}`,
    };
  }

  /** Checks the control plane answers and reads the credentials (never printed). */
  static async connect(target: ControlPlaneTarget, env: NodeJS.ProcessEnv): Promise<ControlPlaneProvisioner> {
    let appKey: string | null = null;
    let refreshTokens: string[] = [];
    if (target.appKeyVariable !== null) {
      appKey = env[target.appKeyVariable]?.trim() ?? '';
      if (!/^ak_[A-Za-z0-9]+\.[A-Za-z0-9_-]+$/.test(appKey)) throw new LoadTargetError(`$${target.appKeyVariable} must hold an app key (ak_….secret, from npm run admin:create-key)`);
    } else {
      let text: string;
      try {
        text = readFileSync(target.refreshTokensFile!, 'utf8');
      } catch {
        throw new LoadTargetError(`cannot read the refresh tokens file ${target.refreshTokensFile}`);
      }
      refreshTokens = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#')).slice(0, MAX_REFRESH_TOKENS);
    }
    let body: { service?: unknown } | null = null;
    try {
      const response = await fetch(new URL('/healthz', target.controlPlaneUrl), { signal: AbortSignal.timeout(5000), redirect: 'error' });
      body = (await response.json().catch(() => null)) as { service?: unknown } | null;
    } catch {
      throw new LoadTargetError(`no control plane answers at ${target.controlPlaneUrl.origin} (is one running? npm start runs one on this machine)`);
    }
    if (body?.service !== 'parley-control') throw new LoadTargetError(`${target.controlPlaneUrl.origin}/healthz did not answer as a Parley control plane does`);
    return new ControlPlaneProvisioner(target, appKey, refreshTokens);
  }

  async #operator<T>(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.#baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.#appKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    if (!response.ok) {
      // The API's error body (§4.2): a code and a message, never the key.
      const error = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
      if (response.status === 403 && path.startsWith('/v1/admin/')) throw new LoadTargetError(`the app key in $${this.#target.appKeyVariable} has no operator scope: the run creates its own channels (npm run admin:create-key -- --scope operator)`);
      throw new LoadTargetError(`${method} ${path}: HTTP ${response.status} ${error.error ?? ''} ${error.message ?? ''}`.trim());
    }
    return (response.status === 204 ? undefined : await response.json()) as T;
  }

  #mint(member: PlannedMember, channelId: string): Promise<string> {
    return this.#operator<{ accessToken: string }>('POST', '/v1/tokens', {
      userId: `loadtest-${this.#runTag}-${member.index}`,
      displayName: `Load ${member.index}`,
      grants: [{ channelId, permissions: member.speaks ? ['speak', 'listen'] : ['listen'] }],
      // Outlives the longest run; the client renews by minting another anyway.
      ttlSeconds: 3600,
    }).then((minted) => minted.accessToken);
  }

  #newClient(): ParleyClient {
    return new ParleyClient({ baseUrl: this.#baseUrl, requestTimeoutMs: 15_000, userAgent: 'parley-loadtest' });
  }

  prepare(): void {
    // Nothing per member before setUp: the keys come from the exchange.
  }

  async setUp(members: readonly PlannedMember[]): Promise<void> {
    try {
      const channelCount = members.reduce((n, m) => Math.max(n, m.channelIndex + 1), 0);
      if (this.#appKey !== null) {
        for (let c = 0; c < channelCount; c++) {
          const channel = await this.#operator<{ id: string }>('POST', '/v1/admin/channels', { name: `loadtest ${this.#runTag} ${c}`, visibility: 'private' });
          this.#channels[c] = channel.id;
        }
        await forEachConcurrently([...members], SETUP_CONCURRENCY, async (member) => {
          const channelId = this.#channels[member.channelIndex]!;
          const client = this.#newClient();
          this.#members.set(member.index, { client, session: null });
          client.useToken(await this.#mint(member, channelId), { renew: () => this.#mint(member, channelId) });
        });
        return;
      }
      if (this.#refreshTokens.length < members.length) throw new LoadTargetError(`the run has ${members.length} members but ${this.#target.refreshTokensFile} holds ${this.#refreshTokens.length} refresh tokens (one account each)`);
      await forEachConcurrently([...members], SETUP_CONCURRENCY, async (member) => {
        const client = this.#newClient();
        this.#members.set(member.index, { client, session: null });
        client.on('credentials', (pair) => (this.#latestRefresh[member.index] = pair.refreshToken));
        await client.useRefreshToken(this.#refreshTokens[member.index]!).catch((error: unknown) => {
          throw new LoadTargetError(`refresh token ${member.index + 1} of ${this.#target.refreshTokensFile} was refused (${error instanceof ApiError ? error.code : 'unreachable'})`);
        });
      });
      const firstOf = new Map<number, PlannedMember>();
      for (const member of members) if (!firstOf.has(member.channelIndex)) firstOf.set(member.channelIndex, member);
      for (const [c, owner] of firstOf) {
        const client = this.#members.get(owner.index)!.client;
        const channel = await client.channels.create({ name: `loadtest ${this.#runTag} ${c}`, visibility: 'open', memberLimit: Math.max(2, members.filter((m) => m.channelIndex === c).length) });
        this.#channels[c] = channel.id;
        this.#owners.set(c, client);
      }
      await forEachConcurrently(members.filter((m) => firstOf.get(m.channelIndex) !== m), SETUP_CONCURRENCY, async (member) => {
        await this.#members.get(member.index)!.client.channels.join(this.#channels[member.channelIndex]!);
      });
    } catch (error) {
      await this.close();
      if (error instanceof LoadTargetError) throw error;
      if (error instanceof ApiError || error instanceof ConnectionError || error instanceof ProtocolError) throw new LoadTargetError(`setting up the run's channels failed: ${error.message}`);
      throw error;
    }
  }

  /** The timed part: the socket to the room, authenticate, the key exchange, voice_ready. */
  async provision(member: PlannedMember): Promise<ProvisionedMember> {
    const held = this.#members.get(member.index);
    const channelId = this.#channels[member.channelIndex];
    if (held === undefined || channelId === undefined) throw new TypeError('control-plane provisioner: set up the member first');
    const started = performance.now();
    let session: VoiceSession;
    try {
      session = await held.client.joinVoice(channelId, { profile: member.profile, exportKeys: true, media: 'none' });
    } catch (error) {
      throw new Error(error instanceof VoiceError ? `voice join refused: ${error.code}` : error instanceof Error ? error.message : String(error));
    }
    const handshakeMs = performance.now() - started;
    held.session = session;
    const keys = session.exportKeys();
    try {
      const udpEndpoint = await this.#allowed.resolve(keys.udpEndpoint);
      return { ssrc: keys.ssrc, sendKeys: keys.clientToRelay, receiveKeys: keys.relayToClient, udpEndpoint, handshakeMs };
    } catch (error) {
      // An endpoint the user did not name: leave before anything is sent there.
      await session.close();
      held.session = null;
      throw error;
    }
  }

  async release(member: PlannedMember): Promise<void> {
    const held = this.#members.get(member.index);
    const session = held?.session ?? null;
    if (held !== undefined) held.session = null;
    await session?.close();
  }

  /** Deletes the run's channels, closes every client, and (refresh mode) rewrites the tokens file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#members.values()].map(async (m) => m.session?.close()));
    // Rooms may still be winding down the voice sessions; a delete is tried twice.
    await forEachConcurrently([...this.#channels.entries()], SETUP_CONCURRENCY, async ([c, channelId]) => {
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          if (this.#appKey !== null) await this.#operator('DELETE', `/v1/admin/channels/${encodeURIComponent(channelId)}`);
          else await this.#owners.get(c)?.channels.delete(channelId);
          return;
        } catch {
          await sleep(250);
        }
      }
    });
    await Promise.allSettled([...this.#members.values()].map((m) => m.client.close()));
    if (this.#target.refreshTokensFile !== null && this.#refreshTokens.length > 0) {
      const path = this.#target.refreshTokensFile;
      const temporary = `${path}.${process.pid}.tmp`;
      writeFileSync(temporary, `${this.#latestRefresh.join('\n')}\n`, { mode: 0o600 });
      renameSync(temporary, path);
    }
  }
}
