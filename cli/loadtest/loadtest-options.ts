/**
 * Command-line options of `parley loadtest`, parsed and bounded: every run is limited in clients,
 * packets and time, and names its targets explicitly.
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { DEFAULT_SRTP_PROFILE, isSrtpProfileName, SRTP_PROFILES, type SrtpProfileName } from '../../shared/srtp/profiles.js';
import type { ImpairedDirections, ImpairmentSettings } from './udp-impairment-proxy.js';

/** The relay's default API port in development (relay/src/config.ts). */
export const DEFAULT_RELAY_API_URL = 'http://127.0.0.1:7400';
/** The environment variable holding the relay API key, `keyId:secret` (never on the command line). */
export const RELAY_API_KEY_VARIABLE = 'PARLEY_RELAY_API_KEY';

/** Limits that keep a run bounded whatever it is asked. */
export const LOADTEST_LIMITS = Object.freeze({
  channels: [1, 500],
  members: [2, 100],
  rate: [1, 100],
  payload: [32, 1000],
  duration: [1, 600],
  rampUp: [0, 120],
  jitterMs: [0, 1000],
  /** Sessions (and UDP sockets) at most. */
  sessions: 2000,
  /** Voice copies the run may expect to receive at most (each costs a latency sample). */
  expectedCopies: 10_000_000,
} as const);

/**
 * Straight at a relay: sessions installed through its signed internal API (docs/protocol.md §8).
 * The relay's id and boot id come from its /healthz.
 */
export interface RelayTarget {
  readonly mode: 'relay';
  readonly apiUrl: URL;
  /** base64url X25519 public key; null: the development key (loopback only). */
  readonly relayPublicKey: string | null;
  /** Hosts the relay's UDP endpoints may have: the API's host and every --udp-host. */
  readonly allowedUdpHosts: readonly string[];
}

/**
 * Through a control plane: real WSS joins and key exchanges (§5.5), with access tokens minted by
 * an app key (POST /v1/tokens, §4.5) or taken from refresh tokens, so password hashing and login
 * throttles are not what is measured (control-plane-provisioner.ts).
 */
export interface ControlPlaneTarget {
  readonly mode: 'control-plane';
  readonly controlPlaneUrl: URL;
  /** Environment variable holding the app key secret that mints tokens. */
  readonly appKeyVariable: string | null;
  /** A file of refresh tokens, one a line (instead of an app key). */
  readonly refreshTokensFile: string | null;
  /** Hosts the relays' UDP endpoints may have (the control plane hands them out). */
  readonly allowedUdpHosts: readonly string[];
}

export type LoadTarget = RelayTarget | ControlPlaneTarget;

export interface LoadShape {
  readonly channels: number;
  readonly members: number;
  /** Members of each channel that talk (the others only listen). */
  readonly speakers: number;
  /** Packets per second per speaker. */
  readonly rate: number;
  /** Voice payload bytes per packet (before SRTP). */
  readonly payloadBytes: number;
  readonly durationSeconds: number;
  /** Channels join spread over this time, then talk until ramp-up + duration. */
  readonly rampUpSeconds: number;
  readonly profile: SrtpProfileName;
}

export interface LoadtestOptions {
  readonly target: LoadTarget;
  readonly shape: LoadShape;
  /** null: no proxy, clients talk to the relay directly. */
  readonly impairment: { readonly settings: ImpairmentSettings; readonly directions: ImpairedDirections } | null;
  readonly json: boolean;
  readonly reportFile: string | null;
}

