/**
 * docs/protocol.md §5 is what a client in another language is written from: its message names,
 * examples, error codes, close codes, reasons and defaults must be the room's own
 * (control/src/room/room-messages.ts and the modules that hold the limits).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadControlConfig } from '../../../../control/src/config.js';
import { MESSAGE_RATE_LIMIT } from '../../../../control/src/room/message-rate-limit.js';
import { AUTH_TIMEOUT_MS, CONFIRM_TIMEOUT_MS, ROOM_CHECK_INTERVAL_MS, TOKEN_EXPIRY_NOTICE_MS } from '../../../../control/src/room/room-alarm.js';
import {
  CLIENT_MESSAGE_TYPES,
  CLOSE_CODES,
  MAX_MESSAGE_BYTES,
  MEMBER_LEFT_REASONS,
  parseClientMessage,
  ROOM_ERROR_CODES,
  RoomMessage,
} from '../../../../control/src/room/room-messages.js';

const doc = readFileSync(new URL('../../../../docs/protocol.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('## 5. Voice sessions (WSS)'), doc.indexOf('## 6. The relay'));
const subsection = (heading: string): string => {
  const start = section.indexOf(`### ${heading}`);
  if (start < 0) throw new Error(`§5 has no "${heading}"`);
  const end = section.indexOf('\n### ', start + 4);
  return section.slice(start, end < 0 ? undefined : end);
};
const backticked = (text: string): string[] => [...text.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!);
const roomTypes = RoomMessage.options.map((o) => o.shape.type.value);

describe('docs/protocol.md §5', () => {
  it('names exactly the messages each side sends', () => {
    const lists = subsection('5.3 Messages');
    const client = /Messages a client sends:\s+([^.]+)\./.exec(lists)?.[1];
    const room = /Messages the room sends:\s+([^.]+)\./.exec(lists)?.[1];
    expect(backticked(client ?? '').sort()).toEqual([...CLIENT_MESSAGE_TYPES].sort());
    expect(backticked(room ?? '').sort()).toEqual([...roomTypes].sort());
  });

  it('gives JSON examples the schemas accept, of both directions', () => {
    const blocks = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const checked = new Set<string>();
    for (const block of blocks) {
      const value = JSON.parse(block) as { type: string };
      // Elided values ("eyJ…", "usr_…") are for reading; everything else must be exact.
      if (block.includes('…') && CLIENT_MESSAGE_TYPES.includes(value.type as never)) continue;
      if (CLIENT_MESSAGE_TYPES.includes(value.type as never)) {
        const parsed = parseClientMessage(JSON.stringify(value));
        expect(parsed, block).toMatchObject({ ok: true });
      } else {
        const parsed = RoomMessage.safeParse(value);
        expect(parsed.success, `${block}: ${parsed.error?.message ?? ''}`).toBe(true);
      }
      checked.add(value.type);
    }
    expect([...checked].sort()).toEqual(['authenticated', 'error', 'key_confirmation', 'key_exchange_init', 'key_exchange_response', 'moderate', 'rekey_required', 'voice_moved', 'voice_ready']);
  });

  it('lists every error code, and no other', () => {
    const rows = [...subsection('5.12 Errors').matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    // The first match is the header row's `code`.
    expect(rows.slice(1)).toEqual([...ROOM_ERROR_CODES]);
  });

  it('lists every close code, and no other', () => {
    const rows = [...subsection('5.13 Close codes').matchAll(/^\| (\d{4}) \|/gm)].map((m) => Number(m[1]));
    expect(rows).toEqual(Object.values(CLOSE_CODES).sort((a, b) => a - b));
  });

  it('names every member_left reason', () => {
    const presence = subsection('5.6 Presence');
    const sentence = presence.slice(presence.indexOf("`member_left`'s\n`reason` is one of"), presence.indexOf('Events are sent'));
    const named = backticked(sentence).filter((word) => (MEMBER_LEFT_REASONS as readonly string[]).includes(word));
    expect(new Set(named)).toEqual(new Set(MEMBER_LEFT_REASONS));
  });

  it('states the defaults the code has', () => {
    const table = subsection('5.14 Timeouts and limits');
    const config = loadControlConfig({ PARLEY_ENV: 'test', LIBSQL_URL: 'http://127.0.0.1:1' });
    const row = (what: string): string => table.split('\n').find((line) => line.startsWith(`| ${what} |`)) ?? '';
    expect(row('first `authenticate`')).toContain(`| ${AUTH_TIMEOUT_MS / 1000} s |`);
    expect(row('pending exchange (`confirmBy`)')).toContain(`| ${CONFIRM_TIMEOUT_MS / 1000} s |`);
    expect(row('`token_expiring` notice')).toContain(`| ${TOKEN_EXPIRY_NOTICE_MS / 1000} s before`);
    expect(row('resume window')).toContain(`| ${config.voice.resumeWindowMs / 1000} s | \`VOICE_RESUME_WINDOW_SECONDS\``);
    expect(row('maximum key age')).toContain(`| ${config.voice.keyMaxAgeMs / 3_600_000} h | \`VOICE_KEY_MAX_AGE_SECONDS\``);
    const { ratePerSecond, burst, maxDrops, dropWindowMs } = MESSAGE_RATE_LIMIT;
    expect(row('messages per socket')).toContain(`| ${ratePerSecond}/s, bursts of ${burst}; closed after ${maxDrops} dropped in ${dropWindowMs / 1000} s |`);
    expect(row('message size')).toContain(`| ${MAX_MESSAGE_BYTES / 1024} KiB |`);
    expect(row('room alarm while sessions exist')).toContain(`| every ${ROOM_CHECK_INTERVAL_MS / 1000} s |`);
  });
});
