/**
 * `npm run admin:create-key -- --name NAME --scope SCOPE`: creates an app key in the database
 * and prints it once (control/dev/app-key-command.ts).
 */
import { createAppKeyCommand } from './app-key-command.js';

createAppKeyCommand(process.argv.slice(2), process.env, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`admin:create-key: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
