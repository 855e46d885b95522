/**
 * Bindings the control-plane Worker receives as `env`, declared in wrangler.toml.
 *
 * Durable Objects (presence), the libSQL client and secrets arrive with their own issues;
 * add each one here and in wrangler.toml together.
 */
export interface ControlBindings {
  /** "development" from wrangler.toml [vars]; production overrides it at deploy time. */
  readonly PARLEY_ENV: string;
  /**
   * The libSQL database, reached over HTTP with @libsql/client/web: Turso's libsql://… or
   * https://… URL in production (a secret), the local libSQL server (control/dev/libsql-server)
   * in development and tests.
   */
  readonly LIBSQL_URL?: string;
  /** Bearer token for LIBSQL_URL (a secret; `wrangler secret put LIBSQL_AUTH_TOKEN`). */
  readonly LIBSQL_AUTH_TOKEN?: string;
}
