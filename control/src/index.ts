/**
 * Cloudflare Workers entry point of the Parley control plane (see wrangler.toml `main`): the
 * HTTP app and the Durable Object classes wrangler.toml binds.
 */
import { createControlApp } from './app.js';
import type { ControlBindings } from './bindings.js';

export { AuthThrottle } from './auth/throttle-object.js';
export { ChannelRoom } from './room/channel-room.js';

const app = createControlApp();

export default {
  fetch(request, env, ctx) {
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<ControlBindings>;
