/**
 * How a simulated member gets its voice session: the seam between the load test's clients (which
 * only need an SSRC, keys and a UDP endpoint) and where sessions come from.
 *
 * - Relay mode (`RelayApiProvisioner`): the load test plays the control plane, installing each
 *   session through the relay's signed internal API with keys sealed to the relay (§8).
 * - Control-plane mode (`ControlPlaneProvisioner`, control-plane-provisioner.ts): each member
 *   joins its channel's voice over WSS and runs the key exchange (§5.5) through the client SDK,
 *   with a token minted by an app key or from a refresh token, and takes the relay endpoint the
 *   room hands out.
 */
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { INSECURE_DEV_API_KEYS, INSECURE_DEV_RELAY_PUBLIC_KEY } from '../../relay/src/config.js';
import { decodeBase64Url } from '../../shared/relay-api/base64url.js';
import type { InstallSessionBody } from '../../shared/relay-api/messages.js';
import type { SrtpMasterKeys } from '../../shared/srtp/master-keys.js';
import { SRTP_PROFILES, type SrtpProfileName } from '../../shared/srtp/profiles.js';
import { RelaySessionInstaller } from '../relay-session-installer.js';
import { isLoopbackHost, RELAY_API_KEY_VARIABLE, urlHost, type LoadTarget, type RelayTarget } from './loadtest-options.js';
import type { UdpEndpoint } from './udp-impairment-proxy.js';

/** One simulated member, before it has a session. */
export interface PlannedMember {
  /** Unique within the run. */
  readonly index: number;
  readonly channelIndex: number;
  readonly speaks: boolean;
  readonly profile: SrtpProfileName;
}

/** What a client needs to talk: its SSRC, both directions' keys, and where to send. */
export interface ProvisionedMember {
  readonly ssrc: number;
  readonly sendKeys: SrtpMasterKeys;
  readonly receiveKeys: SrtpMasterKeys;
  /** The UDP endpoint to send to, resolved to an IP address and checked against the allowed hosts. */
  readonly udpEndpoint: UdpEndpoint;
  /** Control-plane mode: opening the room's socket until voice_ready (the WSS join and key exchange), ms. */
  readonly handshakeMs?: number;
}

export interface MemberProvisioner {
  readonly mode: LoadTarget['mode'];
  /** A description of the target for the summary (no secrets). */
  readonly description: Readonly<Record<string, string>>;
  /**
   * Work done for a member before the run's clock starts (relay mode: its keys drawn and sealed
   * to the relay, X25519 in this process), so that CPU is not spent while others talk.
   */
  prepare(member: PlannedMember): void;
  /**
   * Untimed setup for the whole run after prepare() (control-plane mode: channels created,
   * every member signed in). On failure it cleans up what it made and throws LoadTargetError.
   */
  setUp?(members: readonly PlannedMember[]): Promise<void>;
  /** The member's session, from what prepare() made: the timed part (a signed request). */
  provision(member: PlannedMember): Promise<ProvisionedMember>;
  /** Ends the member's session; a session already gone counts as ended. */
  release(member: PlannedMember): Promise<void>;
  /** After every release: what the run set up is removed (control-plane mode: its channels). */
  close?(): Promise<void>;
}

/** The target cannot be used: unreachable, refused, not allowed, or a mode this build lacks. */
export class LoadTargetError extends Error {
  override readonly name: string = 'LoadTargetError';
}

/** A UDP endpoint on a host the user did not name: the run stops before sending to it. */
export class UnlistedAddressError extends LoadTargetError {
  override readonly name = 'UnlistedAddressError';
  constructor(readonly host: string) {
    super(`the relay gave a UDP endpoint on ${host}, which is not an allowed target (add --udp-host ${host} to allow it)`);
  }
}

/** Only hosts given on the command line; a name is resolved once, and its address kept. */
export class AllowedUdpHosts {
  readonly #hosts: ReadonlySet<string>;
  readonly #resolved = new Map<string, Promise<string>>();

  constructor(hosts: readonly string[]) {
    this.#hosts = new Set(hosts.map((h) => h.toLowerCase()));
  }

  /** The IP address to send to for `endpoint`, or UnlistedAddressError. */
  async resolve(endpoint: UdpEndpoint): Promise<UdpEndpoint> {
    const host = endpoint.host.toLowerCase();
    if (!this.#hosts.has(host)) throw new UnlistedAddressError(endpoint.host);
    if (isIP(host) !== 0) return { host, port: endpoint.port };
    let address = this.#resolved.get(host);
    if (address === undefined) {
      address = host === 'localhost' ? Promise.resolve('127.0.0.1') : lookup(host, { family: 4 }).then((r) => r.address);
      this.#resolved.set(host, address);
    }
    return { host: await address, port: endpoint.port };
  }
}

function directionKeys(profile: SrtpProfileName): SrtpMasterKeys {
  const p = SRTP_PROFILES[profile];
  return { masterKey: new Uint8Array(randomBytes(p.keyLength)), masterSalt: new Uint8Array(randomBytes(p.saltLength)) };
}

/** Relay mode: sessions installed straight through the relay's internal API. */
export class RelayApiProvisioner implements MemberProvisioner {
  readonly mode = 'relay' as const;
  readonly description: Readonly<Record<string, string>>;
  readonly #installer: RelaySessionInstaller;
  readonly #allowed: AllowedUdpHosts;
  readonly #runTag: string;
  /** SSRCs are never reused in a run: the relay refuses one its channel released recently (§6.6). */
  #nextSsrc: number;
  readonly #sessionLifetimeMs: number;
  readonly #prepared = new Map<number, { readonly body: InstallSessionBody; readonly ssrc: number; readonly sendKeys: SrtpMasterKeys; readonly receiveKeys: SrtpMasterKeys }>();

