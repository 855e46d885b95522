/**
 * The pure parts of the local stack (control/dev/local-stack/): the control plane's env file
 * and wrangler command line, the relay's announcement line, /proc/<pid>/stat parsing, and which
 * log lines npm start keeps out of the terminal. Processes and sockets: test/e2e/local-stack-*.
 */
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { envFileText, isRoutineHeartbeatLine, wranglerDevArguments } from '../../../control/dev/local-stack/control-plane-process.js';
import { lastTellingLine } from '../../../control/dev/local-stack/local-stack.js';
import { parseProcessStat, readProcessStat } from '../../../control/dev/local-stack/proc.js';
import { parseRelayAnnouncement, relayEnvironment } from '../../../control/dev/local-stack/stack-relay.js';

describe('the control plane env file', () => {
  it('round-trips through a dotenv parser, values taken literally', () => {
    const bindings = {
      LIBSQL_URL: 'http://127.0.0.1:8080',
      LIBSQL_AUTH_TOKEN: 'a-b_c=d$e#f',
      RELAY_CONTROL_KEYS: '{"k":{"relayId":"*","secret":"x"}}',
    };
    expect(parseEnv(envFileText(bindings))).toEqual(bindings);
  });

  it('refuses a name that is not NAME_LIKE_THIS and a value with a quote or a line break', () => {
    expect(() => envFileText({ 'lower-case': 'x' })).toThrow(RangeError);
    expect(() => envFileText({ A: "it's" })).toThrow(/quote or a line break/);
    expect(() => envFileText({ A: 'two\nlines' })).toThrow(/quote or a line break/);
    // The message names the variable, never the value.
    expect(() => envFileText({ SECRET: "s3cr'et" })).toThrow(/^(?!.*s3cr)/);
  });
});

describe('the wrangler dev command line', () => {
  const args = wranglerDevArguments({ port: 18787, inspectorPort: 19229, stateDir: '/tmp/stack' }, '/tmp/stack/control-plane.env');

  it('listens on loopback only, on the given ports, with state under the state directory', () => {
    const value = (flag: string) => args[args.indexOf(flag) + 1];
    expect(args[0]).toBe('dev');
    expect(value('--ip')).toBe('127.0.0.1');
    expect(value('--port')).toBe('18787');
    expect(value('--inspector-ip')).toBe('127.0.0.1');
    expect(value('--inspector-port')).toBe('19229');
    expect(value('--persist-to')).toBe('/tmp/stack/wrangler-state');
    expect(value('--env-file')).toBe('/tmp/stack/control-plane.env');
    expect(args).toContain('--show-interactive-dev-session=false');
  });

  it('carries no binding (a token on the command line would show in ps)', () => {
    expect(args).not.toContain('--var');
  });
});

describe('the relay announcement line', () => {
  it('parses the ports, and the boot id and public key when present', () => {
    const line = JSON.stringify({ parleyRelay: 'ready', udpPort: 40000, udpPorts: [40000, 40001], apiPort: 7400, metricsPort: 9091, bootId: 'b0', publicKey: 'pk' });
    expect(parseRelayAnnouncement(line)).toEqual({ udpPorts: [40000, 40001], apiPort: 7400, metricsPort: 9091, bootId: 'b0', publicKey: 'pk' });
    const old = JSON.stringify({ parleyRelay: 'ready', udpPort: 1, udpPorts: [1], apiPort: 2, metricsPort: 3 });
    expect(parseRelayAnnouncement(old)).toEqual({ udpPorts: [1], apiPort: 2, metricsPort: 3 });
  });

  it('ignores log lines, broken JSON and impossible ports', () => {
    expect(parseRelayAnnouncement('{"level":"info","msg":"listening"}')).toBeNull();
    expect(parseRelayAnnouncement('{"parleyRelay":"ready",')).toBeNull();
    expect(parseRelayAnnouncement(JSON.stringify({ parleyRelay: 'ready', udpPorts: [0], apiPort: 7400, metricsPort: 9091 }))).toBeNull();
    expect(parseRelayAnnouncement(JSON.stringify({ parleyRelay: 'ready', udpPorts: [40000], apiPort: 70000, metricsPort: 9091 }))).toBeNull();
    expect(parseRelayAnnouncement(JSON.stringify({ parleyRelay: 'ready', udpPorts: 'x', apiPort: 7400, metricsPort: 9091 }))).toBeNull();
  });
});

