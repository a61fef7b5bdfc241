/**
 * A stand-in for an application's own HTTP API (a third-party system, so faking it is fair): records
 * every POST, and answers with whatever status the test scripts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface Received {
  at: number;
  key: string;
  body: { key: string; from: string; blocks: Array<{ meta: Record<string, unknown>; records: Array<Record<string, unknown>> }> };
}

export class HttpSink {
  readonly received: Received[] = [];
  /** Decides the answer to each request; default 200. Return 'hang' to never answer (until release()). */
  respond: (r: Received) => number | 'hang' = () => 200;
  private hung: ServerResponse[] = [];
  private waiters: Array<{ n: number; resolve(): void }> = [];

  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(): Promise<HttpSink> {
    let sink: HttpSink | null = null;
    const server = createServer((req, res) => void sink!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address() as { port: number };
    sink = new HttpSink(server, `http://127.0.0.1:${addr.port}/push`);
    return sink;
  }

  /** Resolves when at least n requests were answered 2xx in total. */
  waitAccepted(n: number, timeoutMs = 10_000): Promise<void> {
    if (this.accepted >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.accepted}/${n} accepted after ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  accepted = 0;

  /** Answers 200 to every request left hanging. */
  release(): void {
    for (const res of this.hung.splice(0)) this.answer(res, 200);
  }

  async stop(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const r: Received = { at: Date.now(), key: String(req.headers['idempotency-key']), body: JSON.parse(raw) as Received['body'] };
    this.received.push(r);
    const status = this.respond(r);
    if (status === 'hang') {
      this.hung.push(res);
      return;
    }
    this.answer(res, status);
  }

  private answer(res: ServerResponse, status: number): void {
    res.writeHead(status).end(status < 300 ? 'ok' : 'no');
    if (status >= 300) return;
    this.accepted++;
    for (const w of this.waiters.filter((w) => this.accepted >= w.n)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve();
    }
  }
}