  private constructor(installer: RelaySessionInstaller, allowed: AllowedUdpHosts, description: Record<string, string>, sessionLifetimeMs: number) {
    this.#installer = installer;
    this.#allowed = allowed;
    this.description = description;
    this.#runTag = randomBytes(4).toString('hex');
    this.#nextSsrc = (randomBytes(4).readUInt32BE(0) & 0x7fff0000) + 0x10000;
    this.#sessionLifetimeMs = sessionLifetimeMs;
  }

  /**
   * Reads the relay's id and boot id from its /healthz (seals name both, §8.4) and checks the
   * API key. `env` supplies PARLEY_RELAY_API_KEY; the development key and public key are used
   * only for a relay on loopback.
   */
  static async connect(target: RelayTarget, env: NodeJS.ProcessEnv, sessionLifetimeMs: number): Promise<RelayApiProvisioner> {
    const loopback = isLoopbackHost(urlHost(target.apiUrl));
    const keyText = env[RELAY_API_KEY_VARIABLE] ?? (loopback ? INSECURE_DEV_API_KEYS : undefined);
    if (keyText === undefined) throw new LoadTargetError(`${RELAY_API_KEY_VARIABLE} (keyId:secret) must be set for a relay that is not on this machine`);
    const colon = keyText.indexOf(':');
    const secret = colon > 0 ? decodeBase64Url(keyText.slice(colon + 1)) : null;
    if (secret === null || secret.length < 16) throw new LoadTargetError(`${RELAY_API_KEY_VARIABLE} must be keyId:secret, the secret base64url (16 bytes or more)`);
    const publicKey = decodeBase64Url(target.relayPublicKey ?? INSECURE_DEV_RELAY_PUBLIC_KEY);
    if (publicKey === null || publicKey.length !== 32) throw new LoadTargetError('the relay public key must be 32 bytes of base64url');

    const health = await fetchHealth(target.apiUrl);
    const installer = new RelaySessionInstaller({
      baseUrl: target.apiUrl.href,
      relayId: health.relayId,
      relayBootId: health.bootId,
      relayPublicKey: publicKey,
      key: { keyId: keyText.slice(0, colon), secret },
    });
    return new RelayApiProvisioner(
      installer,
      new AllowedUdpHosts(target.allowedUdpHosts),
      { mode: 'relay', relayApi: target.apiUrl.origin, relayId: health.relayId, relayPublicKey: target.relayPublicKey ?? 'development key' },
      sessionLifetimeMs,
    );
  }

  #sessionId(member: PlannedMember): string {
    return `loadtest-${this.#runTag}-${member.index}`;
  }

  prepare(member: PlannedMember): void {
    const sendKeys = directionKeys(member.profile);
    const receiveKeys = directionKeys(member.profile);
    const ssrc = this.#nextSsrc++ >>> 0;
    const body = this.#installer.seal(
      {
        sessionId: this.#sessionId(member),
        userId: `loadtest-${this.#runTag}-user-${member.index}`,
        channelId: `loadtest-${this.#runTag}-channel-${member.channelIndex}`,
        ssrc,
        profile: member.profile,
        canSpeak: member.speaks,
        canListen: true,
        clientToRelay: sendKeys,
        relayToClient: receiveKeys,
      },
      Date.now() + this.#sessionLifetimeMs,
    );
    this.#prepared.set(member.index, { body, ssrc, sendKeys, receiveKeys });
  }

  async provision(member: PlannedMember): Promise<ProvisionedMember> {
    const prepared = this.#prepared.get(member.index);
    if (prepared === undefined) throw new TypeError('relay provisioner: prepare the member first');
    // A sealed key set is accepted once (§8.4): it is used for this one request only.
    this.#prepared.delete(member.index);
    const { ssrc, sendKeys, receiveKeys } = prepared;
    const answer = await this.#installer.sendSealed(prepared.body);
    let udpEndpoint: UdpEndpoint;
    try {
      udpEndpoint = await this.#allowed.resolve(answer.udpEndpoint);
    } catch (error) {
      // Installed, but unusable: end it now, the caller never sees it.
      await this.release(member).catch(() => {});
      throw error;
    }
    return { ssrc, sendKeys, receiveKeys, udpEndpoint };
  }

  async release(member: PlannedMember): Promise<void> {
    await this.#installer.revoke(this.#sessionId(member));
  }
}

interface RelayHealth {
  readonly relayId: string;
  readonly bootId: string;
}

async function fetchHealth(apiUrl: URL): Promise<RelayHealth> {
  const url = new URL('/healthz', apiUrl);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch {
    throw new LoadTargetError(`no relay answers at ${apiUrl.origin} (is one running? npm start runs one on this machine)`);
  }
  // 503 while a worker is down still names the relay; the installs will say whether it serves.
  const body = (await response.json().catch(() => null)) as { relayId?: unknown; bootId?: unknown } | null;
  if (body === null || typeof body.relayId !== 'string' || typeof body.bootId !== 'string') {
    throw new LoadTargetError(`${url.origin}/healthz did not answer as a Parley relay does (relayId, bootId)`);
  }
  return { relayId: body.relayId, bootId: body.bootId };
}

/** The provisioner for a target. */
export async function createProvisioner(target: LoadTarget, env: NodeJS.ProcessEnv, sessionLifetimeMs: number): Promise<MemberProvisioner> {
  switch (target.mode) {
    case 'relay':
      return RelayApiProvisioner.connect(target, env, sessionLifetimeMs);
    case 'control-plane': {
      // Imported here: it pulls in the client SDK, which relay mode does not need.
      const { ControlPlaneProvisioner } = await import('./control-plane-provisioner.js');
      return ControlPlaneProvisioner.connect(target, env);
    }
  }
}
