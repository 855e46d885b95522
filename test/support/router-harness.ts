/**
 * The relay's packet path in one object for unit tests: a SessionRegistry, a DatagramRouter on a
 * recording sink, counters, and a clock the test moves. Clients are real ClientMediaSessions, so
 * everything the relay sends is opened with the keys a client holds.
 */
import { DatagramRouter, type DatagramSink, type RouterOptions } from '../../relay/src/media/datagram-router.js';
import { createTallyCounters, type TallyCounters } from '../../relay/src/media/packet-counters.js';
import type { RemoteAddress } from '../../relay/src/media/relay-session.js';
import { SessionRegistry, type RegistryLimits } from '../../relay/src/media/session-registry.js';
import { nodeCryptoBackend } from '../../shared/srtp/backends/node-crypto.js';
import type { ReceivedMedia } from '../../shared/client/media-session.js';
import { makeMember, TEST_LIMITS, type TestMember } from './relay-fixtures.js';

export interface Sent {
  readonly datagram: Uint8Array;
  readonly to: RemoteAddress;
}

export class RecordingSink implements DatagramSink {
  readonly sent: Sent[] = [];
  send(datagram: Uint8Array, to: RemoteAddress): void {
    this.sent.push({ datagram: Uint8Array.from(datagram), to });
  }
  take(): Sent[] {
    return this.sent.splice(0);
  }
}

export const addr = (port: number, address = '127.0.0.1'): RemoteAddress => ({ address, port });

export const token = (n: number): Uint8Array => Uint8Array.of(0, 0, 0, 0, 0, 0, 0, n);

export class RouterHarness {
  clock = 1_000_000;
  readonly registry: SessionRegistry;
  readonly sink = new RecordingSink();
  readonly counters: TallyCounters = createTallyCounters();
  readonly router: DatagramRouter;

  constructor(limits: RegistryLimits = TEST_LIMITS, options: Partial<RouterOptions> = {}) {
    this.registry = new SessionRegistry(limits, nodeCryptoBackend);
    const routerOptions: RouterOptions = { maxDatagramBytes: 1500, timingSampleEvery: 1, ...options };
    this.router = new DatagramRouter(this.registry, this.sink, this.counters, routerOptions, () => this.clock);
  }

  /** A member of `channelId` with fresh keys, installed. */
  install(sessionId: string, channelId = 'room', overrides: Parameters<typeof makeMember>[2] = {}): TestMember {
    const member = makeMember(sessionId, channelId, overrides, this.clock);
    this.registry.install(member.spec, this.clock);
    return member;
  }

  handle(datagram: Uint8Array, from: RemoteAddress): void {
    this.router.handle(datagram, from);
  }

  take(): Sent[] {
    return this.sink.take();
  }

  /**
   * What a client does at join or after moving: a keepalive from `from`, then the answer to the
   * relay's challenge. Returns everything the relay sent meanwhile.
   */
  prove(member: TestMember, from: RemoteAddress): Sent[] {
    this.handle(member.client.protectKeepalive(token(0)), from);
    const replies = this.take();
    for (const reply of replies) {
      const opened = member.client.open(reply.datagram);
      if (opened.kind === 'pong' && opened.echoNow) this.handle(member.client.protectKeepalive(token(0)), from);
    }
    const answers = this.take();
    for (const answer of answers) member.client.open(answer.datagram); // the newest cookie, for the next keepalive
    return [...replies, ...answers];
  }

  /** Installed members, each proved at port firstPort + its position. */
  join(count: number, firstPort = 50000, overrides: Array<Parameters<typeof makeMember>[2]> = []): TestMember[] {
    return Array.from({ length: count }, (_, i) => {
      const member = this.install(`s${i}`, 'room', overrides[i] ?? {});
      this.prove(member, addr(firstPort + i));
      return member;
    });
  }

  /** What `member` opens of the datagrams sent to `to`: every one must authenticate. */
  openAll(member: TestMember, sent: readonly Sent[], to: RemoteAddress): ReceivedMedia[] {
    return sent.filter((s) => s.to.port === to.port && s.to.address === to.address).map((s) => member.client.open(s.datagram));
  }

  drops(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.counters.tally.dropped).filter(([, n]) => n > 0));
  }
}
