/**
 * Types for `env` and `exports` from "cloudflare:workers" (and `env` from "cloudflare:test").
 * Keep in step with wrangler.toml and src/bindings.ts.
 */
import type { ControlBindings } from './src/bindings.js';

declare global {
  namespace Cloudflare {
    interface Env extends ControlBindings {}
    interface GlobalProps {
      mainModule: typeof import('./src/index.js');
    }
  }
}
