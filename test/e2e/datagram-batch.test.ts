/**
 * Batched UDP output over real loopback sockets: the native sendBatch (sendmmsg) in
 * relay/native/src/parley_udp.c, DatagramBatch on the fd of a node:dgram socket, and
 * UdpTransport flushing once per incoming datagram.
 *
 * These tests FAIL, never skip, when the addon is not built (`npm run build:native`): a relay
 * quietly back on one dgram send per packet is what they must catch.
 *
 * What loopback cannot show: EAGAIN. Loopback releases a datagram's send-buffer charge as it
 * transmits (the skb is orphaned in loopback_xmit), so even a 4.6 KB SO_SNDBUF never fills. The
 * kernel's per-datagram refusals (port 0, oversize, broadcast) exercise the same partial-send
 * path here, and the unit test (test/unit/relay/datagram-batch.test.ts) counts EAGAIN as drops.
 */
import { openSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { DatagramBatch } from '../../relay/src/io/datagram-batch.js';
import { META_WORDS, nativeUdpError } from '../../relay/src/io/native-udp.js';
import type { RemoteAddress } from '../../relay/src/media/relay-session.js';
import { UdpTransport } from '../../relay/src/io/udp-transport.js';
import { fdOf, loopbackSockets, nativeUdp } from '../support/loopback-udp.js';

const LOCALHOST = 0x7f00_0001;
const EBADF = 9;
const EINVAL = 22;
const EACCES = 13;
const ENOTSOCK = 88;

const { bound, track } = loopbackSockets();

/** Collects what `socket` receives until `count` datagrams have arrived (or 5 s pass). */
function receive(socket: Socket, count: number): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`received ${got.length} of ${count} datagrams`)), 5_000);
    const done = (): void => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(got);
    };
    const onMessage = (message: Buffer): void => {
      got.push(new Uint8Array(message));
      if (got.length === count) done();
    };
    if (count === 0) done();
    else socket.on('message', onMessage);
  });
}

/** Nothing more arrives on `socket` within `ms`. */
async function silent(socket: Socket, ms = 100): Promise<boolean> {
  let extra = 0;
  const onMessage = (): void => void extra++;
  socket.on('message', onMessage);
  await new Promise((resolve) => setTimeout(resolve, ms));
  socket.off('message', onMessage);
  return extra === 0;
}

function meta(...datagrams: [offset: number, length: number, ipv4: number, port: number][]): Uint32Array {
  return Uint32Array.from(datagrams.flat());
}

it('loads (if this fails: run `npm run build:native`)', () => {
  nativeUdp();
  expect(nativeUdpError).toBeNull();
});

