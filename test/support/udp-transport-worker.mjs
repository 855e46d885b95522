// A worker thread that binds a UdpTransport (batched input when the addon allows) and reports
// what it receives; test/e2e/datagram-receiver.test.ts terminates it with the transport open.
// Plain .mjs: a worker does not inherit the parent's tsx loader, so it registers its own.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { UdpTransport } = await import('../../relay/src/io/udp-transport.ts');
const transport = await UdpTransport.bind(
  { host: '127.0.0.1', port: 0 },
  (datagram) => parentPort.postMessage({ got: datagram.length }),
  () => {},
);
parentPort.postMessage({ port: transport.port, batchedInput: transport.batchedInput });
