/**
 * The voice part of `npm run bench:control`: what a channel's room (its Durable Object, in the
 * same workerd as the Worker) spends on the key exchange, and how many joins one room sustains.
 * The stack's relay is real: the room installs, rotates and revokes sessions on it over the
 * signed internal API (§8), so the wall times include that round trip while the CPU figures are
 * workerd's alone (the relay's is shown beside them).
 *
 * 1. One operation at a time, each phase `count` times within the phase's seconds:
 *    - authenticate: open the room's socket, `authenticate` (a minted token, §4.5), close — the
 *      floor under a join;
 *    - join and leave: authenticate, the exchange (§5.5: the room's X25519 key pair and
 *      agreement, the HKDF schedule of §3, both confirmations), the SSRC allocated, the relay
 *      chosen and the keys sealed and installed on it, `voice_ready`, then `leave` (revoked);
 *    - rotation: on sockets already in voice, `request_rekey` then a whole exchange whose keys
 *      are installed as a rotation (§5.8) — the exchange without the socket's authentication or
 *      the session's presence. Round robin over a few sockets (the per-socket message rate).
 *    - the floors under a rotation, on the same sockets: a `ping` with an id (one message each
 *      way), a `speaking` toggle (a member's change sent to the room, no relay call) and a `mute`
 *      toggle (the same with one signed relay call), so presence = speaking − ping and one relay
 *      call = mute − speaking.
 *    The exchange's CPU is the rotation's without its relay round trip (rotation − relay call,
 *    the definition), against the 2 ms target; a join's minus authenticate's is a second
 *    estimate.
 * 2. Joins a room sustains: `clients` concurrent members of one channel, each joining and
 *    leaving in a loop (so the room holds at most `clients` sessions), up to `joins` joins or the
 *    phase's seconds. Join latency is from opening the socket to `voice_ready`.
 * 3. Where an exchange's CPU goes: its crypto steps in this process (exchange-crypto.ts).
 */
import { performance } from 'node:perf_hooks';
import { processCpuMs } from '../../control/dev/local-stack/proc.js';
import { expectValue, type ControlClient } from './control-client.js';
import { cpuBetween, percentile, readCpu, type CpuReading, type MeasuredProcesses } from './measure.js';
import { measureExchangeCrypto, type ExchangeCryptoResult } from './exchange-crypto.js';
import { RoomAnswerError, RoomSocket } from './room-socket.js';

/** docs/performance.md: the room's CPU per key exchange should stay at or below this. */
export const EXCHANGE_CPU_TARGET_MS = 2;
/** Sockets the rotation phase takes turns on: each rotation is 4 messages, and a socket may send 20/s (§5.3). */
const ROTATION_SOCKETS = 8;
/** Messages a rotation's client sends: request_rekey, key_exchange_init, key_confirmation. */
const ROTATION_CLIENT_MESSAGES = 3;
/** §5.3: each socket may send 20 messages a second (the bench keeps to 80 % of it). */
const SOCKET_MESSAGES_PER_SECOND = 20 * 0.8;
/** The least time between operations of `messages` client messages each, round robin over ROTATION_SOCKETS. */
function spacingFor(messages: number): number {
  return (messages * 1000) / SOCKET_MESSAGES_PER_SECOND / ROTATION_SOCKETS;
}
/** §5.6: a member's speaking changes go out at most 5 a second; 8 sockets × 30 ms keeps each under it. */
const SPEAKING_SPACING_MS = 30;

export interface VoiceOptions {
  readonly controlUrl: string;
  readonly operatorKey: string;
  /** The relay process, whose CPU is shown beside workerd's. */
  readonly relayPid: number;
  readonly count: number;
  readonly clients: number;
  readonly joins: number;
  readonly phaseSeconds: number;
}

export interface VoiceSerialResult {
  readonly name: string;
  readonly operations: number;
  readonly cpu: CpuReading;
  readonly runtimeCpuMsPerOperation: number;
  readonly relayCpuMsPerOperation: number;
  readonly libsqlCpuMsPerOperation: number;
  readonly wallMsP50: number;
  readonly wallMsP99: number;
  /** Failures by the room's error code (none expected). */
  readonly failures: Readonly<Record<string, number>>;
  readonly stoppedBy: 'count' | 'time';
}

export interface RoomLoadResult {
  readonly clients: number;
  readonly joins: number;
  readonly seconds: number;
  readonly joinsPerSecond: number;
  readonly joinMsP50: number;
  readonly joinMsP99: number;
  readonly joinMsMax: number;
  readonly runtimeCpuMsPerJoin: number;
  readonly relayCpuMsPerJoin: number;
  readonly failures: Readonly<Record<string, number>>;
  readonly stoppedBy: 'count' | 'time';
}

