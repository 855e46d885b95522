/**
 * The one error shape every control-plane response uses (docs/protocol.md §4.2):
 *
 *   { "error": "<stable code>", "message": "<fixed human text>", "field"?: "<path>",
 *     "retryAfterSeconds"?: <n> }
 *
 * `error` is the contract: clients branch on it, and codes are only ever added. `message` is a
 * fixed sentence chosen here, never built from request values, stack traces or library text,
 * so nothing a client sent (a password, a token) or anything internal can come back in it.
 */
import { z } from '@hono/zod-openapi';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export const ERROR_CODES = {
  validation_failed: 400,
  invalid_json: 400,
  bad_request: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  invalid_refresh_token: 401,
  forbidden: 403,
  banned: 403,
  not_found: 404,
  username_taken: 409,
  conflict: 409,
  channel_full: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  upgrade_required: 426,
  too_many_requests: 429,
  internal_error: 500,
  misconfigured: 503,
  unavailable: 503,
  no_relay_available: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  readonly error: ErrorCode;
  readonly message: string;
  readonly field?: string;
  readonly retryAfterSeconds?: number;
}

const DEFAULT_MESSAGES: Record<ErrorCode, string> = {
  validation_failed: 'A field of the request is invalid.',
  invalid_json: 'The request body is not valid JSON.',
  bad_request: 'The request is not valid.',
  unauthorized: 'A valid access token is required.',
  invalid_credentials: 'The username or password is wrong.',
  invalid_refresh_token: 'The refresh token is invalid, expired or revoked; log in again.',
  forbidden: 'You are not allowed to do this.',
  banned: 'You are banned from this channel.',
  not_found: 'Not found.',
  username_taken: 'That username is taken.',
  conflict: 'The request conflicts with the current state.',
  channel_full: 'The channel has reached its member limit.',
  payload_too_large: 'The request body is too large.',
  unsupported_media_type: 'Send the body as application/json.',
  upgrade_required: 'Open this URL as a WebSocket.',
  too_many_requests: 'Too many attempts; wait before trying again.',
  internal_error: 'Something went wrong on our side.',
  misconfigured: 'This deployment is misconfigured and refuses to serve.',
  unavailable: 'A service this request needs is unavailable; try again.',
  no_relay_available: 'No voice relay is available for this channel.',
};

/** Thrown by handlers and services; app.ts turns it into the error shape. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: ContentfulStatusCode;

  constructor(
    readonly code: ErrorCode,
    options: { message?: string; field?: string; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(options.message ?? DEFAULT_MESSAGES[code], { cause: options.cause });
    this.status = ERROR_CODES[code];
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  readonly field: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  toBody(): ErrorBody {
    return {
      error: this.code,
      message: this.message,
      ...(this.field === undefined ? {} : { field: this.field }),
      ...(this.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: this.retryAfterSeconds }),
    };
  }
}

export function errorBody(code: ErrorCode, field?: string): ErrorBody {
  return new ApiError(code, { field }).toBody();
}

/** The error shape as an OpenAPI schema, registered once as components.schemas.Error. */
export const ErrorSchema = z
  .object({
    error: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]).openapi({ example: 'validation_failed' }),
    message: z.string().openapi({ example: 'username: must be 3 to 32 characters.' }),
    field: z.string().optional().openapi({ example: 'username' }),
    retryAfterSeconds: z.number().int().optional(),
  })
  .openapi('Error');

/** OpenAPI response entries for the given error statuses. */
export function errorResponses<S extends ContentfulStatusCode>(
  ...entries: readonly (readonly [S, string])[]
): Record<S, { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } }> {
  const out = {} as Record<S, { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } }>;
  for (const [status, description] of entries) out[status] = { description, content: { 'application/json': { schema: ErrorSchema } } };
  return out;
}
