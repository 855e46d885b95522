/**
 * The JS side of batched UDP output, without sockets: DatagramBatch's bookkeeping against a
 * recording stand-in for the native sendBatch (full batches, partial sends, EAGAIN, close), and
 * the IPv4 parsing. The real sendmmsg over loopback is tested in
 * test/e2e/datagram-batch.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { DatagramBatch } from '../../../relay/src/io/datagram-batch.js';
import { ipv4ToNumber } from '../../../relay/src/io/ipv4-address.js';
import { META_WORDS, type NativeUdp } from '../../../relay/src/io/native-udp.js';

const EAGAIN = 11;

interface Call {
  readonly datagrams: { readonly bytes: number[]; readonly ipv4: number; readonly port: number }[];
}

/** Records each sendBatch call (a copy of what it was given) and answers `answer(count)`. */
function recordingNative(answer: (count: number) => number = (count) => count): NativeUdp & { readonly calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    sendBatch(_fd, data, meta, count) {
      const datagrams = [];
      for (let i = 0; i < count; i++) {
        const [offset, length, ipv4, port] = meta.subarray(i * META_WORDS, (i + 1) * META_WORDS) as unknown as [number, number, number, number];
        datagrams.push({ bytes: [...data.subarray(offset, offset + length)], ipv4, port });
      }
      calls.push({ datagrams });
      return answer(count);
    },
    udp4SocketPort: () => -1,
    clearSocketError: () => {
      throw new Error('not used by DatagramBatch');
    },
    // DatagramBatch only sends; input is tested against the real addon in test/e2e.
    recvBatch: () => {
      throw new Error('not used by DatagramBatch');
    },
    watchReadable: () => {
      throw new Error('not used by DatagramBatch');
    },
  };
}

const LOCALHOST = 0x7f00_0001;

describe('DatagramBatch', () => {
  it('copies datagrams in order and sends them in one call per flush', () => {
    const native = recordingNative();
    const batch = new DatagramBatch(native, 3);
    const source = Uint8Array.of(9, 1, 2, 3, 9);
    expect(batch.add(source.subarray(1, 4), LOCALHOST, 5000)).toBe(true);
    source.fill(0); // copied at add(): later changes to the caller's bytes do not leak in
    expect(batch.add(Uint8Array.of(4), LOCALHOST + 1, 5001)).toBe(true);
    expect(batch.add(new Uint8Array(0), LOCALHOST, 65535)).toBe(true);
    expect(batch.length).toBe(3);
    expect(batch.flush()).toBe(3);
    expect(batch.length).toBe(0);
    expect(native.calls).toEqual([
      {
        datagrams: [
          { bytes: [1, 2, 3], ipv4: LOCALHOST, port: 5000 },
          { bytes: [4], ipv4: LOCALHOST + 1, port: 5001 },
          { bytes: [], ipv4: LOCALHOST, port: 65535 },
        ],
      },
    ]);
    expect(batch.flush()).toBe(0); // nothing waiting: no call
    expect(native.calls).toHaveLength(1);
    expect([batch.sent, batch.dropped, batch.flushes]).toEqual([3, 0, 1]);
  });

  it('flushes by itself when the next datagram would overflow its count or its bytes', () => {
    const native = recordingNative();
    const batch = new DatagramBatch(native, 3, { capacity: 2, bytes: 10 });
    for (let i = 0; i < 5; i++) batch.add(Uint8Array.of(i), LOCALHOST, 1000 + i);
    expect(native.calls.map((c) => c.datagrams.map((d) => d.port))).toEqual([
      [1000, 1001],
      [1002, 1003],
    ]);
    batch.flush();
    batch.add(new Uint8Array(6), LOCALHOST, 1);
    batch.add(new Uint8Array(6), LOCALHOST, 2); // 12 bytes > 10: the first goes alone
    expect(native.calls.map((c) => c.datagrams.length)).toEqual([2, 2, 1, 1]);
    expect(batch.add(new Uint8Array(11), LOCALHOST, 3)).toBe(false); // larger than the whole batch
    expect(batch.length).toBe(1);
  });

  it('counts what the kernel did not take: partial sends and EAGAIN are drops, never throws', () => {
    const answers = [2, -EAGAIN, 0];
    const batch = new DatagramBatch(recordingNative(() => answers.shift()!), 3);
    const add = (n: number): void => {
      for (let i = 0; i < n; i++) batch.add(Uint8Array.of(i), LOCALHOST, 4000);
    };
    add(3);
    expect(batch.flush()).toBe(2);
    expect([batch.sent, batch.dropped, batch.lastErrno]).toEqual([2, 1, 0]);
    add(4);
    expect(batch.flush()).toBe(0);
    expect([batch.sent, batch.dropped, batch.lastErrno]).toEqual([2, 5, EAGAIN]);
    add(1);
    expect(batch.flush()).toBe(0);
    expect([batch.sent, batch.dropped, batch.flushes]).toEqual([2, 6, 3]);
  });

  it('after close() it drops what waits, refuses new datagrams and never calls the native side again', () => {
    const native = recordingNative();
    const batch = new DatagramBatch(native, 3);
    batch.add(Uint8Array.of(1), LOCALHOST, 1);
    batch.close();
    batch.close(); // idempotent
    expect(batch.closed).toBe(true);
    expect(batch.add(Uint8Array.of(2), LOCALHOST, 1)).toBe(false);
    expect(batch.flush()).toBe(0);
    expect(native.calls).toHaveLength(0);
    expect(batch.dropped).toBe(1);
  });

  it('refuses a bad fd, capacity or size with RangeError', () => {
    const native = recordingNative();
    expect(() => new DatagramBatch(native, -1)).toThrow(RangeError);
    expect(() => new DatagramBatch(native, 1.5)).toThrow(RangeError);
    expect(() => new DatagramBatch(native, 3, { capacity: 0 })).toThrow(RangeError);
    expect(() => new DatagramBatch(native, 3, { capacity: 1025 })).toThrow(RangeError);
    expect(() => new DatagramBatch(native, 3, { bytes: 0 })).toThrow(RangeError);
  });

  it('forSocket gives the reason, not a batch, when the addon is missing', () => {
    const result = DatagramBatch.forSocket({} as never, {}, null);
    expect(result.batch).toBeNull();
    expect(result.reason).toEqual(expect.any(String));
  });
});

describe('ipv4ToNumber', () => {
  it.each([
    ['0.0.0.0', 0],
    ['127.0.0.1', 0x7f00_0001],
    ['10.0.0.10', 0x0a00_000a],
    ['192.168.1.254', 0xc0a8_01fe],
    ['255.255.255.255', 0xffff_ffff],
  ])('%s → %d', (address, value) => {
    expect(ipv4ToNumber(address)).toBe(value);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1..2.3', '.1.2.3', '1.2.3.', '01.2.3.4', '1.2.3.4 ', '-1.2.3.4', '::1', '::ffff:127.0.0.1', 'fe80::1%eth0', 'localhost'])(
    'refuses %j',
    (address) => {
      expect(ipv4ToNumber(address)).toBeUndefined();
    },
  );
});
