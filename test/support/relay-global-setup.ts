/**
 * Global setup of the `workers` Vitest project, second part: starts the real relay process
 * (relay/src/main.ts through cli/relay-process.ts) on loopback ports of its own, so the voice
 * rooms inside workerd install, change and revoke sessions on a real relay over its signed
 * internal API. Tests register it in the relay directory themselves
 * (test/workers/support/voice.ts), with the URL and keys provided here.
 *
 * The relay is a child process, killed (by PID) at teardown; a run killed mid-way leaves it
 * running on ephemeral ports nothing else reuses, so the next run is not disturbed.
 */
import type { TestProject } from 'vitest/node';
import { INSECURE_DEV_RELAY_PUBLIC_KEY } from '../../relay/src/config.js';
import { startRelayProcess } from '../../cli/relay-process.js';

declare module 'vitest' {
  export interface ProvidedContext {
    relay: { relayId: string; apiUrl: string; publicKey: string; bootId: string; udpHost: string; udpPorts: number[] };
  }
}

export default async function setupRelay(project: TestProject): Promise<() => Promise<void>> {
  const relay = await startRelayProcess({ relayId: 'workers-test-relay', env: { RELAY_UDP_PORT: '0', RELAY_LOG_LEVEL: 'warn' } });
  project.provide('relay', {
    relayId: relay.relayId,
    apiUrl: `http://127.0.0.1:${relay.ports.api}/`,
    publicKey: INSECURE_DEV_RELAY_PUBLIC_KEY,
    bootId: relay.bootId,
    udpHost: '127.0.0.1',
    udpPorts: [...relay.udpPorts],
  });
  return async function stopRelay() {
    relay.kill('SIGTERM');
    await relay.exited();
  };
}
