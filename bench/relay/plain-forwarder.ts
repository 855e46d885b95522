/**
 * The I/O ceiling for `npm run bench:relay`: a plain Node UDP forwarder with the relay's fan-out
 * structure and none of its work. For each datagram it reads the SSRC, looks up the channel's
 * listener addresses in a table, and sends the same bytes to each — no authentication, no
 * decryption, no re-encryption, no rate limits. Whatever the relay costs beyond this is the
 * price of SRTP and of its own bookkeeping.
 *
 * The send call matches relay/src/udp-transport.ts (address per send, completion callback), and
 * the socket buffers match what the relay asks for, so the two differ only in the per-packet work.
 *
 * Run by bench/relay.bench.ts with PLAIN_FORWARDER_PORT set and an IPC channel, over which the
 * driver sends the table (load-protocol.ts, ForwarderRequest).
 */
import { createSocket } from 'node:dgram';
import type { ForwarderReply, ForwarderRequest } from './load-protocol.js';

const HOST = '127.0.0.1';
const port = Number(process.env.PLAIN_FORWARDER_PORT);
const bufferBytes = Number(process.env.PLAIN_FORWARDER_BUFFER_BYTES ?? 0);
if (!Number.isInteger(port) || port < 1 || port > 65535 || process.send === undefined) {
  console.error('plain-forwarder: run by bench/relay.bench.ts (PLAIN_FORWARDER_PORT and an IPC channel)');
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

const socket = createSocket({ type: 'udp4', reuseAddr: false });
socket.on('message', function forwardDatagram(datagram) {
  if (datagram.length < 12) return;
  const destinations = table.get(datagram.readUInt32BE(8));
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
  if (sendErrors > 0) console.error(`plain-forwarder: ${sendErrors} sends failed`);
  process.exit(0);
});
