/**
 * An HTTP proxy on 127.0.0.1 that forwards every request to a target unchanged (method, path,
 * headers, body bytes) and keeps a copy of each: put between the relay and the control plane,
 * it captures the relay's real signed register and heartbeat requests, which a test can then
 * send again, altered or not.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

export interface RecordedRequest {
  readonly method: string;
  /** pathname + search. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The target's answer. */
  readonly status: number;
  /** When the proxy had the whole request, and when it had the target's answer (ms, Date.now()). */
  readonly receivedAt: number;
  readonly answeredAt: number;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Sends a request exactly as given (headers included) to 127.0.0.1:port. */
export function sendRaw(port: number, request: { method: string; path: string; headers: IncomingHttpHeaders; body: Buffer }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers = { ...request.headers, 'content-length': String(request.body.length) };
    delete headers['transfer-encoding'];
    const outgoing = httpRequest({ host: '127.0.0.1', port, method: request.method, path: request.path, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        // The relay's fetch asks for gzip (accept-encoding is sent again as recorded): decode.
        const raw = Buffer.concat(chunks);
        const encoding = response.headers['content-encoding'];
        const body = encoding === 'gzip' ? gunzipSync(raw) : encoding === 'deflate' ? inflateSync(raw) : encoding === 'br' ? brotliDecompressSync(raw) : raw;
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: body.toString('utf8') });
      });
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.setTimeout(30_000, () => outgoing.destroy(new Error('sendRaw: no answer in 30 s')));
    outgoing.end(request.body);
  });
}

export class RecordingProxy {
  readonly recorded: RecordedRequest[] = [];
  readonly #server: Server;
  #closed: Promise<void> | null = null;

  private constructor(
    server: Server,
    readonly port: number,
  ) {
    this.#server = server;
  }

  /** Listens on an ephemeral port and forwards to 127.0.0.1:targetPort. */
  static async start(targetPort: number): Promise<RecordingProxy> {
    let proxy: RecordingProxy | undefined;
    const server = createServer((incoming, outgoing) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        const body = Buffer.concat(chunks);
        const copy = { method: incoming.method ?? 'GET', path: incoming.url ?? '/', headers: { ...incoming.headers }, body };
        const receivedAt = Date.now();
        sendRaw(targetPort, copy).then(
          (answer) => {
            proxy?.recorded.push({ ...copy, status: answer.status, receivedAt, answeredAt: Date.now() });
            outgoing.writeHead(answer.status, { 'content-type': answer.headers['content-type'] ?? 'text/plain' });
            outgoing.end(answer.body);
          },
          () => {
            outgoing.writeHead(502);
            outgoing.end();
          },
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new RecordingProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The recorded requests to `path` that the target answered with `status`. */
  find(path: string, status = 200): RecordedRequest[] {
    return this.recorded.filter((r) => r.path === path && r.status === status);
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closed;
  }
}
