/**
 * Case 23 of ../shared/ABUSE-CASES.md, end to end over real processes on loopback (the local
 * libSQL server, the control plane in `wrangler dev`, a real relay that registered): with the
 * control plane unreachable mid-call, the call already running keeps flowing on the relay
 * (media never touches the control plane, docs/protocol.md §5.9); a new join fails closed (no
 * keys, no relay session); nothing crosses the wire in plaintext.
 *
 * First the database goes (the libSQL server stopped: the Worker is up, every query fails),
 * then the control plane itself (wrangler dev stopped). Keys expire at `keysExpireAt` (an hour
 * and five minutes by default): the test does not wait for that.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VoiceError } from '../../packages/client/src/errors.js';
import { startClientTestStack, type ClientTestStack } from '../support/client-stack.js';
import { repeatedSrtpIndices } from '../support/udp-capture-nat.js';
import { FRAME_MARKER, keepTalking, recordHeard, signedUp, startCapturedRelay, stopVoiceStack, voiceStackParts, type Heard } from '../support/voice-stack.js';

let stack: ClientTestStack;
const parts = voiceStackParts();

beforeAll(async () => {
  stack = await startClientTestStack();
}, 180_000);

afterAll(async () => {
  await stopVoiceStack(parts);
  await stack?.stop();
}, 60_000);

/** Frames heard from `subject` after `since`. */
const heardFrom = (heard: readonly Heard[], subject: string, since: number) => heard.filter((h) => h.at > since && h.frame.subject === subject).length;

describe('case 23: the control plane unreachable mid-call', () => {
  it('case 23: the running call keeps flowing on the relay with the database down and then the control plane stopped; new joins fail closed; no plaintext', async () => {
    const captured = await startCapturedRelay(stack, parts, 'e2e-case23-relay');
    const aliceClient = await signedUp(stack, parts, 'alice');
    const bobClient = await signedUp(stack, parts, 'bob');
    const carolClient = await signedUp(stack, parts, 'carol');
    const channel = await aliceClient.channels.create({ name: 'case 23', visibility: 'open' });
    await bobClient.channels.join(channel.id);
    await carolClient.channels.join(channel.id);
    const alice = await aliceClient.joinVoice(channel.id);
    parts.sessions.push(alice);
    const bob = await bobClient.joinVoice(channel.id);
    parts.sessions.push(bob);
    const heardByAlice = recordHeard(alice);
    const heardByBob = recordHeard(bob);
    const closed: string[] = [];
    alice.on('closed', (reason) => closed.push(`alice ${reason.kind}`));
    bob.on('closed', (reason) => closed.push(`bob ${reason.kind}`));
    const stopTalking = keepTalking([alice, bob]);
    try {
      await expect.poll(() => heardFrom(heardByAlice, bob.subject, 0) > 10 && heardFrom(heardByBob, alice.subject, 0) > 10, { timeout: 10_000 }).toBe(true);

      // 1. The database goes: the Worker answers, every query fails.
      await stack.libsql.close();
      const dbDownAt = performance.now();
      const joining = performance.now();
      const refused = await carolClient.joinVoice(channel.id, { stepTimeoutMs: 10_000 }).then(
        (session) => {
          parts.sessions.push(session);
          return null;
        },
        (error: unknown) => error,
      );
      console.log(`case 23: with the database down a new join failed after ${(performance.now() - joining).toFixed(0)} ms: ${refused instanceof Error ? `${refused.name} ${(refused as VoiceError).code ?? ''}` : 'it joined'}`);
      expect(refused).toBeInstanceOf(Error);
      // 3 s more of the call, both ways.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect(heardFrom(heardByAlice, bob.subject, dbDownAt)).toBeGreaterThan(50);
      expect(heardFrom(heardByBob, alice.subject, dbDownAt)).toBeGreaterThan(50);
      // The relay holds the two sessions of the call and nothing for the refused join.
      const during = await captured.relay.api.listSessions();
      expect(during.sessions.map((s) => s.ssrcs[0]).sort()).toEqual([alice.ssrc, bob.ssrc].sort());

      // 2. The control plane goes too (wrangler dev stopped: the room's sockets drop).
      await stack.stop();
      const controlDownAt = performance.now();
      await expect(carolClient.joinVoice(channel.id, { stepTimeoutMs: 5_000 })).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect(heardFrom(heardByAlice, bob.subject, controlDownAt)).toBeGreaterThan(50);
      expect(heardFrom(heardByBob, alice.subject, controlDownAt)).toBeGreaterThan(50);
      expect(closed).toEqual([]);
      expect((await captured.relay.api.listSessions()).sessions).toHaveLength(2);
      console.log(
        `case 23: after the database stopped alice heard ${heardFrom(heardByAlice, bob.subject, dbDownAt)} frames of bob, bob ${heardFrom(heardByBob, alice.subject, dbDownAt)} of alice; after the control plane stopped ${heardFrom(heardByAlice, bob.subject, controlDownAt)} and ${heardFrom(heardByBob, alice.subject, controlDownAt)}`,
      );
    } finally {
      stopTalking();
    }
    expect(repeatedSrtpIndices(captured.nat.captured)).toEqual([]);
    expect(captured.nat.captured.filter((d) => d.bytes.includes(FRAME_MARKER))).toEqual([]);
  }, 120_000);
});
