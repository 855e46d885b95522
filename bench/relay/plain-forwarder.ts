/**
 * The I/O ceiling for `npm run bench:relay`: a plain Node UDP forwarder with the relay's fan-out
 * structure and none of its work. For each datagram it reads the SSRC, looks up the channel's
 * listener addresses in a table, and sends the same bytes to each — no authentication, no
 * decryption, no re-encryption, no rate limits. Whatever the relay costs beyond this is the
 * price of SRTP and of its own bookkeeping.
 *
 * Two kinds of I/O (PLAIN_FORWARDER_IO):
 * - 'dgram' (default): one node:dgram 'message' event per datagram and one dgram.Socket.send per
 *   copy — a plain Node forwarder, the ceiling the ratio target divides by;
 * - 'batched': the relay's own I/O edge, relay/src/io/udp-transport.ts (recvmmsg bursts, sendmmsg
 *   batches) — the same forwarder with Node's per-datagram I/O costs removed, so the ratio
 *   against it is the price of SRTP and the relay's bookkeeping alone.
 * The socket buffers match what the relay asks for, so the two differ only in the per-packet work.
 *
 * Run by bench/relay.bench.ts with PLAIN_FORWARDER_PORT set and an IPC channel, over which the
 * driver sends the table (load-protocol.ts, ForwarderRequest).
 */
import { createSocket } from 'node:dgram';
import { UdpTransport } from '../../relay/src/io/udp-transport.js';
import type { ForwarderReply, ForwarderRequest } from './load-protocol.js';

const HOST = '127.0.0.1';
const port = Number(process.env.PLAIN_FORWARDER_PORT);
const bufferBytes = Number(process.env.PLAIN_FORWARDER_BUFFER_BYTES ?? 0);
const io = process.env.PLAIN_FORWARDER_IO ?? 'dgram';
if (!Number.isInteger(port) || port < 1 || port > 65535 || process.send === undefined || (io !== 'dgram' && io !== 'batched')) {
  console.error("plain-forwarder: run by bench/relay.bench.ts (PLAIN_FORWARDER_PORT, PLAIN_FORWARDER_IO 'dgram' or 'batched', an IPC channel)");
  process.exit(2);
}

interface Destination {
  readonly address: string;
  readonly port: number;
}

/** SSRC → listener addresses, replaced as a whole by each table message. */
let table = new Map<number, readonly Destination[]>();
let sendErrors = 0;
const onSent = (error: Error | null): void => {
  if (error) sendErrors++;
};

/** The batched forwarder's socket ('batched' I/O only). */
let transport: UdpTransport | null = null;

function destinationsOf(datagram: Uint8Array): readonly Destination[] | undefined {
  if (datagram.length < 12) return undefined;
  return table.get(((datagram[8]! << 24) | (datagram[9]! << 16) | (datagram[10]! << 8) | datagram[11]!) >>> 0);
}

if (io === 'dgram') {
  const socket = createSocket({ type: 'udp4', reuseAddr: false });
  socket.on('message', function forwardDatagram(datagram) {
    const destinations = destinationsOf(datagram);
    if (destinations === undefined) return;
    for (let i = 0; i < destinations.length; i++) {
      const to = destinations[i]!;
      socket.send(datagram, to.port, to.address, onSent);
    }
  });
  socket.on('error', (error) => console.error(`plain-forwarder: ${error.message}`));
  socket.bind(port, HOST, () => {
    if (bufferBytes > 0) {
      socket.setRecvBufferSize(bufferBytes);
      socket.setSendBufferSize(bufferBytes);
    }
  });
} else {
  transport = await UdpTransport.bind(
    { host: HOST, port, receiveBufferBytes: bufferBytes || undefined, sendBufferBytes: bufferBytes || undefined },
    function forwardDatagram(datagram) {
      const destinations = destinationsOf(datagram);
      if (destinations === undefined) return;
      for (let i = 0; i < destinations.length; i++) transport!.send(datagram, destinations[i]!);
    },
    (error) => console.error(`plain-forwarder: ${error.message}`),
  );
  if (!transport.batching || !transport.batchedInput) {
    console.error(`plain-forwarder: batched I/O unavailable (${transport.batchingUnavailable ?? transport.batchedInputUnavailable}); build the addon: npm run build:native`);
    process.exit(2);
  }
}

process.on('message', (message: ForwarderRequest) => {
  if (message.type !== 'table') return;
  const next = new Map<number, readonly Destination[]>();
  let destinations = 0;
  for (const entry of message.entries) {
    next.set(entry.ssrc, entry.ports.map((p) => ({ address: HOST, port: p })));
    destinations += entry.ports.length;
  }
  table = next;
  const reply: ForwarderReply = { type: 'table-ok', ssrcs: next.size, destinations };
  process.send!(reply);
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => {
  const failed = sendErrors + (transport?.sendErrors ?? 0);
  if (failed > 0) console.error(`plain-forwarder: ${failed} sends failed`);
  process.exit(0);
});
