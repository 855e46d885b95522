/**
 * Looks inside the worker threads of this process with the inspector protocol (Node's NodeWorker
 * domain), the way a debugger would: no hook in the relay's code. Tests use it to read what a
 * real relay worker actually holds (its process.env, a heap snapshot) and to make one crash or
 * hang, by evaluating code in it.
 */
import { Session } from 'node:inspector';

interface AttachedWorker {
  readonly sessionId: string;
  readonly title: string;
  readonly url: string;
}

interface WorkerReply {
  readonly id?: number;
  readonly method?: string;
  readonly params?: { readonly chunk?: string };
  readonly result?: { readonly result?: { readonly value?: unknown }; readonly exceptionDetails?: unknown };
  readonly error?: { readonly message: string };
}

export class WorkerInspector {
  readonly #session = new Session();
  readonly #workers = new Map<string, AttachedWorker>();
  readonly #pending = new Map<string, (reply: WorkerReply) => void>();
  readonly #chunks = new Map<string, string[]>();
  #nextId = 1;

  private constructor() {}

  /** Connects to this process's inspector and attaches to every worker thread, now and later. */
  static async open(): Promise<WorkerInspector> {
    const inspector = new WorkerInspector();
    const session = inspector.#session;
    session.connect();
    session.on('NodeWorker.attachedToWorker', (message: { params: { sessionId: string; workerInfo: { title: string; url: string } } }) => {
      const { sessionId, workerInfo } = message.params;
      inspector.#workers.set(sessionId, { sessionId, title: workerInfo.title, url: workerInfo.url });
    });
    session.on('NodeWorker.detachedFromWorker', (message: { params: { sessionId: string } }) => {
      inspector.#workers.delete(message.params.sessionId);
    });
    session.on('NodeWorker.receivedMessageFromWorker', (message: { params: { sessionId: string; message: string } }) => {
      const reply = JSON.parse(message.params.message) as WorkerReply;
      if (reply.method === 'HeapProfiler.addHeapSnapshotChunk') {
        inspector.#chunks.get(message.params.sessionId)?.push(reply.params!.chunk!);
        return;
      }
      if (reply.id === undefined) return;
      const key = `${message.params.sessionId}/${reply.id}`;
      inspector.#pending.get(key)?.(reply);
      inspector.#pending.delete(key);
    });
    await inspector.#post('NodeWorker.enable', { waitForDebuggerOnStart: false });
    return inspector;
  }

  get attached(): AttachedWorker[] {
    return [...this.#workers.values()];
  }

  /** The attached workers whose title ends in `name` (the Worker's `name`; Node writes "[worker 3] name"). */
  workersNamed(name: string): AttachedWorker[] {
    return [...this.#workers.values()].filter((w) => w.title === name || w.title.endsWith(`] ${name}`));
  }

  /** Waits until a worker named `title` is attached (a replacement thread, say), up to `timeoutMs`. */
  async waitForWorker(title: string, timeoutMs = 10_000, except?: AttachedWorker): Promise<AttachedWorker> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.workersNamed(title).find((w) => w.sessionId !== except?.sessionId);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`worker-inspector: no worker named ${title}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Evaluates `expression` in the worker and returns its value (returnByValue). */
  async evaluate(worker: AttachedWorker, expression: string): Promise<unknown> {
    const reply = await this.#send(worker, 'Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (reply.error !== undefined) throw new Error(`worker-inspector: ${reply.error.message}`);
    if (reply.result?.exceptionDetails !== undefined) throw new Error(`worker-inspector: evaluation threw: ${JSON.stringify(reply.result.exceptionDetails)}`);
    return reply.result?.result?.value;
  }

  /** Sends `expression` for evaluation without waiting (for code that never returns or kills the thread). */
  fire(worker: AttachedWorker, expression: string): void {
    void this.#send(worker, 'Runtime.evaluate', { expression }).catch(() => {});
  }

  /** The worker's V8 heap snapshot, as the JSON text DevTools would save. */
  async heapSnapshot(worker: AttachedWorker): Promise<string> {
    this.#chunks.set(worker.sessionId, []);
    await this.#send(worker, 'HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    const text = this.#chunks.get(worker.sessionId)!.join('');
    this.#chunks.delete(worker.sessionId);
    return text;
  }

  close(): void {
    for (const resolve of this.#pending.values()) resolve({ error: { message: 'closed' } });
    this.#pending.clear();
    this.#session.disconnect();
  }

  #send(worker: AttachedWorker, method: string, params: object): Promise<WorkerReply> {
    const id = this.#nextId++;
    const reply = new Promise<WorkerReply>((resolve) => this.#pending.set(`${worker.sessionId}/${id}`, resolve));
    void this.#post('NodeWorker.sendMessageToWorker', { sessionId: worker.sessionId, message: JSON.stringify({ id, method, params }) });
    return reply;
  }

  #post(method: string, params: object): Promise<unknown> {
    return new Promise((resolve, reject) => this.#session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  }
}
