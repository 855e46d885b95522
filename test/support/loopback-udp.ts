/**
 * Loopback UDP sockets for the batched-I/O tests (test/e2e/datagram-batch.test.ts,
 * test/e2e/datagram-receiver.test.ts): the native functions, bound sockets that close after each
 * test, and the socket's fd.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach } from 'vitest';
import { dgramSocketFd } from '../../relay/src/io/datagram-batch.js';
import { loadNativeUdp, nativeUdpError, type NativeUdp } from '../../relay/src/io/native-udp.js';
import type { UdpTransport } from '../../relay/src/io/udp-transport.js';

/** The addon's UDP functions; throws (the tests FAIL, never skip) when it is not built. */
export function nativeUdp(): NativeUdp {
  const native = loadNativeUdp();
  if (native === null) throw new Error(`native UDP functions are not available: ${nativeUdpError ?? 'run `npm run build:native`'}`);
  return native;
}

/**
 * Sockets and transports a test opens, closed after it. Call once per test file: it registers
 * the afterEach hook.
 */
export function loopbackSockets(): {
  bound(type?: 'udp4' | 'udp6'): Promise<Socket>;
  track(transport: UdpTransport): UdpTransport;
  readonly sockets: Socket[];
} {
  const sockets: Socket[] = [];
  const transports: UdpTransport[] = [];
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
    await Promise.all(sockets.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });
  return {
    sockets,
    async bound(type = 'udp4') {
      const socket = createSocket(type);
      sockets.push(socket);
      await new Promise<void>((resolve) => socket.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', resolve));
      socket.setRecvBufferSize(1 << 20);
      return socket;
    },
    track(transport) {
      transports.push(transport);
      return transport;
    },
  };
}

export function fdOf(socket: Socket): number {
  const fd = dgramSocketFd(socket);
  if (fd === null) throw new Error('no fd for a bound dgram socket');
  return fd;
}

/** Stops node:dgram's own reading of `socket` (UDPWrap.recvStop, as DatagramReceiver does), so a test can read it natively. */
export function stopDgramReading(socket: Socket): void {
  const stateSymbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  const state = stateSymbol === undefined ? undefined : (socket as unknown as Record<symbol, { handle?: { recvStop(): number } }>)[stateSymbol];
  if (state?.handle?.recvStop() !== 0) throw new Error('could not stop node:dgram reading this socket');
}