export interface VoiceReport {
  readonly serial: readonly VoiceSerialResult[];
  /** Worker CPU of one exchange, from the rotation phase, ms. */
  readonly exchangeCpuMs: number;
  /** Worker CPU of a join beyond authenticating its socket (join and leave − authenticate), ms. */
  readonly joinBeyondAuthCpuMs: number;
  /** Worker CPU of one `ping` with an id answered by the room: a message each way, ms. */
  readonly messageFloorCpuMs: number;
  /** A member's change sent to the room's sockets (speaking toggle − ping), ms. */
  readonly presenceCpuMs: number;
  /** One signed call to the relay and its answer (mute toggle − speaking toggle), ms. */
  readonly relayCallCpuMs: number;
  /** The rotation without its relay round trip (rotation − relay call): the figure the 2 ms target is for, ms. */
  readonly exchangeWithoutRelayCallCpuMs: number;
  /**
   * What is left after the messages' floor as well (rotation − relay call − 3 × ping − presence):
   * the exchange's own work — key pair, agreement, schedule, confirmation, seal, the SSRC's
   * database round trip, storage — ms.
   */
  readonly exchangeBeyondFloorsCpuMs: number;
  readonly exchangeCpuTargetMs: number;
  /** The room's crypto steps of one exchange, CPU in this Node process. */
  readonly crypto: ExchangeCryptoResult;
  readonly load: RoomLoadResult;
  readonly failures: number;
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

function failureCode(error: unknown): string {
  if (error instanceof RoomAnswerError) return error.code;
  return error instanceof Error ? error.name : 'unknown';
}

function relayCpuMs(pid: number): number {
  return processCpuMs(pid) ?? Number.NaN;
}

/**
 * `spacingMs`: the least time from one operation's start to the next one's, for operations quick
 * enough to outrun a socket's message rate (§5.3) on their own (workerd idles at no CPU between).
 */
async function serial(name: string, options: VoiceOptions, workerd: MeasuredProcesses, op: (i: number) => Promise<void>, spacingMs = 0): Promise<VoiceSerialResult> {
  progress(`  ${name}: ${options.count}, one at a time…`);
  const wall: number[] = [];
  const failures: Record<string, number> = {};
  const deadline = performance.now() + options.phaseSeconds * 1000;
  const before = readCpu(workerd);
  const relayBefore = relayCpuMs(options.relayPid);
  let i = 0;
  for (; i < options.count && performance.now() < deadline; i++) {
    const started = performance.now();
    try {
      await op(i);
      wall.push(performance.now() - started);
      const idle = spacingMs - (performance.now() - started);
      if (idle > 0) await new Promise((resolve) => setTimeout(resolve, idle));
    } catch (error) {
      const code = failureCode(error);
      failures[code] = (failures[code] ?? 0) + 1;
    }
  }
  const cpu = cpuBetween(before, readCpu(workerd));
  return {
    name,
    operations: i,
    cpu,
    runtimeCpuMsPerOperation: cpu.runtimeMs / i,
    relayCpuMsPerOperation: (relayCpuMs(options.relayPid) - relayBefore) / i,
    libsqlCpuMsPerOperation: cpu.libsqlMs / i,
    wallMsP50: percentile(wall, 50),
    wallMsP99: percentile(wall, 99),
    failures,
    stoppedBy: i < options.count ? 'time' : 'count',
  };
}

async function join(controlUrl: string, channelId: string, token: string): Promise<RoomSocket> {
  const socket = await RoomSocket.authenticate(controlUrl, channelId, token);
  try {
    await socket.exchange();
  } catch (error) {
    await socket.close();
    throw error;
  }
  return socket;
}

export async function runVoicePhases(client: ControlClient, options: VoiceOptions, workerd: MeasuredProcesses): Promise<VoiceReport> {
  const channelId = expectValue('create a channel', await client.createChannel(options.operatorKey, 'bench:control voice')).id;
  const users = Math.max(options.clients, ROTATION_SOCKETS, 1);
  const tokens: string[] = [];
  for (let u = 0; u < users; u++) tokens.push(expectValue('mint a token', await client.mintToken(options.operatorKey, `bench-${u}`, channelId, 3600)).accessToken);
  const { controlUrl } = options;

  // Warm up every path once (modules, the room's first storage reads, the relay's first install).
  for (let i = 0; i < 5; i++) await (await join(controlUrl, channelId, tokens[0]!)).leave();
  const warm = await join(controlUrl, channelId, tokens[0]!);
  for (let i = 0; i < 3; i++) await warm.rotate();
  await warm.leave();

  const results: VoiceSerialResult[] = [];
  results.push(
    await serial('authenticate (the floor)', options, workerd, async (i) => {
      await (await RoomSocket.authenticate(controlUrl, channelId, tokens[i % users]!)).close();
    }),
  );
  results.push(
    await serial('join (exchange, relay install) and leave', options, workerd, async (i) => {
      await (await join(controlUrl, channelId, tokens[i % users]!)).leave();
    }),
  );
  const inVoice: RoomSocket[] = [];
  for (let s = 0; s < ROTATION_SOCKETS; s++) inVoice.push(await join(controlUrl, channelId, tokens[s]!));
  try {
    results.push(
      await serial('rotation: request_rekey and an exchange', options, workerd, async (i) => {
        await inVoice[i % ROTATION_SOCKETS]!.rotate();
      }, spacingFor(ROTATION_CLIENT_MESSAGES)),
    );
    // Two floors under a rotation's figure, on the same sockets in voice.
    results.push(
      await serial('ping with an id (the room answers: one message each way)', options, workerd, async (i) => {
        await inVoice[i % ROTATION_SOCKETS]!.ping();
      }, spacingFor(1)),
    );
    results.push(
      await serial('speaking toggle (presence to the room, no relay call)', options, workerd, async (i) => {
        await inVoice[i % ROTATION_SOCKETS]!.setSpeaking(Math.floor(i / ROTATION_SOCKETS) % 2 === 0);
      }, SPEAKING_SPACING_MS),
    );
    results.push(
      await serial('mute toggle (set_state: one relay call, presence to the room)', options, workerd, async (i) => {
        await inVoice[i % ROTATION_SOCKETS]!.setMuted(Math.floor(i / ROTATION_SOCKETS) % 2 === 0);
      }, spacingFor(1)),
    );
  } finally {
    await Promise.all(inVoice.map((s) => s.leave()));
  }

  progress(`  joins one room sustains: ${options.clients} concurrent members joining and leaving, up to ${options.joins} joins or ${options.phaseSeconds} s…`);
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let started = 0;
  const loadStart = performance.now();
  const deadline = loadStart + options.phaseSeconds * 1000;
  const before = readCpu(workerd);
  const relayBefore = relayCpuMs(options.relayPid);
  await Promise.all(
    Array.from({ length: options.clients }, async (_, c) => {
      while (started < options.joins && performance.now() < deadline) {
        started++;
        const at = performance.now();
        try {
          const socket = await join(controlUrl, channelId, tokens[c]!);
          latencies.push(performance.now() - at);
          await socket.leave();
        } catch (error) {
          const code = failureCode(error);
          failures[code] = (failures[code] ?? 0) + 1;
        }
      }
    }),
  );
  const seconds = (performance.now() - loadStart) / 1000;
  const cpu = cpuBetween(before, readCpu(workerd));
  const load: RoomLoadResult = {
    clients: options.clients,
    joins: latencies.length,
    seconds,
    joinsPerSecond: latencies.length / seconds,
    joinMsP50: percentile(latencies, 50),
    joinMsP99: percentile(latencies, 99),
    joinMsMax: Math.max(...latencies),
    runtimeCpuMsPerJoin: cpu.runtimeMs / latencies.length,
    relayCpuMsPerJoin: (relayCpuMs(options.relayPid) - relayBefore) / latencies.length,
    failures,
    stoppedBy: started < options.joins ? 'time' : 'count',
  };

  progress(`  the exchange's crypto steps in this process: ${options.count} of each…`);
  const crypto = await measureExchangeCrypto(options.count);

  const [auth, joinAndLeave, rotation, ping, speaking, mute] = results as [VoiceSerialResult, VoiceSerialResult, VoiceSerialResult, VoiceSerialResult, VoiceSerialResult, VoiceSerialResult];
  const ms = (r: VoiceSerialResult) => r.runtimeCpuMsPerOperation;
  const relayCall = ms(mute) - ms(speaking);
  const count = (f: Readonly<Record<string, number>>) => Object.values(f).reduce((a, b) => a + b, 0);
  return {
    serial: results,
    exchangeCpuMs: ms(rotation),
    joinBeyondAuthCpuMs: joinAndLeave.runtimeCpuMsPerOperation - auth.runtimeCpuMsPerOperation,
    messageFloorCpuMs: ms(ping),
    presenceCpuMs: ms(speaking) - ms(ping),
    relayCallCpuMs: relayCall,
    exchangeWithoutRelayCallCpuMs: ms(rotation) - relayCall,
    exchangeBeyondFloorsCpuMs: ms(rotation) - relayCall - ROTATION_CLIENT_MESSAGES * ms(ping) - (ms(speaking) - ms(ping)),
    exchangeCpuTargetMs: EXCHANGE_CPU_TARGET_MS,
    crypto,
    load,
    failures: results.reduce((sum, r) => sum + count(r.failures), 0) + count(failures),
  };
}
