/**
 * drizzle-kit configuration: `npm run db:generate` writes SQL migrations into migrations/.
 *
 * Dialect `sqlite`, not `turso`: measured with drizzle-kit 0.31, the `turso` dialect emits
 * `ALTER COLUMN`, which SQLite (and so libSQL and Turso) rejects. Every generated migration is
 * read before it is committed, and test/unit/db/migrations.test.ts applies them all to a real
 * libSQL engine.
 */
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './control/src/db/schema.ts',
  out: './migrations',
  strict: true,
  verbose: true,
});
