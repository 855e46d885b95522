/**
 * The relay process: `node <node-flags.ts's flags> dist/relay/src/main.js`, in the Docker image and
 * locally (`npm run relay:build`, then `npm run relay`, which execs that same command so that
 * signals reach the relay itself). Tests may run the source under tsx. Configuration comes from
 * the environment (relay/src/config.ts, docs/deploying-relays.md).
 *
 * SIGTERM / SIGINT: drain (no new sessions in any worker; existing calls continue) until every
 * worker's sessions have ended or RELAY_DRAIN_DEADLINE_SECONDS pass, then wipe all keys in every
 * worker and exit 0. A second signal exits at once.
 */
import { loadRelayConfig, RelayConfigError, SECRET_VARIABLES } from './config.js';
import { createRelayLogger } from './logger.js';
import { RelayServer } from './relay-server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadRelayConfig(process.env);
  } catch (error) {
    if (error instanceof RelayConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  // The secrets now live in `config` only: take them out of the environment, which every worker
  // thread and child process would otherwise inherit a copy of (the kernel's copy of the initial
  // environment, /proc/<pid>/environ, stays readable to root and the relay's own user).
  for (const name of SECRET_VARIABLES) delete process.env[name];
  const logger = createRelayLogger(config);
  if (config.insecureDefaults.length > 0) {
    logger.warn({ variables: config.insecureDefaults }, 'using insecure development defaults; never in production');
  }
  const server = await RelayServer.start({ config, logger, register: config.register });
  // The seal opener holds its own copy of the private key (inside OpenSSL with the native addon).
  config.privateKey.fill(0);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      void server.close().finally(() => process.exit(1));
      return;
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    void server
      .drain()
      .then((outcome) => logger.info({ outcome }, 'drained'))
      .then(() => server.close())
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Tell a parent process (tests, benchmarks) where we listen, as one JSON line on stdout.
  if (process.env['RELAY_ANNOUNCE_PORTS'] === 'true') {
    // udpPort is worker 0's (what tools written before workers read); udpPorts lists every worker's.
    const ready = {
      parleyRelay: 'ready',
      pid: process.pid,
      udpPort: server.udpPort,
      udpPorts: server.udpPorts,
      apiPort: server.apiPort,
      metricsPort: server.metricsPort,
      bootId: server.bootId,
      publicKey: Buffer.from(config.publicKey).toString('base64url'),
    };
    process.stdout.write(`${JSON.stringify(ready)}\n`);
  }
}

main().catch((error: unknown) => {
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`parley-relay: failed to start: ${detail}\n`);
  process.exit(1);
});
