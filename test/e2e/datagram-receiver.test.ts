/**
 * Batched UDP input over real loopback sockets: the native recvBatch (recvmmsg) and
 * watchReadable (a libuv poll handle) in relay/native, DatagramReceiver taking over a node:dgram
 * socket's reading, and UdpTransport handing bursts to its handler — in the main thread and in a
 * worker thread that exits with the watcher still open.
 *
 * These tests FAIL, never skip, when the addon is not built (`npm run build:native`).
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { META_WORDS } from '../../relay/src/io/native-udp.js';
import type { RemoteAddress } from '../../relay/src/media/relay-session.js';
import { UdpTransport } from '../../relay/src/io/udp-transport.js';
import { DatagramReceiver } from '../../relay/src/io/datagram-receiver.js';
import { fdOf, loopbackSockets, nativeUdp, stopDgramReading } from '../support/loopback-udp.js';

const LOCALHOST = 0x7f00_0001;

const { bound, track, sockets } = loopbackSockets();

/** Sends each datagram and waits until the kernel has taken it. */
async function sendAll(from: Socket, port: number, datagrams: readonly Uint8Array[]): Promise<void> {
  for (const datagram of datagrams) {
    await new Promise<void>((resolve, reject) => from.send(datagram, port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
  }
}

async function until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('native recvBatch', () => {
  it('returns 0 when nothing waits, then each datagram with its slot, length and sender', async () => {
    const native = nativeUdp();
    const receiver = await bound();
    // dgram would read these first: stop it, as DatagramReceiver does (lib/dgram.js's own call).
    stopDgramReading(receiver);
    const fd = fdOf(receiver);
    const slot = 101;
    const data = new Uint8Array(8 * slot);
    const meta = new Uint32Array(8 * META_WORDS);
    expect(native.recvBatch(fd, data, meta, 8, slot)).toBe(0);

    const a = await bound();
    const b = await bound();
    const sent = [randomBytes(10), randomBytes(100), randomBytes(101), randomBytes(250), randomBytes(0)].map((d) => new Uint8Array(d));
    await sendAll(a, receiver.address().port, sent.slice(0, 3));
    await sendAll(b, receiver.address().port, sent.slice(3));
    expect(native.recvBatch(fd, data, meta, 3, slot)).toBe(3); // capacity caps the count
    const got = [];
    for (let i = 0; i < 3; i++) got.push([...meta.subarray(i * META_WORDS, (i + 1) * META_WORDS)]);
    const aPort = a.address().port;
    expect(got).toEqual([
      [0, 10, LOCALHOST, aPort],
      [slot, 100, LOCALHOST, aPort],
      [2 * slot, 101, LOCALHOST, aPort],
    ]);
    expect(data.subarray(0, 10)).toEqual(sent[0]);
    expect(data.subarray(2 * slot, 3 * slot)).toEqual(sent[2]);
    expect(native.recvBatch(fd, data, meta, 8, slot)).toBe(2);
    // Longer than its slot: cut to the slot, so a length of slotBytes means "too large".
    expect([...meta.subarray(0, META_WORDS)]).toEqual([0, slot, LOCALHOST, b.address().port]);
    expect(data.subarray(0, slot)).toEqual(sent[3]!.subarray(0, slot));
    expect([...meta.subarray(META_WORDS, 2 * META_WORDS)]).toEqual([slot, 0, LOCALHOST, b.address().port]);
    expect(native.recvBatch(fd, data, meta, 8, slot)).toBe(0);
  });

  it('refuses bad arguments and reports a socket error as -errno', async () => {
    const native = nativeUdp();
    const data = new Uint8Array(1000);
    const meta = new Uint32Array(40);
    const fd = fdOf(await bound());
    expect(() => native.recvBatch(fd, data, meta, 11, 100)).toThrow(RangeError); // 11 × 100 > 1000
    expect(() => native.recvBatch(fd, data, new Uint32Array(8), 3, 100)).toThrow(RangeError);
    expect(() => native.recvBatch(fd, data, meta, 0, 100)).toThrow(RangeError);
    expect(() => native.recvBatch(fd, data, meta, 65, 10)).toThrow(RangeError);
    expect(() => native.recvBatch(fd, data, meta, 2, 0)).toThrow(RangeError);
    expect(() => native.recvBatch(-1, data, meta, 2, 100)).toThrow(RangeError);
    expect(() => native.recvBatch(fd, [] as unknown as Uint8Array, meta, 2, 100)).toThrow(TypeError);
    expect(() => native.recvBatch(fd, data, new Uint8Array(40) as unknown as Uint32Array, 2, 100)).toThrow(TypeError);
    expect(native.recvBatch(0x7fff_0000, data, meta, 2, 100)).toBe(-9); // EBADF
  });
});

describe('native watchReadable', () => {
  it('calls back when the fd is readable, and never after close()', async () => {
    const native = nativeUdp();
    const receiver = await bound();
    stopDgramReading(receiver);
    const fd = fdOf(receiver);
    const data = new Uint8Array(4 * 64);
    const meta = new Uint32Array(4 * META_WORDS);
    let calls = 0;
    let datagrams = 0;
    const watch = native.watchReadable(fd, (status) => {
      expect(status).toBe(0);
      calls++;
      for (let n; (n = native.recvBatch(fd, data, meta, 4, 64)) > 0; ) datagrams += n;
    });
    const sender = await bound();
    await sendAll(sender, receiver.address().port, Array.from({ length: 10 }, () => new Uint8Array(20)));
    await until(() => datagrams === 10, '10 datagrams');
    expect(calls).toBeGreaterThan(0);
    watch.close();
    watch.close(); // idempotent
    const before = calls;
    await sendAll(sender, receiver.address().port, [new Uint8Array(5)]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toBe(before);
    expect(() => native.watchReadable(-1, () => {})).toThrow(RangeError);
    expect(() => native.watchReadable(fd, 'x' as unknown as () => void)).toThrow(TypeError);
  });
});

describe('UdpTransport with batched input', () => {
  async function recordingTransport(maxDatagramBytes = 1500) {
    const got: { bytes: Uint8Array; from: RemoteAddress }[] = [];
    const transport = await UdpTransport.bind(
      { host: '127.0.0.1', port: 0, maxDatagramBytes },
      (datagram, from) => got.push({ bytes: datagram.slice(), from }),
      (error) => {
        throw error;
      },
    );
    track(transport);
    return { transport, got };
  }

  it('delivers every datagram in order with its sender, reusing one address object per sender', async () => {
    const { transport, got } = await recordingTransport();
    expect(transport.batchedInput).toBe(true);
    expect(transport.batchedInputUnavailable).toBeNull();
    const a = await bound();
    const b = await bound();
    const fromA = Array.from({ length: 150 }, (_, i) => new Uint8Array(randomBytes(20 + i)));
    const fromB = Array.from({ length: 50 }, () => new Uint8Array(randomBytes(188)));
    await Promise.all([sendAll(a, transport.port, fromA), sendAll(b, transport.port, fromB)]);
    await until(() => got.length === 200, '200 datagrams');
    const ofA = got.filter((g) => g.from.port === a.address().port);
    const ofB = got.filter((g) => g.from.port === b.address().port);
    expect(ofA.map((g) => g.bytes)).toEqual(fromA);
    expect(ofB.map((g) => g.bytes)).toEqual(fromB);
    expect(ofA.every((g) => g.from === ofA[0]!.from && g.from.address === '127.0.0.1' && g.from.ipv4 === LOCALHOST)).toBe(true);
    expect(ofB[0]!.from).not.toBe(ofA[0]!.from);
    expect(transport.inputBursts.datagrams).toBe(200);
    expect(transport.inputBursts.bursts).toBeLessThanOrEqual(200);
    expect(transport.receiveErrors).toBe(0);
  });

  it('hands an oversize datagram to the handler cut to maxDatagramBytes + 1, so it is refused as too large', async () => {
    const { transport, got } = await recordingTransport(200);
    const sender = await bound();
    await sendAll(sender, transport.port, [new Uint8Array(200), new Uint8Array(201), new Uint8Array(5000)]);
    await until(() => got.length === 3, '3 datagrams');
    expect(got.map((g) => g.bytes.length)).toEqual([200, 201, 201]);
  });

  it('falls back to node:dgram events when batched input is off; close() releases the port', async () => {
    const got: number[] = [];
    const transport = await UdpTransport.bind({ host: '127.0.0.1', port: 0, batchedInput: false }, (d) => got.push(d.length), () => {});
    expect(transport.batchedInput).toBe(false);
    expect(transport.batchedInputUnavailable).toBe('batched input disabled');
    const sender = await bound();
    await sendAll(sender, transport.port, [new Uint8Array(3)]);
    await until(() => got.length === 1, 'one datagram');
    await transport.close();

    // A batched transport closed releases its port too: another socket can bind it at once.
    const { transport: batched } = await recordingTransport();
    const port = batched.port;
    await batched.close();
    const again = createSocket('udp4');
    sockets.push(again);
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.bind(port, '127.0.0.1', resolve);
    });
  });

  it('a worker thread that exits with its transport still open ends cleanly (the watcher closes at teardown)', async () => {
    const worker = new Worker(new URL('../support/udp-transport-worker.mjs', import.meta.url));
    const messages: { port?: number; batchedInput?: boolean; got?: number }[] = [];
    worker.on('message', (m: (typeof messages)[number]) => messages.push(m));
    await until(() => messages.length > 0, 'the worker to bind', 20_000);
    expect(messages[0]!.batchedInput).toBe(true);
    const sender = await bound();
    await sendAll(sender, messages[0]!.port!, [new Uint8Array(42)]);
    await until(() => messages.some((m) => m.got === 42), 'the worker to receive');
    const exitCode = await new Promise<number>((resolve) => {
      worker.once('exit', resolve);
      void worker.terminate();
    });
    expect(exitCode).toBe(1); // terminate()'s code: no crash, no abort of this process
  }, 30_000);
});

describe('a socket poll error does not stop reception', () => {
  it('after POLLERR (an ICMP port unreachable on a connected socket), datagrams are read again', async () => {
    // A connected UDP socket gets the kernel's ICMP errors as a pending socket error, which poll(2)
    // reports as POLLERR: libuv then stops the poll handle and calls back once with an error.
    const gone = createSocket('udp4');
    await new Promise<void>((resolve) => gone.bind(0, '127.0.0.1', resolve));
    const unreachable = gone.address().port;
    await new Promise<void>((resolve) => gone.close(() => resolve()));
    const socket = await bound();
    const received: number[] = [];
    const errors: number[] = [];
    const { receiver } = DatagramReceiver.forSocket(
      socket,
      nativeUdp(),
      { onDatagram: (datagram) => received.push(datagram.length), afterBurst: () => {}, onError: (code) => errors.push(code) },
      { maxDatagramBytes: 1500 },
    );
    expect(receiver).not.toBeNull();
    try {
      await new Promise<void>((resolve) => socket.connect(unreachable, '127.0.0.1', () => resolve()));
      await new Promise<void>((resolve, reject) => socket.send(new Uint8Array([1]), (error) => (error ? reject(error) : resolve())));
      await until(() => errors.length > 0, 'the poll error');
      // The peer comes back on that port (a connected socket accepts only its datagrams).
      const peer = createSocket('udp4');
      sockets.push(peer);
      await new Promise<void>((resolve) => peer.bind(unreachable, '127.0.0.1', resolve));
      await sendAll(peer, socket.address().port, [new Uint8Array(7), new Uint8Array(9)]);
      await until(() => received.length === 2, 'datagrams after the poll error');
      expect(received).toEqual([7, 9]);
      expect(receiver!.pollRestarts).toBeGreaterThanOrEqual(1);
    } finally {
      receiver!.close();
    }
  });
});