export const LOADTEST_USAGE = `usage: parley loadtest [options]

Simulated voice clients against a relay or a control plane. Relay mode: each client's session is
installed through the relay's signed internal API (keys sealed to the relay). Control-plane mode:
each client joins its channel's voice over WSS and runs the key exchange, as apps do. Then each
client, on its own UDP socket, latches and keeps consent with keepalives and sends and receives
SRTP (docs/protocol.md §6). Prints a progress line, then a summary: provisioning or handshake
times (join → voice_ready), latching times, packets sent and received, loss, one-way latency
(send times in the payloads; clients share this host's clock), RFC 3550 jitter, and decrypt and
replay failures. Every run is bounded; it sends only to the addresses given here.

target (relay mode):
  --relay-api URL         the relay's internal API (default ${DEFAULT_RELAY_API_URL}: the relay
                          of \`npm start\` on this machine, development keys)
  --relay-public-key KEY  the relay's X25519 public key, base64url (default: the development
                          key, accepted for a loopback relay only)
  --udp-host ADDR         a host the relay's UDP endpoints may have besides the API's own
                          (repeatable); an endpoint on any other host stops the run
  The API key comes from the environment, never the command line:
    ${RELAY_API_KEY_VARIABLE}=keyId:secret (default: the development key, loopback only)

target (control-plane mode):
  --control-plane URL     join channels' voice over WSS and run the key exchange, as apps do
  --app-key-env NAME      environment variable with an app key of scope operator: the run creates
                          its own private channels, mints each client a token (§4.5) and deletes
                          the channels at the end (npm start: .parley/operator-app-key)
  --refresh-tokens FILE   or refresh tokens of existing accounts, one a line (one per client): the
                          first of each channel creates an open channel, the others join it; the
                          file is rewritten with the renewed tokens at the end
  --udp-host ADDR         a host the relays' UDP endpoints may have besides the control plane's
                          (repeatable); an endpoint on any other host stops the run

load (per run at most ${LOADTEST_LIMITS.sessions} sessions and ${LOADTEST_LIMITS.expectedCopies.toLocaleString('en-US')} expected packet copies):
  --channels N            channels (1-500, default 4)
  --members N             members per channel, each its own client and socket (2-100, default 5)
  --speakers N            members per channel who talk (1-members, default 1); all listen
  --rate N                packets per second per speaker (1-100, default 50)
  --payload N             payload bytes per packet (32-1000, default 160)
  --duration S            seconds of talking after the ramp-up (1-600, default 10)
  --ramp-up S             seconds over which channels join (0-120, default 1)
  --profile NAME          ${Object.keys(SRTP_PROFILES).join(' | ')} (default ${DEFAULT_SRTP_PROFILE})

network impairment (a UDP proxy on 127.0.0.1 between the clients and the relay):
  --loss P                drop this share of datagrams (0-1)
  --duplicate P           send this share twice (0-1)
  --reorder P             hold this share back behind the next datagram (0-1)
  --jitter MS             delay each datagram by a uniform 0..MS ms (0-1000)
  --impair WHICH          both | up (clients to relay) | down (relay to clients) (default both)
  --seed N                PRNG seed: the same seed gives the same decisions (default 1)

output:
  --json                  print one JSON object (the summary and its series) instead of tables
  --report FILE.html      also write a self-contained HTML report with charts

Exit codes: 0 when every client joined and no packet failed to decrypt or carried a wrong
payload (nor was replayed, unless --duplicate or --reorder asked for it); 1 otherwise; 2 for bad usage.
`;

export class LoadtestUsageError extends Error {
  override readonly name = 'LoadtestUsageError';
}

function integer(text: string, name: string, [min, max]: readonly [number, number]): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new LoadtestUsageError(`--${name} must be an integer from ${min} to ${max}`);
  return n;
}

function number(text: string, name: string, min: number, max: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new LoadtestUsageError(`--${name} must be a number from ${min} to ${max}`);
  return n;
}

