/**
 * Bindings the control-plane Worker receives as `env`: wrangler.toml [vars], secrets
 * (`wrangler secret put`), and Durable Object namespaces. config.ts reads and checks the
 * variables; the README lists every secret with its `wrangler secret put` command.
 */
import type { AuthThrottle } from './auth/throttle-object.js';

export interface ControlBindings {
  /** "development" (wrangler.toml [vars]), "test" (vitest) or "production" ([env.production]). */
  readonly PARLEY_ENV: string;

  // Database: Turso in production, the local libSQL server in development (npm start) and tests.
  readonly LIBSQL_URL?: string;
  readonly LIBSQL_AUTH_TOKEN?: string;

  // Access tokens (secrets): `<kid>:<base64url Ed25519 seed>`; the previous key during a rotation.
  readonly JWT_SIGNING_KEY?: string;
  readonly JWT_PREVIOUS_KEY?: string;
  readonly JWT_PREVIOUS_KEY_ACCEPTED_UNTIL?: string;
  readonly JWT_ISSUER?: string;
  readonly JWT_AUDIENCE?: string;
  readonly ACCESS_TOKEN_TTL_SECONDS?: string;

  // Refresh tokens.
  readonly REFRESH_TOKEN_SECRET?: string;
  readonly REFRESH_TOKEN_TTL_SECONDS?: string;
  readonly LOGIN_TTL_SECONDS?: string;
  readonly REFRESH_RETRY_GRACE_SECONDS?: string;

  // Password hashing (Argon2id); production refuses less than OWASP's m = 19456 KiB, t = 2.
  readonly PASSWORD_HASH_MEMORY_KIB?: string;
  readonly PASSWORD_HASH_ITERATIONS?: string;

  // Login and registration throttles: the Durable Object that keeps their counts
  // (wrangler.toml [[durable_objects.bindings]]), and their policies.
  readonly AUTH_THROTTLE?: DurableObjectNamespace<AuthThrottle>;
  readonly THROTTLE_LOGIN_PER_ACCOUNT_FREE_ATTEMPTS?: string;
  readonly THROTTLE_LOGIN_PER_ADDRESS_FREE_ATTEMPTS?: string;
  readonly THROTTLE_REGISTER_PER_ADDRESS_FREE_ATTEMPTS?: string;
  readonly THROTTLE_BASE_DELAY_MS?: string;
  readonly THROTTLE_MAX_DELAY_MS?: string;
  readonly THROTTLE_FORGET_AFTER_MS?: string;

  readonly APP_TOKEN_MAX_TTL_SECONDS?: string;
  readonly CHANNEL_DEFAULT_MEMBER_LIMIT?: string;
  readonly CHANNEL_MAX_MEMBER_LIMIT?: string;

  // Relays: the keys relays sign register/heartbeat with (JSON), the key we sign requests to
  // relays with, and when a silent relay counts as dead.
  readonly RELAY_CONTROL_KEYS?: string;
  readonly RELAY_API_KEY?: string;
  readonly RELAY_DEAD_AFTER_SECONDS?: string;

  // Voice rooms (docs/protocol.md §5): browser origins allowed to open a voice socket, the
  // resume window, the maximum key age; and the Durable Object namespace of the rooms.
  readonly VOICE_ALLOWED_ORIGINS?: string;
  readonly VOICE_RESUME_WINDOW_SECONDS?: string;
  readonly VOICE_KEY_MAX_AGE_SECONDS?: string;
  readonly CHANNEL_ROOM: DurableObjectNamespace<import('./room/channel-room.js').ChannelRoom>;
}
