/**
 * A TCP proxy on 127.0.0.1 that passes bytes through unchanged and can cut every connection it
 * carries at once, as a network blip does: no WebSocket close frame, no FIN from the client's
 * side first, just a reset. Put between a client and the control plane, it drops the client's
 * room socket without a `leave` (docs/protocol.md §5.10) while new connections still go through.
 *
 * close() stops listening and cuts what is left; it is idempotent.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class TcpCutProxy {
  readonly port: number;
  /** Connections accepted so far. */
  accepted = 0;
  readonly #server: Server;
  readonly #pairs = new Set<readonly [Socket, Socket]>();
  #closed: Promise<void> | null = null;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  /** Listens on an ephemeral port and forwards each connection to 127.0.0.1:targetPort. */
  static async start(targetPort: number): Promise<TcpCutProxy> {
    let proxy: TcpCutProxy | null = null;
    const server = createServer({ noDelay: true }, (client) => {
      const target = createConnection({ host: '127.0.0.1', port: targetPort, noDelay: true });
      const pair = [client, target] as const;
      proxy!.accepted++;
      proxy!.#pairs.add(pair);
      const forget = () => {
        proxy!.#pairs.delete(pair);
        client.destroy();
        target.destroy();
      };
      client.on('error', forget).on('close', forget);
      target.on('error', forget).on('close', forget);
      client.pipe(target);
      target.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new TcpCutProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  /** http://127.0.0.1:PORT. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connections open now. */
  get open(): number {
    return this.#pairs.size;
  }

  /** Resets every connection open now, both ways (RST, not FIN). Returns how many it cut. */
  cutAll(): number {
    const pairs = [...this.#pairs];
    for (const [client, target] of pairs) {
      client.resetAndDestroy();
      target.resetAndDestroy();
    }
    this.#pairs.clear();
    return pairs.length;
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.cutAll();
    });
    return this.#closed;
  }
}
