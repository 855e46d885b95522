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
import { startRelayProcess, type RelayProcess } from '../../cli/relay-process.js';

interface ProvidedRelay {
  relayId: string;
  apiUrl: string;
  publicKey: string;
  bootId: string;
  udpHost: string;
  udpPorts: number[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    relay: ProvidedRelay;
    failoverRelays: ProvidedRelay[];
  }
}

function provided(relay: RelayProcess): ProvidedRelay {
  return {
    relayId: relay.relayId,
    apiUrl: `http://127.0.0.1:${relay.ports.api}/`,
    publicKey: INSECURE_DEV_RELAY_PUBLIC_KEY,
    bootId: relay.bootId,
    udpHost: '127.0.0.1',
    udpPorts: [...relay.udpPorts],
  };
}

export default async function setupRelay(project: TestProject): Promise<() => Promise<void>> {
  const env = { RELAY_UDP_PORT: '0', RELAY_LOG_LEVEL: 'warn' };
  const attempts = await Promise.allSettled(['workers-test-relay', 'workers-failover-a', 'workers-failover-b'].map((relayId) => startRelayProcess({ relayId, env })));
  const started = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
  const failed = attempts.find((a) => a.status === 'rejected');
  if (failed !== undefined) {
    // One did not start: stop the others, or they outlive the run.
    for (const r of started) r.kill('SIGTERM');
    await Promise.all(started.map((r) => r.exited()));
    throw failed.reason;
  }
  const [relay, ...failover] = started;
  project.provide('relay', provided(relay!));
  project.provide('failoverRelays', failover.map(provided));
  return async function stopRelays() {
    for (const r of started) r.kill('SIGTERM');
    await Promise.all(started.map((r) => r.exited()));
  };
}
