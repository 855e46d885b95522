import { OpenAPIHono } from '@hono/zod-openapi';
import type { ControlEnv } from './context.js';
import { validationHook } from './validation.js';

/** Every router validates the same way: a failed schema throws `validation_failed` naming the field. */
export function createRouter(): OpenAPIHono<ControlEnv> {
  return new OpenAPIHono<ControlEnv>({ defaultHook: validationHook });
}
