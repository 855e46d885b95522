/**
 * `npm start` — the whole Parley stack on this machine, with development keys (refused in
 * production): the local libSQL server on .parley/local.db (migrated), the control plane in
 * `wrangler dev` (workerd) and a relay registered with it. It prints the URLs once everything is
 * healthy, then the children's logs, and stops everything on Ctrl-C or SIGTERM (a second one,
 * two seconds later, kills at once). If a child dies, it says which, stops the rest and exits 1.
 *
 * The parts live in control/dev/local-stack/ (local-stack.ts), which the end-to-end tests and
 * `npm run bench:control` use too.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LOCAL_STATE_DIR } from './local-paths.js';
import { DEFAULT_PORTS, displayPath, PORT_OPTIONS, startLocalStack, type LocalStack, type PortName, type PortSetting } from './local-stack/local-stack.js';
import { isRoutineHeartbeatLine } from './local-stack/control-plane-process.js';
import { OPERATOR_KEY_FILE } from './local-stack/operator-key.js';
import { StartAbortedError } from './local-stack/readiness.js';
import { describeExit, type SupervisedProcess } from './local-stack/supervised-process.js';

const USAGE = `usage: npm start [-- options]

Runs the local libSQL server, the control plane (wrangler dev) and a relay, on 127.0.0.1, with
development keys. Ctrl-C (or SIGTERM) stops everything.

  --control-port N        control plane (default ${DEFAULT_PORTS.control})
  --libsql-port N         local libSQL server (default ${DEFAULT_PORTS.libsql})
  --relay-api-port N      relay internal API (default ${DEFAULT_PORTS.relayApi})
  --relay-udp-port N      relay UDP, worker 0 (default ${DEFAULT_PORTS.relayUdp})
  --relay-metrics-port N  relay Prometheus metrics (default ${DEFAULT_PORTS.relayMetrics})
  --database PATH         database file (default <state dir>/local.db)
  --state-dir DIR         where the stack keeps its state, logs and operator key (default .parley)
  --quiet                 do not print the children's logs (they are in .parley/logs/)

A default port that is taken falls back to a free one (and says so); a port given here that is
taken is an error. 0 means any free port.`;

/** Two signals closer than this are one Ctrl-C (npm forwards the terminal's SIGINT, so it arrives twice). */
const SECOND_SIGNAL_AFTER_MS = 2_000;

function parsePort(option: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new RangeError(`${option} must be a port number from 0 to 65535`);
  return Number(text);
}

interface StartCommand {
  readonly ports: Partial<Record<PortName, PortSetting>>;
  readonly database: string | undefined;
  readonly stateDir: string;
  readonly quiet: boolean;
}

function parseCommandLine(argv: string[]): StartCommand | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      'control-port': { type: 'string' },
      'libsql-port': { type: 'string' },
      'relay-api-port': { type: 'string' },
      'relay-udp-port': { type: 'string' },
      'relay-metrics-port': { type: 'string' },
      database: { type: 'string' },
      'state-dir': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) return 'help';
  const ports: Partial<Record<PortName, PortSetting>> = {};
  for (const [name, option] of Object.entries(PORT_OPTIONS) as [PortName, string][]) {
    const text = values[option.slice(2) as 'control-port'];
    if (text !== undefined) ports[name] = { port: parsePort(option, text), explicit: true };
  }
  return {
    ports,
    database: values.database === undefined ? undefined : resolve(values.database),
    stateDir: resolve(values['state-dir'] ?? LOCAL_STATE_DIR),
    quiet: values.quiet === true,
  };
}

