/**
 * Ports for the local stack: is one free, who holds it, and which to use.
 *
 * A port left at its default (8787 for the control plane, …) falls back to a free one when
 * something else holds it, and the stack says so; a port the user asked for fails clearly,
 * naming the process that holds it when /proc can tell. Port 0 means "any free port" (tests).
 * Everything listens on 127.0.0.1 only.
 */
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { readCommandLine } from './proc.js';

export const LOOPBACK = '127.0.0.1';

export type PortKind = 'tcp' | 'udp';

/** True if `port` can be bound on 127.0.0.1 right now. */
export async function isPortFree(kind: PortKind, port: number): Promise<boolean> {
  if (kind === 'udp') {
    const socket = createSocket('udp4');
    return new Promise<boolean>((resolve) => {
      socket.once('error', () => {
        socket.close();
        resolve(false);
      });
      socket.bind(port, LOOPBACK, () => socket.close(() => resolve(true)));
    });
  }
  const server = createServer();
  return new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ port, host: LOOPBACK, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port that was free a moment ago (the kernel's choice for port 0). */
export async function ephemeralPort(kind: PortKind): Promise<number> {
  if (kind === 'udp') {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, LOOPBACK, resolve));
    const { port } = socket.address();
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return port;
  }
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface PortHolder {
  readonly pid: number;
  readonly commandLine: string;
}

/** Socket inodes bound to `port` (TCP: listening only), from /proc/net/{tcp,tcp6,udp,udp6}. */
function socketInodes(kind: PortKind, port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of [`/proc/net/${kind}`, `/proc/net/${kind}6`]) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const row of text.split('\n').slice(1)) {
      const columns = row.trim().split(/\s+/);
      const local = columns[1];
      const state = columns[3];
      const inode = columns[9];
      // State 0A is TCP_LISTEN (include/net/tcp_states.h); any bound UDP socket holds its port.
      if (local === undefined || inode === undefined || inode === '0') continue;
      if (!local.endsWith(`:${hexPort}`)) continue;
      if (kind === 'tcp' && state !== '0A') continue;
      inodes.add(inode);
    }
  }
  return inodes;
}

/** The processes that hold `port`, as far as /proc shows (other users' sockets stay hidden). */
export function portHolders(kind: PortKind, port: number): PortHolder[] {
  const inodes = socketInodes(kind, port);
  if (inodes.size === 0) return [];
  const holders: PortHolder[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let descriptors: string[];
    try {
      descriptors = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    const holds = descriptors.some((fd) => {
      try {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        return target.startsWith('socket:[') && inodes.has(target.slice(8, -1));
      } catch {
        return false;
      }
    });
    if (holds) holders.push({ pid: Number(entry), commandLine: readCommandLine(Number(entry)) });
  }
  return holders;
}

/** "held by pid 123 (node server.js)", or "held by another process" when /proc cannot tell. */
export function describeHolders(kind: PortKind, port: number): string {
  const holders = portHolders(kind, port);
  if (holders.length === 0) return 'held by another process';
  return `held by ${holders.map((h) => `pid ${h.pid}${h.commandLine === '' ? '' : ` (${h.commandLine})`}`).join(', ')}`;
}

export interface PortRequest {
  /** What the port is for: "control plane". */
  readonly name: string;
  readonly kind: PortKind;
  /** 0: any free port. */
  readonly port: number;
  /** The user chose this port: if it is taken, fail rather than pick another. */
  readonly explicit: boolean;
  /** The option that sets it, for the message: "--control-port". */
  readonly option: string;
}

export interface ChosenPort {
  readonly port: number;
  /** Set when the default was taken and another port was chosen: says which and why. */
  readonly notice?: string;
}

export class PortUnavailableError extends Error {
  override readonly name = 'PortUnavailableError';
}

/** The port to use for `request`, or PortUnavailableError for a taken port the user asked for. */
export async function choosePort(request: PortRequest): Promise<ChosenPort> {
  if (request.port === 0) return { port: await ephemeralPort(request.kind) };
  if (await isPortFree(request.kind, request.port)) return { port: request.port };
  const holders = describeHolders(request.kind, request.port);
  const what = `${request.name} port ${request.port}/${request.kind} is ${holders}`;
  if (request.explicit) {
    throw new PortUnavailableError(`${what}; stop it or choose another with ${request.option} PORT (0 for any free port)`);
  }
  const port = await ephemeralPort(request.kind);
  return { port, notice: `${what}; using ${port} instead (${request.option} PORT to choose)` };
}
