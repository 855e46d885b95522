/**
 * The local libSQL server's HTTP side: Hrana over HTTP, JSON encoding, on 127.0.0.1 only.
 *
 *   GET  /, /health                   200, no auth (liveness, as sqld)
 *   GET  /v2, /v3                     200, no auth: version probes
 *   GET  /v3-protobuf                 404: protobuf is not spoken, so a client probing for it
 *                                     falls back to /v2 (hrana-client's findEndpoint)
 *   POST /v2/pipeline, /v3/pipeline   Bearer token; pipeline of stream requests
 *   POST /v3/cursor                   Bearer token; a batch, answered as newline-delimited JSON
 *
 * @libsql/client 0.18 always speaks /v2/pipeline with JSON (its HttpClient is opened with
 * protocol version 2, which skips the probe), and so does it against Turso.
 *
 * A request without the server's token gets 401 before its body is read. Bodies over
 * `maxBodyBytes` get 413. Status codes and error bodies follow sqld (see errors.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ProtocolError, StreamUnavailableError } from './errors.js';
import { parseCursorRequest, parsePipelineRequest, type HranaVersion, type PipelineResponseBody } from './hrana-protocol.js';
import { LocalDatabase } from './local-database.js';
import { LockWaits } from './lock-waits.js';
import { runCursor, runPipeline } from './pipeline.js';
import { ResponseBudget } from './sql-connection.js';
import { StreamManager } from './stream-manager.js';

export const LOOPBACK_HOST = '127.0.0.1';

export interface LibsqlServerOptions {
  /** Database file (created with its folder if missing), or ":memory:" for a throwaway one. */
  readonly database: string;
  /** The Bearer token every pipeline request must carry. */
  readonly authToken: string;
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Largest request body accepted (default 8 MiB). */
  readonly maxBodyBytes?: number;
  /** Largest response, estimated as rows are read (default 10 MiB, sqld's default). */
  readonly maxResponseBytes?: number;
  /** Streams open at once (default 128). */
  readonly maxStreams?: number;
  /** A stream with no request for this long expires (default 10 s, as sqld). */
  readonly streamIdleTimeoutMs?: number;
  /** How long a statement waits for another stream's write lock (default 5 s). */
  readonly busyTimeoutMs?: number;
  /** Where unexpected failures are reported (never with SQL, arguments or tokens). */
  readonly log?: (line: string) => void;
}

export const DEFAULT_LIMITS = {
  maxBodyBytes: 8 * 1024 * 1024,
  maxResponseBytes: 10 * 1024 * 1024,
  maxStreams: 128,
  streamIdleTimeoutMs: 10_000,
  busyTimeoutMs: 5_000,
} as const;

export interface LibsqlServer {
  /** http://127.0.0.1:PORT — what LIBSQL_URL points at. */
  readonly url: string;
  readonly port: number;
  /** The database file served (a temporary file for ":memory:"). */
  readonly databasePath: string;
  /** Streams open now. */
  readonly openStreams: number;
  /** Stops listening, closes every stream (rolling back open transactions) and the database. Idempotent. */
  close(): Promise<void>;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const chosen = value ?? fallback;
  if (!Number.isSafeInteger(chosen) || chosen <= 0) {
    throw new RangeError(`libsql-server: ${name} must be a positive integer, got ${String(value)}`);
  }
  return chosen;
}

function sendText(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'text/plain', 'cache-control': 'no-store', ...headers });
  response.end(text);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  // Exactly "application/json": hrana-client compares the header verbatim on error responses.
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}

class BodyTooLargeError extends Error {}

/** Reads a request body up to `limit` bytes; past it, throws and discards the rest. */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError());
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    request.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    request.on('error', (error) => {
      if (!failed) reject(error);
      failed = true;
    });
  });
}

/**
 * Answers 413 and lets the client finish sending (so it reads the answer instead of a reset),
 * discarding at most a few more limits' worth before closing the socket.
 */
function refuseBody(request: IncomingMessage, response: ServerResponse, limit: number): void {
  let discarded = 0;
  request.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > 4 * limit) request.socket.destroy();
  });
  request.resume();
  sendText(response, 413, `Request body is larger than ${limit} bytes`, { connection: 'close' });
}

