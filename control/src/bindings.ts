/**
 * Bindings the control-plane Worker receives as `env`, declared in wrangler.toml.
 *
 * Durable Objects (presence), the libSQL client and secrets arrive with their own issues;
 * add each one here and in wrangler.toml together.
 */
export interface ControlBindings {
  /** "development" from wrangler.toml [vars]; production overrides it at deploy time. */
  readonly PARLEY_ENV: string;
}
