/**
 * `parley srtp protect|unprotect`: pushes hex packets from stdin through one SRTP context.
 *
 * A debugging and interop tool: one packet per line in, one result per line out, so its
 * output can be diffed against libsrtp or a capture. One context serves the whole run, so
 * the ROC, SRTCP index and replay window behave as they would on a real stream.
 *
 * The pure part (arguments → options, one line → one output line) is separate from the I/O
 * wrapper so it can be tested without spawning a process. Key and salt are never echoed:
 * error messages give lengths and option names only.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';

import { nobleBackend } from '../shared/srtp/backends/noble.js';
import { nodeCryptoBackend } from '../shared/srtp/backends/node-crypto.js';
import type { SrtpCryptoBackend } from '../shared/srtp/crypto-backend.js';
import { SrtpContext } from '../shared/srtp/context.js';
import { isRtcpPacket } from '../shared/srtp/demux.js';
import { isSrtpError } from '../shared/srtp/errors.js';
import type { SrtpMasterKeys } from '../shared/srtp/master-keys.js';
import {
  DEFAULT_SRTP_PROFILE,
  SRTP_PROFILES,
  isSrtpProfileName,
  srtpProfile,
  type SrtpProfileName,
} from '../shared/srtp/profiles.js';

export type SrtpDirection = 'protect' | 'unprotect';
export type SrtpBackendName = 'node' | 'noble';

export const SRTP_BACKENDS: Readonly<Record<SrtpBackendName, SrtpCryptoBackend>> = Object.freeze({
  node: nodeCryptoBackend,
  noble: nobleBackend,
});

export interface SrtpCommandOptions extends SrtpMasterKeys {
  readonly direction: SrtpDirection;
  readonly profile: SrtpProfileName;
  readonly backend: SrtpBackendName;
}

export type SrtpArgsResult =
  | { readonly kind: 'run'; readonly options: SrtpCommandOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

export const SRTP_USAGE = `usage: parley srtp protect|unprotect [--profile NAME] --key HEX --salt HEX [--backend node|noble]

Reads one hex packet per line on stdin (blank lines skipped, white space ignored) and writes
one line per packet: "OK <hex>" or "ERR <reason>" (an SrtpError reason such as auth-failed,
replay, malformed, or bad-hex for a line that is not hex). RTCP is told from RTP by the packet
type (RFC 5761 §4). One context serves the whole run, so ROC, SRTCP index and replay state
carry over from line to line. Exits 0 at end of input even if packets failed.

options:
  --profile NAME    ${Object.keys(SRTP_PROFILES).join(' | ')} (default ${DEFAULT_SRTP_PROFILE})
  --key HEX         master key (16 bytes, or 32 for aes256gcm)
  --salt HEX        master salt (12 bytes for the GCM profiles, 14 for aescm128sha80)
  --backend NAME    node (default) | noble
  -h, --help        show this help

This is a test and debugging tool: keys given on the command line are visible to other local
users (ps, shell history). Never use it with production keys.
`;

const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const WHITE_SPACE = /\s+/g;

function isSrtpBackendName(value: string): value is SrtpBackendName {
  return Object.prototype.hasOwnProperty.call(SRTP_BACKENDS, value);
}

/**
 * Quotes a value back only if it is a short word with a letter beyond f: it could be a
 * pasted key, and hex never is.
 */
function quotable(value: string): string {
  return /^[A-Za-z][A-Za-z0-9-]{0,23}$/.test(value) && /[g-zG-Z]/.test(value) ? ` '${value}'` : '';
}

/** parseArgs errors can quote arguments; rebuild them from the option name only. */
function describeParseError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : '';
  const option = /'(-{1,2}[A-Za-z][A-Za-z-]{0,23})/.exec(message)?.[1] ?? '';
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option${option !== '' ? ` '${option}'` : ''}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return `option${option !== '' ? ` '${option}'` : ''} needs a value`;
    default:
      return 'invalid arguments';
  }
}

/** Decodes a hex option, checking its length against the profile; messages never echo the value. */
function decodeKeyMaterial(
  value: string | undefined,
  option: '--key' | '--salt',
  expectedBytes: number,
  profile: SrtpProfileName,
): Uint8Array | string {
  if (value === undefined) return `${option} is required (${expectedBytes} bytes of hex for ${profile})`;
  const compact = value.replace(WHITE_SPACE, '');
  if (!HEX.test(compact)) return `${option} must be hex digits (an even number of them)`;
  const bytes = compact.length / 2;
  if (bytes !== expectedBytes) {
    return `${option} must be ${expectedBytes} bytes (${2 * expectedBytes} hex digits) for ${profile}, got ${bytes} bytes`;
  }
  return new Uint8Array(Buffer.from(compact, 'hex'));
}

