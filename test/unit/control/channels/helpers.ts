/**
 * Shared set-up of the channel service tests: a migrated libSQL database (real engine), the test
 * configuration and an assertion for the API's typed errors.
 */
import { expect } from 'vitest';
import { loadControlConfig, type ControlConfig } from '../../../../control/src/config.js';
import { ApiError, type ErrorCode } from '../../../../control/src/http/errors.js';

export const TEST_CONFIG: ControlConfig = loadControlConfig({
  PARLEY_ENV: 'test',
  LIBSQL_URL: 'http://127.0.0.1:9/',
  CHANNEL_DEFAULT_MEMBER_LIMIT: '50',
  CHANNEL_MAX_MEMBER_LIMIT: '500',
});

export const LIMITS = TEST_CONFIG.channels;

/** Awaits `promise`, which must reject with ApiError `code` (and `field`, when given). */
export async function expectApiError(promise: Promise<unknown>, code: ErrorCode, field?: string): Promise<ApiError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected ApiError ${code}`).toBeInstanceOf(ApiError);
  const error = caught as ApiError;
  expect(error.code).toBe(code);
  if (field !== undefined) expect(error.field).toBe(field);
  return error;
}
