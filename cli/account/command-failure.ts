/**
 * How the `parley` account commands (register, login, logout, channels, join) fail: one line on
 * stderr, no stack, and an exit code a script can branch on. Messages come from the SDK's errors,
 * which never carry a token, a password or a key.
 *
 * Exit codes: 0 done; 1 unexpected (a bug); 2 bad usage; 3 the control plane cannot be reached or
 * is not one (a wrong URL); 4 not signed in: the login was refused, or the stored login expired or
 * ended; 5 the control plane refused the request (a full channel, not found, forbidden, taken).
 */
import { ApiError, ConnectionError, NotSignedInError, ProtocolError, VoiceError } from '../../packages/client/src/index.js';
import { ControlUrlError } from './control-url.js';
import { CredentialFileError } from './credential-store.js';

export const EXIT = Object.freeze({ ok: 0, unexpected: 1, usage: 2, unreachable: 3, signedOut: 4, refused: 5 });

/** A failure the command explains itself (its message is the whole line). */
export class CommandFailure extends Error {
  override readonly name = 'CommandFailure';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface FailureContext {
  readonly controlUrl: string;
  /** Which command, for `parley <command>: …`. */
  readonly command: string;
}

/** The one line and exit code for an error, or null for a bug (the entry point reports it). */
export function describeFailure(error: unknown, context: FailureContext): { readonly line: string; readonly exitCode: number } | null {
  const say = (text: string, exitCode: number) => ({ line: `parley ${context.command}: ${text}`, exitCode });
  if (error instanceof CommandFailure) return say(error.message, error.exitCode);
  if (error instanceof ControlUrlError) return say(error.message, EXIT.usage);
  if (error instanceof CredentialFileError) return say(error.message, EXIT.unexpected);
  if (error instanceof ConnectionError) return say(`cannot reach the control plane at ${context.controlUrl} (is it running? is the URL right? set it with --url or PARLEY_URL)`, EXIT.unreachable);
  if (error instanceof ProtocolError) return say(`${context.controlUrl} does not answer as a Parley control plane (${error.message})`, EXIT.unreachable);
  if (error instanceof NotSignedInError) return say(`not logged in to ${context.controlUrl}: run 'parley login USERNAME' first`, EXIT.signedOut);
  if (error instanceof ApiError) {
    switch (error.code) {
      case 'invalid_credentials':
        return say('login refused: wrong username or password', EXIT.signedOut);
      case 'invalid_refresh_token':
      case 'unauthorized':
        return say(`your login to ${context.controlUrl} has expired or was ended: run 'parley login USERNAME' again`, EXIT.signedOut);
      case 'too_many_requests':
        return say(`too many attempts; try again in ${error.retryAfterSeconds ?? 60} s`, EXIT.refused);
      case 'channel_full':
        return say('the channel is full (at its member limit)', EXIT.refused);
      case 'username_taken':
        return say('that username is taken', EXIT.refused);
      default:
        return say(`refused: ${error.code}: ${error.message}${error.field === undefined ? '' : ` (${error.field})`}`, error.transient ? EXIT.unexpected : EXIT.refused);
    }
  }
  if (error instanceof VoiceError) {
    if (error.code === 'token_expired' || error.code === 'unauthorized' || error.code === 'logged_out') return say(`the voice room ended the session: ${error.code}; run 'parley login USERNAME' again`, EXIT.signedOut);
    if (error.code === 'upgrade_refused' || error.code === 'timeout') return say(`could not join voice: ${error.message}`, EXIT.unreachable);
    return say(`could not join voice: ${error.code}: ${error.message}`, EXIT.refused);
  }
  return null;
}
