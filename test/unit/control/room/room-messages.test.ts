/**
 * What a client may send a room (docs/protocol.md §5.3), refused with the field named and
 * never the value; case 22 for the WebSocket: malformed JSON, unknown types, wrong field types.
 */
import { describe, expect, it } from 'vitest';
import { parseClientMessage, RoomMessage } from '../../../../control/src/room/room-messages.js';

const KEY = 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo';

describe('parseClientMessage', () => {
  it('accepts every message type of §5 in its documented form', () => {
    const messages = [
      { type: 'authenticate', token: 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln' },
      { type: 'authenticate', id: '1', token: 'a.b.c', resume: { sessionId: 'vs_aaaaaaaaaaaaaaaaaaaaaaaaaa', resumeToken: KEY } },
      { type: 'key_exchange_init', clientPublicKey: KEY, profile: 'aes256gcm', muted: true },
      { type: 'key_confirmation', clientConfirmation: KEY },
      { type: 'set_state', muted: true },
      { type: 'set_state', deafened: false },
      { type: 'speaking', speaking: true },
      { type: 'moderate', action: 'kick', subject: 'usr_aaaaaaaaaaaaaaaaaaaaaaaaaa', reason: 'spam' },
      { type: 'moderate', action: 'ban', subject: 'ak_aaaaaaaaaaaaaaaaaaaaaaaaaa:user-42' },
      { type: 'leave' },
      { type: 'ping', id: 'p' },
    ];
    for (const message of messages) expect(parseClientMessage(JSON.stringify(message)), JSON.stringify(message)).toEqual({ ok: true, message });
  });

  it.each([
    ['not JSON', '{"type":', 'invalid_message', undefined],
    ['an array', '[1]', 'invalid_message', undefined],
    ['a number type', '{"type":1}', 'invalid_message', 'type'],
    ['an unknown type', '{"type":"join_voice"}', 'unknown_type', 'type'],
    ['a missing field', '{"type":"authenticate"}', 'invalid_message', 'token'],
    ['an extra field', '{"type":"leave","now":true}', 'invalid_message', 'now'],
    ['a key of the wrong length', '{"type":"key_exchange_init","clientPublicKey":"AAAA"}', 'invalid_message', 'clientPublicKey'],
    ['a key whose last character has bits set', `{"type":"key_exchange_init","clientPublicKey":"${KEY.slice(0, 42)}p"}`, 'invalid_message', 'clientPublicKey'],
    ['an unknown profile', `{"type":"key_exchange_init","clientPublicKey":"${KEY}","profile":"null"}`, 'invalid_message', 'profile'],
    ['a string boolean', '{"type":"speaking","speaking":"yes"}', 'invalid_message', 'speaking'],
    ['set_state changing nothing', '{"type":"set_state"}', 'invalid_message', 'muted'],
    ['a malformed resume session id', `{"type":"authenticate","token":"a.b.c","resume":{"sessionId":"ses_1","resumeToken":"${KEY}"}}`, 'invalid_message', 'resume.sessionId'],
    ['an unknown action', '{"type":"moderate","action":"shout","subject":"usr_aaaaaaaaaaaaaaaaaaaaaaaaaa"}', 'invalid_message', 'action'],
    ['a subject with a space', '{"type":"moderate","action":"kick","subject":"usr_a b"}', 'invalid_message', 'subject'],
  ])('refuses %s', (_name, text, code, field) => {
    const parsed = parseClientMessage(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.refusal.code).toBe(code);
    expect(parsed.refusal.field).toBe(field);
  });

  it('names the field but never repeats the value, and echoes a well-formed id as replyTo', () => {
    const secret = 'eyJhbGciOiJFZERTQSJ9.secret part.sig';
    const parsed = parseClientMessage(JSON.stringify({ type: 'authenticate', id: 'req-7', token: secret }));
    expect(parsed).toMatchObject({ ok: false, refusal: { code: 'invalid_message', field: 'token', replyTo: 'req-7' } });
    expect(JSON.stringify(parsed)).not.toContain('secret part');
    const oddKey = parseClientMessage(JSON.stringify({ type: 'leave', 'eyJ token here': 1 }));
    expect(oddKey).toMatchObject({ ok: false, refusal: { code: 'invalid_message', message: 'The message has an unknown field.' } });
    expect(JSON.stringify(oddKey)).not.toContain('token here');
  });

  it('the room messages documented in §5 satisfy the room schemas', () => {
    expect(RoomMessage.safeParse({ type: 'member_left', subject: 'usr_x', reason: 'kicked' }).success).toBe(true);
    expect(RoomMessage.safeParse({ type: 'error', code: 'rate_limited', message: 'x' }).success).toBe(true);
    expect(RoomMessage.safeParse({ type: 'error', code: 'nonsense', message: 'x' }).success).toBe(false);
  });
});