function summary(stack: LocalStack): string {
  const rows: [string, string][] = [
    ['control plane', stack.control.url],
    ['OpenAPI', stack.control.openApiUrl],
    ['health', `${stack.control.url}/healthz`],
  ];
  if (stack.relay !== null) {
    rows.push(['relay API', `${stack.relay.apiUrl}  (internal, signed requests only)`]);
    rows.push(['relay UDP', stack.relay.udpEndpoints.join(', ')]);
    rows.push(['relay metrics', stack.relay.metricsUrl]);
  }
  rows.push(['database', `${stack.libsql.url}  (libSQL over HTTP; file ${displayPath(stack.libsql.databasePath)})`]);
  const keyFile = displayPath(stack.operatorKey.file);
  rows.push(['operator key', stack.operatorKey.created ? `${stack.operatorKey.key}  (new; kept in ${keyFile}, mode 0600)` : `${keyFile}  (${stack.operatorKey.appKeyId})`]);
  rows.push(['logs', `${displayPath(stack.stateDir)}/logs/`]);
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [
    '',
    'Parley is running on this machine, with development keys (production refuses them):',
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
    '',
    'Try:',
    `  curl ${stack.control.url}/healthz`,
    `  curl -H "Authorization: Bearer $(cat ${displayPath(stack.stateDir)}/${OPERATOR_KEY_FILE})" ${stack.control.url}/v1/admin/relays`,
    '',
    "Logs follow (the relay's successful heartbeats only in the log files). Ctrl-C stops everything.",
    '',
  ];
  return lines.join('\n');
}

function streamLogs(children: readonly { label: string; process: SupervisedProcess }[]): void {
  const width = Math.max(...children.map((c) => c.label.length));
  for (const { label, process: child } of children) {
    child.onLine((line) => {
      if (!isRoutineHeartbeatLine(line)) process.stdout.write(`${label.padEnd(width)} | ${line}\n`);
    });
  }
}

async function main(): Promise<number> {
  let command;
  try {
    command = parseCommandLine(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`npm start: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  if (command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (process.env['PARLEY_ENV'] === 'production') {
    process.stderr.write('npm start: refusing to run with PARLEY_ENV=production: the local stack uses well-known development keys\n');
    return 1;
  }

  const abort = new AbortController();
  let stack: LocalStack | null = null;
  let firstSignalAt = 0;
  let stopRequested: (signal: NodeJS.Signals) => void = () => {};
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => (stopRequested = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (firstSignalAt === 0) {
      firstSignalAt = now;
      process.stdout.write(`\n${signal}: stopping everything (again in 2 s or later to kill at once)…\n`);
      abort.abort();
      stopRequested(signal);
    } else if (now - firstSignalAt > SECOND_SIGNAL_AFTER_MS) {
      process.stdout.write(`${signal} again: killing every child now\n`);
      stack?.kill();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  const started = Date.now();
  process.stdout.write('Parley local stack (development only)\n');
  try {
    stack = await startLocalStack({
      stateDir: command.stateDir,
      database: command.database,
      ports: command.ports,
      log: (line) => process.stdout.write(`${line}\n`),
      signal: abort.signal,
    });
  } catch (error) {
    if (error instanceof StartAbortedError) {
      process.stdout.write('Stopped before everything was up.\n');
      return 0;
    }
    process.stderr.write(`\nnpm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
    const tail = (error as { child?: SupervisedProcess }).child?.tail();
    if (tail !== undefined && tail.length > 0) process.stderr.write(`Its last lines:\n${tail.slice(-15).map((l) => `  ${l}`).join('\n')}\n`);
    process.stderr.write(`Logs: ${displayPath(command.stateDir)}/logs/\n`);
    return 1;
  }

  process.stdout.write(`${summary(stack)}(up in ${((Date.now() - started) / 1000).toFixed(1)} s)\n\n`);
  if (!command.quiet) {
    streamLogs([
      { label: 'control', process: stack.control.process },
      ...(stack.relay === null ? [] : [{ label: 'relay', process: stack.relay.process }]),
      { label: 'libsql', process: stack.libsql.process },
    ]);
  }

  const outcome = await Promise.race([
    stopSignal.then((signal) => ({ kind: 'signal' as const, signal })),
    stack.childDied.then((death) => ({ kind: 'died' as const, death })),
  ]);
  if (outcome.kind === 'died') {
    const { child, status } = outcome.death;
    process.stderr.write(`\n${child.name} ${describeExit(status)}; stopping the rest.\n`);
    if (command.quiet) process.stderr.write(`Its last lines:\n${child.tail().slice(-15).map((l) => `  ${l}`).join('\n')}\n`);
    await stack.stop();
    process.stderr.write(`Stopped. Logs: ${displayPath(stack.stateDir)}/logs/\n`);
    return 1;
  }
  await stack.stop();
  process.stdout.write('Stopped: every process npm start started has exited.\n');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`npm start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
