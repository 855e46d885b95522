/**
 * What a client reads from the voice socket (docs/protocol.md §5): lenient where the room may
 * add (fields, codes, reasons, message types), strict where the client relies on a value.
 */
import { describe, expect, it } from 'vitest';
import { closeEndsSession, encodeClientMessage, parseRoomMessage, RoomMessageError } from '../../../shared/client/voice-messages.js';

const member = { subject: 'usr_a', name: 'alice', ssrc: 305419896, muted: false, deafened: false, speaking: false, serverMuted: false, connection: 'connected' };
const key = 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo';

describe('parseRoomMessage', () => {
  it('reads §5.5 voice_ready as the section shows it', () => {
    const text = JSON.stringify({
      type: 'voice_ready',
      purpose: 'join',
      sessionId: 'vs_n4k2',
      relayId: 'relay-fra-1',
      udpEndpoint: { host: '203.0.113.7', port: 40001 },
      ssrc: 305419896,
      profile: 'aes128gcm',
      keysExpireAt: 1796158120000,
      serverConfirmation: key,
      resumeToken: key,
      resumeWindowMs: 30000,
    });
    expect(parseRoomMessage(text)).toMatchObject({ type: 'voice_ready', udpEndpoint: { port: 40001 }, ssrc: 305419896 });
  });

  it('keeps working when the room adds a field, a reason or a connection state', () => {
    expect(parseRoomMessage(JSON.stringify({ type: 'member_joined', member: { ...member, connection: 'away', avatar: 'x' }, extra: 1 }))).toMatchObject({ type: 'member_joined', member: { connection: 'away' } });
    expect(parseRoomMessage(JSON.stringify({ type: 'member_left', subject: 'usr_a', reason: 'a_new_reason' }))).toMatchObject({ reason: 'a_new_reason' });
    expect(parseRoomMessage(JSON.stringify({ type: 'error', code: 'a_new_code', message: 'm' }))).toMatchObject({ code: 'a_new_code' });
  });

  it('ignores a message type it does not know', () => {
    expect(parseRoomMessage(JSON.stringify({ type: 'something_new', a: 1 }))).toBeNull();
    expect(parseRoomMessage(JSON.stringify({ notype: true }))).toBeNull();
  });

  it('refuses what it relies on when it is wrong, naming the field and not the value', () => {
    const bad = [
      [{ type: 'member_joined', member: { ...member, ssrc: 2 ** 32 } }, 'member.ssrc'],
      [{ type: 'member_joined', member: { ...member, ssrc: -1 } }, 'member.ssrc'],
      [{ type: 'key_exchange_response', purpose: 'join', protocolVersion: 1, sessionId: 's', userId: 'u', channelId: 'c', relayId: 'r', ssrc: 1, profile: 'aes128gcm', serverPublicKey: `${key.slice(0, 42)}B`, confirmBy: 1 }, 'serverPublicKey'],
      [{ type: 'key_exchange_response', purpose: 'join', protocolVersion: 1, sessionId: 's', userId: 'u', channelId: 'c', relayId: 'r', ssrc: 1, profile: 'rot13', serverPublicKey: key, confirmBy: 1 }, 'profile'],
      [{ type: 'voice_ready', purpose: 'join', sessionId: 's', relayId: 'r', udpEndpoint: { host: 'h', port: 0 }, ssrc: 1, profile: 'aes128gcm', keysExpireAt: 1, serverConfirmation: key, resumeToken: key, resumeWindowMs: 1 }, 'udpEndpoint.port'],
    ] as const;
    for (const [message, field] of bad) {
      let caught: unknown;
      try {
        parseRoomMessage(JSON.stringify(message));
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(RoomMessageError);
      expect((caught as RoomMessageError).field).toBe(field);
      expect((caught as RoomMessageError).message).not.toContain('rot13');
    }
    expect(() => parseRoomMessage('not json')).toThrow(RoomMessageError);
    expect(() => parseRoomMessage('[1]')).toThrow(RoomMessageError);
  });
});

describe('encodeClientMessage', () => {
  it('writes exactly the message (the room refuses extra fields)', () => {
    expect(JSON.parse(encodeClientMessage({ type: 'key_exchange_init', clientPublicKey: key, profile: 'aes128gcm', id: 'kx1' }))).toEqual({ type: 'key_exchange_init', clientPublicKey: key, profile: 'aes128gcm', id: 'kx1' });
    expect(encodeClientMessage({ type: 'leave' })).toBe('{"type":"leave"}');
  });
});

describe('closeEndsSession (§5.13)', () => {
  it('reconnects on 1001, 1006, 1011 and ends on 1000, 1008, 1009 and every 4xxx', () => {
    for (const code of [1001, 1006, 1011, 1012]) expect(closeEndsSession(code)).toBe(false);
    for (const code of [1000, 1008, 1009, 4001, 4002, 4003, 4004, 4005, 4006, 4007, 4008, 4009]) expect(closeEndsSession(code)).toBe(true);
  });
});