describe('sendBatch (native, sendmmsg)', () => {
  it('delivers every datagram to several sockets, byte-exact and in order per destination', async () => {
    const native = nativeUdp();
    const sender = await bound();
    const receivers = await Promise.all([bound(), bound(), bound(), bound()]);
    // 300 datagrams of 0-1400 bytes, interleaved across the receivers, in one data buffer whose
    // view starts at a byteOffset ≠ 0; 300 > 64, so sendBatch makes several sendmmsg calls.
    const lengths = Array.from({ length: 300 }, (_, i) => (i * 397) % 1401);
    const total = lengths.reduce((a, b) => a + b, 0);
    const data = new Uint8Array(randomBytes(total + 13)).subarray(7, 7 + total);
    const m = new Uint32Array(lengths.length * META_WORDS);
    const expected: Uint8Array[][] = receivers.map(() => []);
    let offset = 0;
    lengths.forEach((length, i) => {
      const to = (i * 7) % receivers.length;
      m.set([offset, length, LOCALHOST, receivers[to]!.address().port], i * META_WORDS);
      expected[to]!.push(data.slice(offset, offset + length));
      offset += length;
    });
    const arrivals = receivers.map((r, i) => receive(r, expected[i]!.length));
    expect(native.sendBatch(fdOf(sender), data, m, lengths.length)).toBe(lengths.length);
    const got = await Promise.all(arrivals);
    got.forEach((datagrams, i) => expect(datagrams).toEqual(expected[i]));
  });

  it('sends only the first `count` datagrams of meta', async () => {
    const native = nativeUdp();
    const [sender, receiver] = await Promise.all([bound(), bound()]);
    const port = receiver.address().port;
    const arrival = receive(receiver, 1);
    expect(native.sendBatch(fdOf(sender), Uint8Array.of(1, 2), meta([0, 1, LOCALHOST, port], [1, 1, LOCALHOST, port]), 1)).toBe(1);
    expect(await arrival).toEqual([Uint8Array.of(1)]);
    expect(await silent(receiver)).toBe(true);
    expect(native.sendBatch(fdOf(sender), Uint8Array.of(1), new Uint32Array(0), 0)).toBe(0);
  });

  it('skips a datagram the kernel refuses and sends the rest: a partial count, not an exception', async () => {
    const native = nativeUdp();
    const [sender, receiver] = await Promise.all([bound(), bound()]);
    const port = receiver.address().port;
    const data = new Uint8Array(70_000).map((_, i) => i & 0xff);
    const arrival = receive(receiver, 3);
    const result = native.sendBatch(
      fdOf(sender),
      data,
      meta(
        [0, 10, LOCALHOST, port],
        [10, 10, LOCALHOST, 0], // port 0: EINVAL
        [20, 10, LOCALHOST, port],
        [0, 65_508, LOCALHOST, port], // one byte over UDP's maximum: EMSGSIZE
        [0, 10, 0xffff_ffff, port], // broadcast without SO_BROADCAST: EACCES
        [30, 10, LOCALHOST, port],
      ),
      6,
    );
    expect(result).toBe(3);
    expect(await arrival).toEqual([data.slice(0, 10), data.slice(20, 30), data.slice(30, 40)]);
  });

  it('answers a negative errno when nothing was sent, and never blocks or throws for it', async () => {
    const native = nativeUdp();
    const sender = await bound();
    const data = Uint8Array.of(1);
    expect(native.sendBatch(fdOf(sender), data, meta([0, 1, LOCALHOST, 0]), 1)).toBe(-EINVAL);
    expect(native.sendBatch(fdOf(sender), data, meta([0, 1, 0xffff_ffff, 9]), 1)).toBe(-EACCES);
    // Not a descriptor at all (above any fd limit), and a descriptor that is not a socket: an
    // error of the whole socket ends the batch.
    expect(native.sendBatch(0x7fff_ffff, data, meta([0, 1, LOCALHOST, 9], [0, 1, LOCALHOST, 9]), 2)).toBe(-EBADF);
    const file = openSync('/dev/null', 'r');
    try {
      expect(native.sendBatch(file, data, meta([0, 1, LOCALHOST, 9]), 1)).toBe(-ENOTSOCK);
      expect(native.udp4SocketPort(file)).toBe(-1);
    } finally {
      closeSync(file);
    }
  });

  it('refuses bad arguments with TypeError / RangeError before sending anything', async () => {
    const native = nativeUdp();
    const [sender, receiver] = await Promise.all([bound(), bound()]);
    const fd = fdOf(sender);
    const port = receiver.address().port;
    const data = new Uint8Array(8);
    const good = meta([0, 4, LOCALHOST, port], [4, 4, LOCALHOST, port]);
    const call = (...args: unknown[]): number => (native.sendBatch as (...a: unknown[]) => number)(...args);
    expect(() => call()).toThrow(TypeError);
    expect(() => call(String(fd), data, good, 2)).toThrow(TypeError);
    expect(() => call(fd, [1, 2, 3], good, 2)).toThrow(TypeError);
    expect(() => call(fd, new Uint16Array(4), good, 2)).toThrow(TypeError);
    expect(() => call(fd, data, Array.from(good), 2)).toThrow(TypeError);
    expect(() => call(fd, data, new Int32Array(good), 2)).toThrow(TypeError);
    expect(() => call(fd, data, good, '2')).toThrow(TypeError);
    expect(() => call(-1, data, good, 2)).toThrow(RangeError);
    expect(() => call(fd + 0.5, data, good, 2)).toThrow(RangeError);
    expect(() => call(fd, data, good, 3)).toThrow(RangeError); // more than meta describes
    expect(() => call(fd, data, good, -1)).toThrow(RangeError);
    expect(() => call(fd, data, good, Number.NaN)).toThrow(RangeError);
    // The second datagram is bad: the first must not have gone either.
    expect(() => call(fd, data, meta([0, 4, LOCALHOST, port], [6, 4, LOCALHOST, port]), 2)).toThrow(RangeError);
    expect(() => call(fd, data, meta([0, 4, LOCALHOST, port], [9, 0, LOCALHOST, port]), 2)).toThrow(RangeError);
    expect(() => call(fd, data, meta([0, 4, LOCALHOST, port], [0, 4, LOCALHOST, 65_536]), 2)).toThrow(RangeError);
    expect(() => (native.udp4SocketPort as (...a: unknown[]) => number)('3')).toThrow(TypeError);
    expect(await silent(receiver)).toBe(true);
  });
});