export async function startLibsqlServer(options: LibsqlServerOptions): Promise<LibsqlServer> {
  if (typeof options.authToken !== 'string' || options.authToken.length === 0 || /\s/.test(options.authToken)) {
    throw new TypeError('libsql-server: authToken must be a non-empty string without white space');
  }
  const port = options.port ?? 0;
  if (!Number.isSafeInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`libsql-server: port must be 0..65535, got ${String(options.port)}`);
  }
  const maxBodyBytes = positiveInteger('maxBodyBytes', options.maxBodyBytes, DEFAULT_LIMITS.maxBodyBytes);
  const maxResponseBytes = positiveInteger('maxResponseBytes', options.maxResponseBytes, DEFAULT_LIMITS.maxResponseBytes);
  const maxStreams = positiveInteger('maxStreams', options.maxStreams, DEFAULT_LIMITS.maxStreams);
  const idleTimeoutMs = positiveInteger('streamIdleTimeoutMs', options.streamIdleTimeoutMs, DEFAULT_LIMITS.streamIdleTimeoutMs);
  const busyTimeoutMs = positiveInteger('busyTimeoutMs', options.busyTimeoutMs, DEFAULT_LIMITS.busyTimeoutMs);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));

  const expectedTokenDigest = sha256(options.authToken);
  const lockWaits = new LockWaits();
  const database = LocalDatabase.open({ location: options.database, lockWaits, busyTimeoutMs });
  const streams = new StreamManager({ connect: () => database.connect(), maxStreams, idleTimeoutMs });

  function authorized(request: IncomingMessage): boolean {
    const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '');
    // Digests have equal lengths, so the comparison takes the same time whatever was sent.
    return match?.[1] !== undefined && timingSafeEqual(sha256(match[1]), expectedTokenDigest);
  }

  async function readJson(request: IncomingMessage): Promise<unknown> {
    const body = await readBody(request, maxBodyBytes);
    try {
      return JSON.parse(body.toString('utf8')) as unknown;
    } catch {
      throw new ProtocolError('The request body is not valid JSON');
    }
  }

  async function servePipeline(request: IncomingMessage, response: ServerResponse, version: HranaVersion): Promise<void> {
    const body = parsePipelineRequest(await readJson(request));
    const stream = streams.acquire(body.baton);
    let answer: PipelineResponseBody;
    try {
      const results = await runPipeline(stream, body.requests, version, new ResponseBudget(maxResponseBytes));
      answer = { baton: streams.release(stream), base_url: null, results };
    } catch (error) {
      streams.discard(stream);
      throw error;
    }
    sendJson(response, 200, answer);
  }

  async function serveCursor(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = parseCursorRequest(await readJson(request));
    const stream = streams.acquire(body.baton);
    let lines: string[];
    try {
      const entries = await runCursor(stream, body.batch, new ResponseBudget(maxResponseBytes));
      const head = { baton: streams.release(stream), base_url: null };
      lines = [head, ...entries].map((item) => `${JSON.stringify(item)}\n`);
    } catch (error) {
      streams.discard(stream);
      throw error;
    }
    response.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    response.end(lines.join(''));
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    const post: Record<string, () => Promise<void>> = {
      '/v2/pipeline': () => servePipeline(request, response, 2),
      '/v3/pipeline': () => servePipeline(request, response, 3),
      '/v3/cursor': () => serveCursor(request, response),
    };
    const get: Record<string, string> = {
      '/': 'Hello, this is the Parley local libSQL server (Hrana over HTTP, JSON, versions 2 and 3)',
      '/health': 'ok',
      '/v2': 'Hrana over HTTP version 2',
      '/v3': 'Hrana over HTTP version 3',
    };
    const serve = post[path];
    if (serve !== undefined) {
      if (request.method !== 'POST') return sendText(response, 405, 'Method not allowed', { allow: 'POST' });
      if (!authorized(request)) {
        request.resume();
        return sendText(response, 401, 'Unauthorized: a valid Bearer token is required', {
          'www-authenticate': 'Bearer',
        });
      }
      return serve();
    }
    const text = get[path];
    if (text !== undefined) {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return sendText(response, 405, 'Method not allowed', { allow: 'GET' });
      }
      return sendText(response, 200, text);
    }
    request.resume();
    return sendText(response, 404, 'Not found');
  }

  function fail(request: IncomingMessage, response: ServerResponse, error: unknown): void {
    if (response.headersSent) {
      response.destroy();
    } else if (error instanceof BodyTooLargeError) {
      refuseBody(request, response, maxBodyBytes);
    } else if (error instanceof ProtocolError) {
      sendText(response, 400, error.message);
    } else if (error instanceof StreamUnavailableError) {
      sendJson(response, error.httpStatus, error.toHrana());
    } else {
      log(`libsql-server: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      sendText(response, 500, 'Internal server error');
    }
  }

  const server: Server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => fail(request, response, error));
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, LOOPBACK_HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    streams.close();
    lockWaits.close();
    database.close();
    throw error;
  }

  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${LOOPBACK_HOST}:${address.port}`,
    port: address.port,
    databasePath: database.path,
    get openStreams() {
      return streams.openCount;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        lockWaits.close();
        streams.close();
        server.closeAllConnections();
      }).finally(() => database.close());
      return closing;
    },
  };
}
