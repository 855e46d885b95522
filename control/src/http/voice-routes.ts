/**
 * GET /v1/channels/{channelId}/voice: the WebSocket of the channel's voice room
 * (docs/protocol.md §5.2). The route checks what it can without knowing who is calling — the
 * channel id's form, that this is a WebSocket upgrade, the browser origin — and hands the
 * request to the channel's room (one Durable Object per channel, room/channel-room.ts), which
 * authenticates the first message on the socket. The access token never travels in the URL.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { idPattern } from '../ids.js';
import { isOriginAllowed } from '../room/origin-policy.js';
import { clientLocationFrom } from '../relays/relay-selection.js';
import { ROOM_CHANNEL_HEADER, ROOM_LOCATION_HEADER } from '../room/channel-room.js';
import { ApiError, errorResponses } from './errors.js';
import { createRouter } from './router.js';

const VoiceParams = z.object({
  channelId: z
    .string()
    .regex(idPattern('chn'), 'must be a channel id (chn_ and 26 of a-z, 2-7)')
    .openapi({ param: { name: 'channelId', in: 'path' }, example: 'chn_7q2vxk4m3n5p6r7s2t3u4v5w6x' }),
});

const voiceRoute = createRoute({
  method: 'get',
  path: '/v1/channels/{channelId}/voice',
  tags: ['voice'],
  summary: "Open the channel's voice room as a WebSocket; authenticate with the first message (docs/protocol.md §5)",
  request: { params: VoiceParams },
  responses: {
    101: { description: 'Switching protocols: the socket is open; send `authenticate` within 5 s' },
    ...errorResponses(
      [400, 'validation_failed (field channelId): not a channel id'],
      [403, 'forbidden: a browser Origin that is not allowed (VOICE_ALLOWED_ORIGINS)'],
      [426, 'upgrade_required: not a WebSocket upgrade'],
    ),
  },
});

export function voiceRoutes() {
  return createRouter().openapi(voiceRoute, async function openVoiceSocket(c) {
    const { channelId } = c.req.valid('param');
    if (c.req.header('Upgrade')?.toLowerCase() !== 'websocket') throw new ApiError('upgrade_required');
    if (!isOriginAllowed(c.req.header('Origin'), c.var.config.voice)) {
      c.var.log.write('info', 'voice_origin_refused', {});
      throw new ApiError('forbidden', { message: 'This origin may not open voice sockets.' });
    }
    const headers = new Headers(c.req.raw.headers);
    headers.set(ROOM_CHANNEL_HEADER, channelId);
    // Where the client is, for the channel's relay if it needs one (relays/relay-selection.ts).
    const location = clientLocationFrom(c.req.raw.cf);
    headers.set(ROOM_LOCATION_HEADER, JSON.stringify(location.kind === 'coordinates' ? { latitude: location.latitude, longitude: location.longitude } : location.kind === 'continent' ? { continent: location.continent } : {}));
    const room = c.env.CHANNEL_ROOM.get(c.env.CHANNEL_ROOM.idFromName(channelId));
    // The 101 response with its WebSocket goes back as the room made it.
    return (await room.fetch(new Request(c.req.raw, { headers }))) as never;
  });
}
