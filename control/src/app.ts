import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
// Bundled by wrangler/Vite; only `version` ends up in the Worker.
import { version } from '../../package.json';
import type { ControlBindings } from './bindings.js';

export const CONTROL_SERVICE_NAME = 'parley-control';
export const CONTROL_VERSION: string = version;

export type ControlEnv = { Bindings: ControlBindings };
export type ControlApp = Hono<ControlEnv>;

/** The JSON body of every error response: a stable machine-readable code, nothing else. */
export interface ControlErrorBody {
  readonly error: string;
}

const ERROR_CODES: Readonly<Partial<Record<number, string>>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
};

function errorCodeForStatus(status: number): string {
  return ERROR_CODES[status] ?? (status >= 500 ? 'internal_error' : 'request_error');
}

/**
 * Builds the control-plane HTTP app.
 *
 * A factory rather than a module-level singleton so tests can build a fresh app (and mount
 * extra routes on it) without sharing state with the deployed entry point.
 */
export function createControlApp(): ControlApp {
  const app = new Hono<ControlEnv>();

  app.get('/healthz', function healthz(c) {
    c.header('Cache-Control', 'no-store');
    return c.json({ ok: true, service: CONTROL_SERVICE_NAME, version: CONTROL_VERSION });
  });

  app.notFound(function notFound(c) {
    return c.json({ error: 'not_found' } satisfies ControlErrorBody, 404);
  });

  app.onError(function onControlError(error, c) {
    if (error instanceof HTTPException) {
      // Thrown on purpose (auth, body limits): keep the status and any WWW-Authenticate
      // challenge, but the body is always our JSON shape, never the exception's text.
      const challenge = error.res?.headers.get('WWW-Authenticate');
      if (challenge) c.header('WWW-Authenticate', challenge);
      return c.json({ error: errorCodeForStatus(error.status) } satisfies ControlErrorBody, error.status);
    }
    // Unexpected: the client learns nothing; the log gets the error's name and message
    // (by convention free of secrets) but no stack and no request body.
    console.error(
      JSON.stringify({
        level: 'error',
        event: 'unhandled_error',
        method: c.req.method,
        path: c.req.path,
        error: error.name,
        message: error.message,
      }),
    );
    const status: ContentfulStatusCode = 500;
    return c.json({ error: errorCodeForStatus(status) } satisfies ControlErrorBody, status);
  });

  return app;
}
