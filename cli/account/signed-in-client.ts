/**
 * A ParleyClient signed in from the stored login (credential-store.ts): the stored refresh
 * token is exchanged for a fresh pair (docs/protocol.md §4.3.4), and every pair the client gets
 * from then on — that one and each renewal while a `join` runs — is stored at once, since the
 * refresh token it replaces is used up.
 */
import { ParleyClient } from '../../packages/client/src/index.js';
import { CommandFailure, EXIT } from './command-failure.js';
import type { CredentialStore } from './credential-store.js';

export function newClient(controlUrl: string): ParleyClient {
  return new ParleyClient({ baseUrl: controlUrl, requestTimeoutMs: 10_000, userAgent: `parley-cli node/${process.versions.node}` });
}

/** Saves every token pair the client receives under `controlUrl`. */
export function keepLoginStored(client: ParleyClient, store: CredentialStore, controlUrl: string): void {
  client.on('credentials', (pair) => store.save(controlUrl, pair));
}

export async function signedInClient(store: CredentialStore, controlUrl: string): Promise<ParleyClient> {
  const login = store.get(controlUrl);
  if (login === null) {
    // A wrong URL is the likelier mistake than a missing login: say that one when it is.
    if (!(await answersAsControlPlane(controlUrl))) throw new CommandFailure(`no Parley control plane answers at ${controlUrl} (is it running? is the URL right? set it with --url or PARLEY_URL)`, EXIT.unreachable);
    throw new CommandFailure(`not logged in to ${controlUrl}: run 'parley login USERNAME' first`, EXIT.signedOut);
  }
  const client = newClient(controlUrl);
  keepLoginStored(client, store, controlUrl);
  try {
    await client.useRefreshToken(login.refreshToken);
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

/** Whether `controlUrl`/healthz answers as Parley's control plane does (§4.1). */
async function answersAsControlPlane(controlUrl: string): Promise<boolean> {
  try {
    const response = await fetch(new URL('healthz', `${controlUrl}/`), { signal: AbortSignal.timeout(5000), redirect: 'error' });
    const body = (await response.json()) as { service?: unknown };
    return body.service === 'parley-control';
  } catch {
    return false;
  }
}
