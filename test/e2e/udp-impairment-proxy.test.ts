/**
 * The impairment proxy (cli/loadtest/udp-impairment-proxy.ts) on real loopback sockets: what it
 * drops, duplicates and reorders is exactly what its seeded decider says for those datagrams, in
 * each direction, and it keeps one upstream address per client, like a NAT.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ImpairmentDecider, NO_IMPAIRMENT, UdpImpairmentProxy, type ImpairmentSettings } from '../../cli/loadtest/udp-impairment-proxy.js';

const opened: Array<{ close(): unknown }> = [];

async function udpSocket(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  opened.push({ close: () => new Promise<void>((resolve) => socket.close(() => resolve())) });
  return socket;
}

async function proxyTo(upstream: Socket, options: Partial<Parameters<typeof UdpImpairmentProxy.start>[0]> = {}): Promise<UdpImpairmentProxy> {
  const proxy = await UdpImpairmentProxy.start({ upstream: { host: '127.0.0.1', port: upstream.address().port }, ...options });
  opened.push(proxy);
  return proxy;
}

/** Datagram i carries i as a big-endian uint32. */
function numbered(i: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(i);
  return b;
}

/** Sends 0..n-1 in bursts of 25, yielding between bursts so no socket buffer overflows. */
async function sendNumbered(socket: Socket, n: number, port: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    socket.send(numbered(i), port, '127.0.0.1');
    if (i % 25 === 24) await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Collects the numbers arriving on `socket` until `count` have come, or rejects after `ms`. */
function collect(socket: Socket, count: number, ms = 8000): Promise<number[]> {
  const got: number[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`received ${got.length} of ${count}`)), ms);
    socket.on('message', (message) => {
      got.push(message.readUInt32BE(0));
      if (got.length === count) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

/** What the proxy sends on, in order, for datagrams 0..n-1 when nothing is delayed (jitter 0). */
function simulate(settings: ImpairmentSettings, n: number, stream: number): number[] {
  const decider = new ImpairmentDecider(settings, stream);
  const out: number[] = [];
  let held: number | null = null;
  for (let i = 0; i < n; i++) {
    const d = decider.next();
    if (d.drop) {
      // dropped
    } else if (d.reorder && held === null) {
      if (d.duplicate) out.push(i);
      held = i;
      continue;
    } else {
      out.push(i);
      if (d.duplicate) out.push(i);
    }
    if (held !== null) {
      out.push(held);
      held = null;
    }
  }
  if (held !== null) out.push(held);
  return out;
}

/** The smallest n ≥ from whose last datagram is not held back (so the run ends without the hold timer). */
function endingUnheld(settings: ImpairmentSettings, from: number, stream: number): number {
  const decider = new ImpairmentDecider(settings, stream);
  let held = false;
  for (let i = 0; ; i++) {
    const d = decider.next();
    const holds: boolean = !d.drop && d.reorder && !held;
    held = holds ? true : d.drop ? held : false;
    if (i + 1 >= from && !held) return i + 1;
  }
}

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
});

