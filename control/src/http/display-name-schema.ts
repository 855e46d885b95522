import { z } from '@hono/zod-openapi';
import { checkDisplayName, DISPLAY_NAME_MAX_INPUT_LENGTH, DISPLAY_NAME_MAX_LENGTH } from '../auth/display-names.js';

/**
 * A display-name field (an app user's name, an app key's name): the rules of
 * auth/display-names.ts, each failure reported with its rule. Handlers take the NFKC form.
 */
export function displayNameSchema() {
  return z
    .string()
    .max(DISPLAY_NAME_MAX_INPUT_LENGTH, { message: `must be 1 to ${DISPLAY_NAME_MAX_LENGTH} characters` })
    .superRefine((value, ctx) => {
      const checked = checkDisplayName(value);
      if (!checked.ok) ctx.addIssue({ code: 'custom', message: checked.problem });
    });
}
