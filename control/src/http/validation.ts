/**
 * Turns a failed schema check into the API's `validation_failed` error, naming the field.
 *
 * Messages come from the schemas (which state the rule) or zod's own defaults, which state the
 * expected type or bound but never the received value. Unknown keys are the exception: their
 * names are client input, so one is named only when it looks like an identifier.
 */
import type { z } from '@hono/zod-openapi';
import { ApiError } from './errors.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

type Target = 'json' | 'query' | 'param' | 'header' | 'cookie' | 'form';

function fieldPath(path: readonly PropertyKey[], target: Target): string {
  const joined = path.map((part) => (typeof part === 'number' ? `[${part}]` : String(part))).join('.').replace(/\.\[/g, '[');
  if (joined !== '') return joined;
  return target === 'json' ? 'body' : target;
}

export function validationError(error: z.ZodError, target: Target): ApiError {
  const issue = error.issues[0];
  if (issue === undefined) return new ApiError('validation_failed');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys.find((k) => IDENTIFIER.test(k));
    const field = key === undefined ? fieldPath(issue.path, target) : fieldPath([...issue.path, key], target);
    return new ApiError('validation_failed', { field, message: `${field}: unknown field.` });
  }
  const field = fieldPath(issue.path, target);
  // Zod's "Invalid input" for a missing required key reads badly; say what happened.
  const message = issue.code === 'invalid_type' && issue.input === undefined ? 'is required.' : issue.message.replace(/\.?$/, '.');
  return new ApiError('validation_failed', { field, message: `${field}: ${message}` });
}

/** The hook every router passes to OpenAPIHono: throw, so app.ts shapes the answer. */
export function validationHook(result: { success: boolean; error?: z.ZodError; target: Target }): void {
  if (!result.success && result.error !== undefined) throw validationError(result.error, result.target);
}