describe('UdpImpairmentProxy', () => {
  it('passes datagrams both ways unchanged and in order without impairment, one upstream address per client', async () => {
    const relay = await udpSocket();
    const sources = new Set<number>();
    relay.on('message', (message, from) => {
      sources.add(from.port);
      relay.send(message, from.port, from.address);
    });
    const proxy = await proxyTo(relay);
    const a = await udpSocket();
    const b = await udpSocket();
    const gotA = collect(a, 300);
    const gotB = collect(b, 300);
    await Promise.all([sendNumbered(a, 300, proxy.address.port), sendNumbered(b, 300, proxy.address.port)]);
    const expected = Array.from({ length: 300 }, (_, i) => i);
    expect(await gotA).toEqual(expected);
    expect(await gotB).toEqual(expected);
    expect(sources.size).toBe(2);
    expect(sources.has(a.address().port) || sources.has(b.address().port)).toBe(false);
    expect(proxy.stats.flows).toBe(2);
    expect(proxy.stats.toUpstream).toMatchObject({ received: 600, forwarded: 600, dropped: 0, duplicated: 0, reordered: 0 });
    expect(proxy.stats.toClient).toMatchObject({ received: 600, forwarded: 600 });
  });

  it('drops exactly the datagrams its seed picks (10 % asked; seed 42)', async () => {
    const settings = { ...NO_IMPAIRMENT, loss: 0.1, seed: 42 };
    const n = 2000;
    const expected = simulate(settings, n, 0);
    const relay = await udpSocket();
    const proxy = await proxyTo(relay, { impairment: settings, directions: 'toUpstream' });
    const client = await udpSocket();
    const got = collect(relay, expected.length);
    await sendNumbered(client, n, proxy.address.port);
    expect(await got).toEqual(expected);
    expect(proxy.stats.toUpstream.dropped).toBe(n - expected.length);
    expect(n - expected.length).toBeGreaterThan(150);
    expect(n - expected.length).toBeLessThan(250);
  });

  it('duplicates and reorders what its seed picks, towards the client too', async () => {
    const settings = { loss: 0.05, duplicate: 0.05, reorder: 0.1, jitterMs: 0, seed: 9 };
    const n = endingUnheld(settings, 1000, 1);
    const expected = simulate(settings, n, 1);
    const relay = await udpSocket();
    relay.on('message', (message, from) => relay.send(message, from.port, from.address));
    // Upstream untouched, so the relay echoes 0..n-1 in order; the way back is impaired.
    const proxy = await proxyTo(relay, { impairment: settings, directions: 'toClient', reorderHoldMs: 10_000 });
    const client = await udpSocket();
    const got = collect(client, expected.length);
    await sendNumbered(client, n, proxy.address.port);
    const arrived = await got;
    expect(arrived).toEqual(expected);
    const stats = proxy.stats.toClient;
    expect(stats.duplicated).toBeGreaterThan(20);
    expect(stats.reordered).toBeGreaterThan(50);
    expect(stats.forwarded).toBe(expected.length);
    expect(stats.received - stats.dropped + stats.duplicated).toBe(expected.length);
    // Reordered really means out of order on arrival.
    const inversions = arrived.filter((value, i) => i > 0 && value < arrived[i - 1]!).length;
    expect(inversions).toBeGreaterThan(0);
    expect(proxy.stats.toUpstream).toMatchObject({ received: n, forwarded: n, dropped: 0 });
  });

  it('delivers every datagram under jitter (delayed, none lost), and holds nothing after close', async () => {
    const settings = { ...NO_IMPAIRMENT, jitterMs: 15, seed: 4 };
    const relay = await udpSocket();
    const proxy = await proxyTo(relay, { impairment: settings });
    const client = await udpSocket();
    const got = collect(relay, 500);
    await sendNumbered(client, 500, proxy.address.port);
    expect([...(await got)].sort((x, y) => x - y)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    await proxy.close();
    await proxy.close(); // idempotent
  });

  it('refuses clients beyond maxFlows', async () => {
    const relay = await udpSocket();
    const proxy = await proxyTo(relay, { maxFlows: 1 });
    const first = await udpSocket();
    const second = await udpSocket();
    const got = collect(relay, 10);
    await sendNumbered(first, 10, proxy.address.port);
    await got;
    await sendNumbered(second, 10, proxy.address.port);
    for (let waited = 0; proxy.stats.refusedFlows < 10 && waited < 2000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(proxy.stats.flows).toBe(1);
    expect(proxy.stats.refusedFlows).toBe(10);
  });

  it('setImpairment() changes the settings from the next datagram on: the draws start again from the seed', async () => {
    const settings: ImpairmentSettings = { loss: 0.3, duplicate: 0, reorder: 0, jitterMs: 0, seed: 9 };
    const relay = await udpSocket();
    const proxy = await proxyTo(relay);
    const client = await udpSocket();
    const clean = collect(relay, 50);
    await sendNumbered(client, 50, proxy.address.port);
    expect(await clean).toEqual(Array.from({ length: 50 }, (_, i) => i));
    relay.removeAllListeners('message');
    proxy.setImpairment(settings);
    const expected = simulate(settings, 200, 0);
    const impaired = collect(relay, expected.length);
    await sendNumbered(client, 200, proxy.address.port);
    expect(await impaired).toEqual(expected);
    expect(proxy.stats.toUpstream.dropped).toBe(200 - expected.length);
    expect(() => proxy.setImpairment({ ...settings, loss: 2 })).toThrow(RangeError);
  });

  it('scripted: filters see each datagram first, sendToClient injects one, rebind() moves the upstream port', async () => {
    const relay = await udpSocket();
    const proxy = await proxyTo(relay);
    const client = await udpSocket();
    proxy.toUpstream = (d) => (d.readUInt32BE(0) % 2 === 0 ? [d, d] : []); // evens twice, odds never
    const got = collect(relay, 10);
    await sendNumbered(client, 10, proxy.address.port);
    expect(await got).toEqual([0, 0, 2, 2, 4, 4, 6, 6, 8, 8]);
    const fromProxy = collect(client, 1);
    proxy.sendToClient(numbered(77));
    expect(await fromProxy).toEqual([77]);
    let upstreamPort = 0;
    relay.once('message', (_, from) => (upstreamPort = from.port));
    proxy.toUpstream = (d) => [d];
    client.send(numbered(1), proxy.address.port, '127.0.0.1');
    for (let waited = 0; upstreamPort === 0 && waited < 2000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    const before = upstreamPort;
    await proxy.rebind();
    upstreamPort = 0;
    relay.once('message', (_, from) => (upstreamPort = from.port));
    client.send(numbered(2), proxy.address.port, '127.0.0.1');
    for (let waited = 0; upstreamPort === 0 && waited < 2000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(upstreamPort).not.toBe(0);
    expect(upstreamPort).not.toBe(before);
  });

  it('refuses an upstream that is not an IP address', async () => {
    await expect(UdpImpairmentProxy.start({ upstream: { host: 'relay.example', port: 4000 } })).rejects.toThrow(TypeError);
  });
});