describe("the relay's environment", () => {
  const environment = relayEnvironment({
    repoRoot: '/repo',
    relayId: 'local-relay',
    controlPlaneUrl: 'http://127.0.0.1:8787',
    ports: { udp: 40000, api: 7400, metrics: 9091 },
    environment: { PARLEY_ENV: 'production', HOME: '/root' },
    relayEnvironment: { RELAY_HEARTBEAT_INTERVAL_MS: '500' },
    logFile: '/dev/null',
  });

  it('is development on loopback, registering with the stack control plane', () => {
    expect(environment).toMatchObject({
      PARLEY_ENV: 'development',
      RELAY_ID: 'local-relay',
      RELAY_UDP_HOST: '127.0.0.1',
      RELAY_API_HOST: '127.0.0.1',
      RELAY_METRICS_HOST: '127.0.0.1',
      CONTROL_PLANE_URL: 'http://127.0.0.1:8787/',
      RELAY_ANNOUNCE_PORTS: 'true',
      RELAY_HEARTBEAT_INTERVAL_MS: '500',
      HOME: '/root',
    });
  });
});

describe('/proc/<pid>/stat', () => {
  it('parses a command name with spaces and parentheses', () => {
    // Field layout of proc(5); the command name may hold ") (" itself.
    const text = '4242 (we ird) (name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 987654 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n';
    expect(parseProcessStat(4242, text)).toEqual({
      pid: 4242,
      command: 'we ird) (name',
      state: 'S',
      parentPid: 1,
      processGroup: 4242,
      userTicks: 250,
      systemTicks: 75,
      startTicks: 987654,
    });
    expect(parseProcessStat(1, 'garbage')).toBeNull();
    expect(parseProcessStat(1, '1 (x) S 1 2')).toBeNull();
  });

  it('reads this process', () => {
    const stat = readProcessStat(process.pid);
    expect(stat?.pid).toBe(process.pid);
    expect(stat?.parentPid).toBe(process.ppid);
    expect(readProcessStat(2 ** 30)).toBeNull();
  });
});

describe('log lines npm start keeps out of the terminal', () => {
  it('are successful heartbeats only', () => {
    expect(isRoutineHeartbeatLine('[wrangler:info] POST /internal/relays/heartbeat 200 OK (12ms)')).toBe(true);
    expect(isRoutineHeartbeatLine('{"level":"info","event":"request","method":"POST","route":"/internal/relays/heartbeat","status":200,"durationMs":3}')).toBe(true);
    expect(isRoutineHeartbeatLine('[wrangler:info] POST /internal/relays/heartbeat 401 Unauthorized (3ms)')).toBe(false);
    expect(isRoutineHeartbeatLine('{"level":"info","event":"request","method":"POST","route":"/internal/relays/heartbeat","status":404,"durationMs":3}')).toBe(false);
    expect(isRoutineHeartbeatLine('[wrangler:info] POST /internal/relays/register 200 OK (12ms)')).toBe(false);
  });
});

describe('the "still waiting" line', () => {
  it("quotes the child's last line that says something, not a rule or a row of wrangler's bindings table", () => {
    const wrangler = [
      '⛅️ wrangler 4.86.0',
      'Your Worker has access to the following bindings:',
      '┌──────────────────┬──────────────────────┬───────┐',
      '│ Binding          │ Resource             │ Mode  │',
      '│ env.LIBSQL_URL   │ Environment Variable │ local │',
      '└──────────────────┴──────────────────────┴───────┘',
      '',
    ];
    expect(lastTellingLine(wrangler)).toBe('Your Worker has access to the following bindings:');
    expect(lastTellingLine([...wrangler, '[wrangler:info] Ready on http://127.0.0.1:8787'])).toBe('[wrangler:info] Ready on http://127.0.0.1:8787');
    expect(lastTellingLine([])).toBe('no output yet');
    expect(lastTellingLine(['x'.repeat(150)])).toHaveLength(100);
  });
});
