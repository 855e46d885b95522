/**
 * The control plane's side of registration and heartbeat (docs/protocol.md §8.6), just enough to
 * test a real relay against it: a real HTTP server on 127.0.0.1 that verifies each request's
 * signature (audience "control", the relay's control key) with the shared verifier, parses the
 * body with parseRelayRegistration, answers 204 (or what the test says) and keeps every body.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NonceCache } from '../../relay/src/api/nonce-cache.js';
import { parseRelayRegistration, type RelayRegistrationBody } from '../../shared/relay-api/messages.js';
import { CONTROL_PLANE_AUDIENCE, verifyRequest } from '../../shared/relay-api/request-signing.js';

export interface ReceivedBody {
  readonly path: string;
  readonly body: RelayRegistrationBody;
}

export class ControlPlaneStandIn {
  readonly received: ReceivedBody[] = [];
  /** Requests refused (bad signature or body), with the reason: a test expects none. */
  readonly refused: string[] = [];
  /** The status the next answers get (204 unless a test changes it). */
  status = 204;

  private constructor(private readonly server: Server) {}

  static async start(controlKey: { readonly keyId: string; readonly secret: Uint8Array }): Promise<ControlPlaneStandIn> {
    const keys = new Map([[controlKey.keyId, controlKey.secret]]);
    const nonces = new NonceCache();
    let standIn: ControlPlaneStandIn | undefined;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = new Uint8Array(Buffer.concat(chunks));
        const url = `http://${request.headers.host}${request.url}`;
        const verdict = verifyRequest({ method: request.method ?? '', url, authorization: request.headers.authorization ?? null, body }, { audience: CONTROL_PLANE_AUDIENCE, keys, now: Date.now(), nonces });
        const parsed = verdict.ok ? parseRelayRegistration(JSON.parse(new TextDecoder().decode(body))) : null;
        if (!verdict.ok || parsed === null || !parsed.ok) {
          standIn!.refused.push(verdict.ok ? (parsed?.ok === false ? parsed.detail : 'unparsed') : verdict.reason);
          response.writeHead(verdict.ok ? 400 : 401).end();
          return;
        }
        standIn!.received.push({ path: new URL(url).pathname, body: parsed.value });
        response.writeHead(standIn!.status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    standIn = new ControlPlaneStandIn(server);
    return standIn;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  /** Waits until a received body satisfies `condition` (received after `from`), up to `timeoutMs`. */
  async waitFor(condition: (body: RelayRegistrationBody) => boolean, timeoutMs: number, what: string, from = 0): Promise<ReceivedBody> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.slice(from).find((r) => condition(r.body));
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`control-plane stand-in: timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
