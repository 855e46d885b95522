/** Command-line options of `npm run bench:control`. */
import { parseArgs } from 'node:util';

export interface ControlBenchOptions {
  readonly json: boolean;
  /** Logins measured one at a time (at least `clients`: each login is one client's refresh family). */
  readonly logins: number;
  /** Refreshes measured one at a time, one family's chain. */
  readonly refreshes: number;
  /** GET /v1/me (and GET /healthz) requests measured one at a time. */
  readonly verifications: number;
  /** Concurrent clients of the load phases. */
  readonly clients: number;
  /** Requests of each load phase at most. */
  readonly loadRequests: number;
  /** Seconds each phase may take at most (it stops early, and says so). */
  readonly phaseSeconds: number;
  /** Room sockets authenticated, joins and rotations measured one at a time (each). */
  readonly exchanges: number;
  /** Concurrent members joining and leaving one room. */
  readonly roomClients: number;
  /** Joins of the room phase at most. */
  readonly roomJoins: number;
}

export const USAGE = `usage: npm run bench:control -- [options]
  --json               print one JSON object instead of tables
  --quick              smoke run: few requests of each kind
  --logins N           logins measured one at a time (default 50, at least --clients)
  --refreshes N        refreshes measured one at a time (default 300)
  --verifications N    GET /v1/me and GET /healthz requests measured one at a time (default 1000)
  --clients N          concurrent clients of the latency phases (default 50)
  --load-requests N    requests per latency phase (default 3000)
  --exchanges N        room authentications, joins and rotations measured one at a time (default 200)
  --room-clients N     concurrent members joining and leaving one room (default 20)
  --room-joins N       joins of that phase at most (default 1000)
  --phase-seconds N    upper bound of every phase, seconds (default 90)`;

function fail(message: string): never {
  console.error(`bench:control: ${message}\n${USAGE}`);
  process.exit(2);
}

function whole(text: string | undefined, fallback: number, name: string, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) fail(`--${name} must be a whole number from ${min} to ${max}`);
  return value;
}

export function parseControlBenchOptions(argv: readonly string[]): ControlBenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        json: { type: 'boolean', default: false },
        quick: { type: 'boolean', default: false },
        logins: { type: 'string' },
        refreshes: { type: 'string' },
        verifications: { type: 'string' },
        clients: { type: 'string' },
        'load-requests': { type: 'string' },
        'phase-seconds': { type: 'string' },
        exchanges: { type: 'string' },
        'room-clients': { type: 'string' },
        'room-joins': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const clients = whole(values.clients, quick ? 10 : 50, 'clients', 1, 200);
  return {
    json: values.json === true,
    clients,
    logins: Math.max(clients, whole(values.logins, quick ? 10 : 50, 'logins', 1, 1000)),
    refreshes: whole(values.refreshes, quick ? 50 : 300, 'refreshes', 10, 100_000),
    verifications: whole(values.verifications, quick ? 100 : 1000, 'verifications', 10, 100_000),
    loadRequests: whole(values['load-requests'], quick ? 300 : 3000, 'load-requests', 10, 1_000_000),
    phaseSeconds: whole(values['phase-seconds'], quick ? 30 : 90, 'phase-seconds', 5, 3600),
    exchanges: whole(values.exchanges, quick ? 20 : 200, 'exchanges', 5, 100_000),
    roomClients: whole(values['room-clients'], quick ? 5 : 20, 'room-clients', 1, 200),
    roomJoins: whole(values['room-joins'], quick ? 50 : 1000, 'room-joins', 10, 1_000_000),
  };
}