describe('DatagramBatch on a node:dgram socket', () => {
  it('finds the fd of a bound udp4 socket and proves it is that socket', async () => {
    const socket = await bound();
    const fd = fdOf(socket);
    expect(nativeUdp().udp4SocketPort(fd)).toBe(socket.address().port);
    const { batch, reason } = DatagramBatch.forSocket(socket);
    expect(reason).toBeNull();
    expect(batch).not.toBeNull();
  });

  it('declines a udp6 socket (batches are IPv4 only) with a reason', async () => {
    const socket = await bound('udp6');
    const { batch, reason } = DatagramBatch.forSocket(socket);
    expect(batch).toBeNull();
    expect(reason).toMatch(/IPv4 only/);
  });

  it('keeps per-destination order across automatic flushes when full', async () => {
    const sender = await bound();
    const receivers = await Promise.all([bound(), bound(), bound()]);
    const { batch } = DatagramBatch.forSocket(sender, { capacity: 8 });
    const expected: Uint8Array[][] = receivers.map(() => []);
    const arrivals = receivers.map((r) => receive(r, 50));
    for (let i = 0; i < 150; i++) {
      const to = i % 3;
      const datagram = new Uint8Array(randomBytes(20 + i));
      expected[to]!.push(datagram);
      expect(batch!.add(datagram, LOCALHOST, receivers[to]!.address().port)).toBe(true);
    }
    batch!.flush();
    expect(await Promise.all(arrivals)).toEqual(expected);
    expect([batch!.sent, batch!.dropped, batch!.flushes]).toEqual([150, 0, Math.ceil(150 / 8)]);
  });
});

describe('UdpTransport', () => {
  /** A transport that answers each incoming datagram by sending it to every listener. */
  async function fanOutTransport(listeners: RemoteAddress[], options: Partial<Parameters<typeof UdpTransport.bind>[0]> = {}): Promise<UdpTransport> {
    let transport: UdpTransport | undefined;
    transport = await UdpTransport.bind(
      { host: '127.0.0.1', port: 0, ...options },
      (datagram) => {
        for (const to of listeners) transport!.send(datagram, to);
      },
      (error) => {
        throw error;
      },
    );
    track(transport);
    return transport;
  }

  const latched = (socket: Socket): RemoteAddress => ({ address: '127.0.0.1', port: socket.address().port });

  it.each(['per-datagram', 'per-burst'] as const)('batches a fan-out (%s flush) and delivers all of it in order', async (flush) => {
    const listeners = await Promise.all([bound(), bound(), bound(), bound(), bound()]);
    const transport = await fanOutTransport(listeners.map(latched), { flush });
    expect(transport.batching).toBe(true);
    expect(transport.batchingUnavailable).toBeNull();
    const speaker = await bound();
    const packets = Array.from({ length: 40 }, (_, i) => new Uint8Array(randomBytes(100 + i)));
    const arrivals = listeners.map((l) => receive(l, packets.length));
    for (const packet of packets) speaker.send(packet, transport.port, '127.0.0.1');
    for (const got of await Promise.all(arrivals)) expect(got).toEqual(packets);
    expect(transport.sendErrors).toBe(0);
    // One sendmmsg per incoming datagram at most (per burst: fewer), never one per listener.
    expect(transport.batchFlushes).toBeGreaterThan(0);
    expect(transport.batchFlushes).toBeLessThanOrEqual(packets.length);
  });

  it('sends to a destination that is not a dotted quad, and everything when batching is off, through dgram', async () => {
    const listener = await bound();
    // dgram resolves 'localhost' itself (to 127.0.0.1 on a udp4 socket); the batch takes numbers only.
    const named: RemoteAddress = { address: 'localhost', port: listener.address().port };
    for (const batching of [true, false]) {
      const transport = await fanOutTransport([named, latched(listener)], { batching });
      expect(transport.batching).toBe(batching);
      const speaker = await bound();
      const arrival = receive(listener, 2);
      speaker.send(Uint8Array.of(7), transport.port, '127.0.0.1');
      expect(await arrival).toEqual([Uint8Array.of(7), Uint8Array.of(7)]);
      expect(transport.batchFlushes).toBe(batching ? 1 : 0);
      expect(transport.sendErrors).toBe(0);
    }
  });

  it('sends at once what is sent outside a datagram handler, and nothing after close()', async () => {
    const listener = await bound();
    const transport = await fanOutTransport([]);
    const arrival = receive(listener, 1);
    transport.send(Uint8Array.of(1, 2, 3), latched(listener));
    expect(await arrival).toEqual([Uint8Array.of(1, 2, 3)]);
    await transport.close();
    await transport.close(); // idempotent
    transport.send(Uint8Array.of(4), latched(listener));
    expect(await silent(listener)).toBe(true);
  });
});
