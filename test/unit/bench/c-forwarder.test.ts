/**
 * The kernel floor of `npm run bench:relay` (bench/relay/c-forwarder.c): built with the system C
 * compiler and run on loopback, it must forward exactly what the relay would — each datagram of
 * a known speaker, byte for byte, to every listener in its table, nothing for unknown SSRCs —
 * or the floor it reports would be the cost of some other work.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuPerPacketResult } from '../../../bench/relay/report.js';
import type { StepResult } from '../../../bench/relay/load-protocol.js';
import { buildCForwarder, startCForwarder } from '../../../bench/relay/targets.js';
import type { PlainForwarderProcess } from '../../../bench/relay/targets.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const NOT_PINNED = { pinned: false, reason: 'test' } as const;

function bindSocket(): Promise<Socket> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve(socket));
  });
}

/** A free UDP port on 127.0.0.1 (bound, read, released). */
async function freePort(): Promise<number> {
  const probe = await bindSocket();
  const port = probe.address().port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Datagrams a socket receives within `ms`. */
function collect(socket: Socket, ms: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  const onMessage = (message: Buffer): void => {
    got.push(message);
  };
  socket.on('message', onMessage);
  return new Promise((resolve) =>
    setTimeout(() => {
      socket.off('message', onMessage);
      resolve(got);
    }, ms),
  );
}

function rtp(ssrc: number, sequence: number): Buffer {
  const packet = Buffer.alloc(172, sequence & 0xff);
  packet[0] = 0x80;
  packet[1] = 111;
  packet.writeUInt16BE(sequence, 2);
  packet.writeUInt32BE(ssrc, 8);
  return packet;
}

describe('bench:relay kernel floor (c-forwarder.c)', () => {
  let forwarder: PlainForwarderProcess;
  let listeners: Socket[] = [];
  let sender: Socket;
  let port = 0;

  beforeAll(async () => {
    const build = buildCForwarder(ROOT);
    expect(build.reason).toBeNull();
    port = await freePort();
    forwarder = await startCForwarder(ROOT, NOT_PINNED, port, build.path!);
    listeners = await Promise.all([bindSocket(), bindSocket(), bindSocket()]);
    sender = await bindSocket();
  });

  afterAll(async () => {
    await forwarder?.stop();
    for (const socket of [...listeners, sender]) socket?.close();
  });

  it('sends each datagram of a known SSRC, unchanged, to every listener in its table, and nothing for other SSRCs', async () => {
    const [a, b, c] = listeners.map((s) => s.address().port);
    await forwarder.setTable([
      { ssrc: 0xdeadbeef, ports: [a!, b!] },
      { ssrc: 7, ports: [c!] },
    ]);
    const arrivals = Promise.all(listeners.map((s) => collect(s, 400)));
    const sent = [rtp(0xdeadbeef, 1), rtp(0xdeadbeef, 2), rtp(7, 3), rtp(12345, 4)];
    for (const packet of sent) sender.send(packet, port, '127.0.0.1');
    const [atA, atB, atC] = await arrivals;
    expect(atA).toEqual([sent[0], sent[1]]);
    expect(atB).toEqual([sent[0], sent[1]]);
    expect(atC).toEqual([sent[2]]);
  });

  it('replaces the whole table with the next one', async () => {
    const [a, , c] = listeners.map((s) => s.address().port);
    await forwarder.setTable([{ ssrc: 9, ports: [c!] }]);
    const arrivals = Promise.all([collect(listeners[0]!, 300), collect(listeners[2]!, 300)]);
    sender.send(rtp(0xdeadbeef, 5), port, '127.0.0.1');
    sender.send(rtp(9, 6), port, '127.0.0.1');
    const [atA, atC] = await arrivals;
    expect(a).toBeGreaterThan(0);
    expect(atA).toEqual([]);
    expect(atC.map((d) => d.readUInt16BE(2))).toEqual([6]);
  });

  it('exits when its input ends', async () => {
    const build = buildCForwarder(ROOT);
    const other = await startCForwarder(ROOT, NOT_PINNED, await freePort(), build.path!);
    await other.stop();
    const exit = await other.child.exited;
    expect(exit.code).toBe(0);
  });
});

describe('bench:relay CPU phase: relay ÷ kernel floor', () => {
  function step(cpuSeconds: number, forwarded: number): StepResult {
    return { target_cpu_seconds: cpuSeconds, received: forwarded, relay_counters: null, loss: 0, offered_out_pps: 60_000, target_cores: 0.5, load_cores: 0.4, load_receive_calls: 1, load_receive_datagrams: 1 } as unknown as StepResult;
  }

  it('divides the relay median by the floor median and states the target ratio of the reference figures', () => {
    const result = cpuPerPacketResult({
      fanout: 4,
      channels: 300,
      steps: [step(1.8, 180_000), step(2.0, 180_000), step(2.2, 180_000)],
      loadAverageBefore: [0],
      loadAverageAfter: [0],
      floor: [step(0.9, 180_000), step(1.0, 180_000), step(1.1, 180_000)],
    });
    expect(result.cpu_us_per_out_packet?.median).toBeCloseTo(11.111, 2);
    expect(result.kernel_floor_us_per_out_packet?.median).toBeCloseTo(5.556, 2);
    expect(result.ratio_to_kernel_floor).toBe(2);
    // 4.5 µs target ÷ the 3.5 µs C + OpenSSL relay it was set against.
    expect(result.floor_ratio_target).toBe(1.286);
  });

  it('has no ratio when the floor did not run, and says why', () => {
    const result = cpuPerPacketResult({ fanout: 20, channels: 60, steps: [step(1, 100_000)], loadAverageBefore: [0], loadAverageAfter: [0], floor: null, floorNote: 'no kernel floor: --cpu-floor none' });
    expect(result.kernel_floor_us_per_out_packet).toBeNull();
    expect(result.ratio_to_kernel_floor).toBeNull();
    expect(result.floor_note).toBe('no kernel floor: --cpu-floor none');
    expect(result.floor_ratio_target).toBe(1.226);
  });
});
