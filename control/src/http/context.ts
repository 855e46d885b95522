/**
 * What every request handler can reach through `c.var` (set by app.ts middleware).
 */
import type { ControlBindings } from '../bindings.js';
import type { ControlConfig } from '../config.js';
import type { Database } from '../db/client.js';
import type { RequestLog } from './request-log.js';
import type { Principal } from '../auth/principal.js';
import type { AppKeyCaller } from '../auth/app-keys.js';
import type { PasswordHasher } from '../auth/passwords.js';

export interface ControlVariables {
  readonly requestId: string;
  readonly config: ControlConfig;
  readonly log: RequestLog;
  /** Opened on first use (see app.ts `database`). */
  readonly db: Database;
  /** Set by the authentication middleware on routes that require it. */
  readonly principal: Principal;
  /** Set by requireAppKey on server-to-server routes. */
  readonly appKey: AppKeyCaller;
  /** Argon2id (auth/passwords.ts); createControlApp's option, so tests can count hashes. */
  readonly passwordHasher: PasswordHasher;
}

export type ControlEnv = { Bindings: ControlBindings; Variables: ControlVariables };