/** `srtp` subcommand arguments (everything after `srtp`) → options, help, or an error message. */
export function parseSrtpArgs(argv: readonly string[]): SrtpArgsResult {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        profile: { type: 'string' },
        key: { type: 'string' },
        salt: { type: 'string' },
        backend: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return { kind: 'error', message: describeParseError(error) };
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help' };

  const [direction, ...extra] = positionals;
  if (direction === undefined) return { kind: 'error', message: 'expected protect or unprotect' };
  if (direction !== 'protect' && direction !== 'unprotect') {
    return { kind: 'error', message: `unknown direction${quotable(direction)} (expected protect or unprotect)` };
  }
  if (extra.length > 0) return { kind: 'error', message: `unexpected extra argument${extra.length > 1 ? 's' : ''}` };

  const profileName = values.profile ?? DEFAULT_SRTP_PROFILE;
  if (!isSrtpProfileName(profileName)) {
    return {
      kind: 'error',
      message: `unknown profile${quotable(profileName)} (expected one of ${Object.keys(SRTP_PROFILES).join(', ')})`,
    };
  }
  const backend = values.backend ?? 'node';
  if (!isSrtpBackendName(backend)) {
    return { kind: 'error', message: `unknown backend${quotable(backend)} (expected node or noble)` };
  }

  const profile = srtpProfile(profileName);
  const masterKey = decodeKeyMaterial(values.key, '--key', profile.keyLength, profileName);
  if (typeof masterKey === 'string') return { kind: 'error', message: masterKey };
  const masterSalt = decodeKeyMaterial(values.salt, '--salt', profile.saltLength, profileName);
  if (typeof masterSalt === 'string') return { kind: 'error', message: masterSalt };

  return { kind: 'run', options: { direction, profile: profileName, masterKey, masterSalt, backend } };
}

/** The part of SrtpContext one packet line needs. */
export type SrtpPacketTransformer = Pick<SrtpContext, 'protectRtp' | 'unprotectRtp' | 'protectRtcp' | 'unprotectRtcp'>;

/**
 * One input line → one output line, or undefined for a blank line.
 *
 * "OK <hex>" on success; "ERR <reason>" for an SrtpError (reason as in SrtpErrorReason) or
 * "ERR bad-hex" when the line is not hex. Anything else thrown is a bug and propagates.
 */
export function srtpPacketLine(context: SrtpPacketTransformer, direction: SrtpDirection, line: string): string | undefined {
  const compact = line.replace(WHITE_SPACE, '');
  if (compact === '') return undefined;
  if (!HEX.test(compact)) return 'ERR bad-hex';
  const packet = new Uint8Array(Buffer.from(compact, 'hex'));
  const rtcp = isRtcpPacket(packet);
  try {
    let output: Uint8Array;
    if (direction === 'protect') output = rtcp ? context.protectRtcp(packet) : context.protectRtp(packet);
    else output = rtcp ? context.unprotectRtcp(packet) : context.unprotectRtp(packet);
    return `OK ${Buffer.from(output.buffer, output.byteOffset, output.byteLength).toString('hex')}`;
  } catch (error) {
    if (isSrtpError(error)) return `ERR ${error.reason}`;
    throw error;
  }
}

export interface CommandIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** Exit codes: 0 at end of input (per-packet failures are reported per line), 2 for bad usage. */
export async function runSrtpCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = parseSrtpArgs(argv);
  if (args.kind === 'help') {
    io.stdout.write(SRTP_USAGE);
    return 0;
  }
  if (args.kind === 'error') {
    io.stderr.write(`parley srtp: ${args.message}\n\n${SRTP_USAGE}`);
    return 2;
  }

  const { options } = args;
  const context = new SrtpContext({
    profile: options.profile,
    masterKey: options.masterKey,
    masterSalt: options.masterSalt,
    backend: SRTP_BACKENDS[options.backend],
  });
  // The context holds its own copy; do not leave ours lying around.
  options.masterKey.fill(0);
  options.masterSalt.fill(0);

  const lines = createInterface({ input: io.stdin, crlfDelay: Infinity, terminal: false });
  try {
    for await (const line of lines) {
      const output = srtpPacketLine(context, options.direction, line);
      if (output === undefined) continue;
      if (!io.stdout.write(`${output}\n`)) await waitForDrain(io.stdout);
    }
  } finally {
    lines.close();
    context.close();
  }
  return 0;
}

function waitForDrain(stream: Writable): Promise<void> {
  return new Promise<void>(function waitForDrainOrClose(resolve) {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