function httpUrl(text: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new LoadtestUsageError(`--${name} must be a URL such as http://127.0.0.1:7400`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new LoadtestUsageError(`--${name} must be an http or https URL`);
  if (url.username !== '' || url.password !== '') throw new LoadtestUsageError(`--${name} must not carry credentials`);
  return url;
}

/** A URL's host without IPv6 brackets. */
export function urlHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

const HOST_PATTERN = /^[A-Za-z0-9.:_-]{1,253}$/;

export function parseLoadtestArgs(argv: readonly string[]): LoadtestOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'relay-api': { type: 'string' },
        'relay-public-key': { type: 'string' },
        'udp-host': { type: 'string', multiple: true },
        'control-plane': { type: 'string' },
        'app-key-env': { type: 'string' },
        'refresh-tokens': { type: 'string' },
        channels: { type: 'string', default: '4' },
        members: { type: 'string', default: '5' },
        speakers: { type: 'string', default: '1' },
        rate: { type: 'string', default: '50' },
        payload: { type: 'string', default: '160' },
        duration: { type: 'string', default: '10' },
        'ramp-up': { type: 'string', default: '1' },
        profile: { type: 'string', default: DEFAULT_SRTP_PROFILE },
        loss: { type: 'string', default: '0' },
        duplicate: { type: 'string', default: '0' },
        reorder: { type: 'string', default: '0' },
        jitter: { type: 'string', default: '0' },
        impair: { type: 'string', default: 'both' },
        seed: { type: 'string', default: '1' },
        json: { type: 'boolean', default: false },
        report: { type: 'string' },
      },
    }));
  } catch (error) {
    // parseArgs names the offending option; it never echoes a value.
    throw new LoadtestUsageError(error instanceof Error ? error.message.split('\n')[0]! : 'invalid arguments');
  }

  const udpHosts = values['udp-host'] ?? [];
  for (const host of udpHosts) if (!HOST_PATTERN.test(host)) throw new LoadtestUsageError('--udp-host must be a host name or IP address');

  let target: LoadTarget;
  if (values['control-plane'] !== undefined) {
    for (const relayOnly of ['relay-api', 'relay-public-key'] as const) {
      if (values[relayOnly] !== undefined) throw new LoadtestUsageError(`--${relayOnly} is for relay mode; --control-plane selects control-plane mode`);
    }
    const controlPlaneUrl = httpUrl(values['control-plane'], 'control-plane');
    const appKeyVariable = values['app-key-env'] ?? null;
    const refreshTokensFile = values['refresh-tokens'] ?? null;
    if ((appKeyVariable === null) === (refreshTokensFile === null)) throw new LoadtestUsageError('control-plane mode needs exactly one of --app-key-env and --refresh-tokens');
    if (appKeyVariable !== null && !/^[A-Z_][A-Z0-9_]*$/.test(appKeyVariable)) throw new LoadtestUsageError('--app-key-env must name an environment variable');
    target = { mode: 'control-plane', controlPlaneUrl, appKeyVariable, refreshTokensFile, allowedUdpHosts: [...new Set([urlHost(controlPlaneUrl), ...udpHosts])] };
  } else {
    for (const planeOnly of ['app-key-env', 'refresh-tokens'] as const) {
      if (values[planeOnly] !== undefined) throw new LoadtestUsageError(`--${planeOnly} is for control-plane mode (--control-plane URL)`);
    }
    const apiUrl = httpUrl(values['relay-api'] ?? DEFAULT_RELAY_API_URL, 'relay-api');
    const relayPublicKey = values['relay-public-key'] ?? null;
    if (relayPublicKey !== null && !/^[A-Za-z0-9_-]{43}$/.test(relayPublicKey)) throw new LoadtestUsageError('--relay-public-key must be 32 bytes in base64url (43 characters)');
    if (relayPublicKey === null && !isLoopbackHost(urlHost(apiUrl))) {
      throw new LoadtestUsageError('--relay-public-key is required for a relay that is not on this machine (the development key is for loopback only)');
    }
    target = { mode: 'relay', apiUrl, relayPublicKey, allowedUdpHosts: [...new Set([urlHost(apiUrl), ...udpHosts])] };
  }

  const members = integer(values.members, 'members', LOADTEST_LIMITS.members);
  const shape: LoadShape = {
    channels: integer(values.channels, 'channels', LOADTEST_LIMITS.channels),
    members,
    speakers: integer(values.speakers, 'speakers', [1, members]),
    rate: integer(values.rate, 'rate', LOADTEST_LIMITS.rate),
    payloadBytes: integer(values.payload, 'payload', LOADTEST_LIMITS.payload),
    durationSeconds: integer(values.duration, 'duration', LOADTEST_LIMITS.duration),
    rampUpSeconds: number(values['ramp-up'], 'ramp-up', ...LOADTEST_LIMITS.rampUp),
    profile: isSrtpProfileName(values.profile)
      ? values.profile
      : (() => {
          throw new LoadtestUsageError(`--profile must be one of ${Object.keys(SRTP_PROFILES).join(', ')}`);
        })(),
  };
  const sessions = shape.channels * shape.members;
  if (sessions > LOADTEST_LIMITS.sessions) throw new LoadtestUsageError(`channels × members is ${sessions}; at most ${LOADTEST_LIMITS.sessions} sessions per run`);
  const copies = expectedCopies(shape);
  if (copies > LOADTEST_LIMITS.expectedCopies) {
    throw new LoadtestUsageError(`the run would expect ${copies.toLocaleString('en-US')} packet copies; at most ${LOADTEST_LIMITS.expectedCopies.toLocaleString('en-US')} (fewer channels, speakers, rate or seconds)`);
  }

  const settings: ImpairmentSettings = {
    loss: number(values.loss, 'loss', 0, 1),
    duplicate: number(values.duplicate, 'duplicate', 0, 1),
    reorder: number(values.reorder, 'reorder', 0, 1),
    jitterMs: number(values.jitter, 'jitter', ...LOADTEST_LIMITS.jitterMs),
    seed: integer(values.seed, 'seed', [0, 2 ** 31 - 1]),
  };
  const directions = ({ both: 'both', up: 'toUpstream', down: 'toClient' } as const)[values.impair as 'both' | 'up' | 'down'];
  if (directions === undefined) throw new LoadtestUsageError('--impair must be both, up or down');
  const impairing = settings.loss > 0 || settings.duplicate > 0 || settings.reorder > 0 || settings.jitterMs > 0;

  const reportFile = values.report ?? null;
  if (reportFile !== null && !reportFile.endsWith('.html')) throw new LoadtestUsageError('--report must name a .html file');
  return { target, shape, impairment: impairing ? { settings, directions } : null, json: values.json === true, reportFile };
}

/** Voice copies the run expects if every channel talks for the whole duration: speakers × rate × s × (members − 1). */
export function expectedCopies(shape: LoadShape): number {
  return shape.channels * shape.speakers * shape.rate * shape.durationSeconds * (shape.members - 1);
}
