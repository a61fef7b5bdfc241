/**
 * The main thread's handle on one application's worker: calls with time limits, batching, restart of
 * a crashed or stuck worker. Nothing here runs adapter code.
 */
import type { WorkerPool } from '../workers/pool.js';
import type { AppOp, AppWorkerData, FromAppWorker, ToAppWorker, WorkerError } from '../workers/protocol.js';
import type { AppRecord } from '../registry/apps.js';
import type { Logger } from '../log/logger.js';
import type { AdapterObserver } from '../observe/metrics.js';
import { Backoff } from '../timing/backoff.js';
import { adapterModule } from '../../adapters/index.js';

export type IqRequest = Extract<FromAppWorker, { t: 'iq' }>;

const INBOX_COALESCE_MS = 10;

export class AppCallError extends Error {
  override name = 'AppCallError';
  constructor(readonly error: WorkerError) {
    super(error.message);
  }
}

interface PendingCall {
  resolve(v: unknown): void;
  reject(e: AppCallError): void;
  /** When the call times out (ms since the epoch). */
  deadline: number;
  /** What to do then. */
  onTimeout(): void;
}

/** Pending calls are checked for timeouts this often (one timer per app, not one per call). */
const SWEEP_MS = 250;

export interface AppHostOptions {
  pool: WorkerPool;
  workerFile: string;
  domain: string;
  dbPath: string;
  synchronous: 'NORMAL' | 'FULL';
  logLevel: string;
  callTimeoutMs: number;
  /** Config `trace.enabled`: whether the worker's jobs record in the transparency log. */
  trace: boolean;
  retry: { initialMs: number; maxMs: number; maxAttempts: number };
  /** The app's receive job applied `done` inbox rows and dead-lettered `dead` others. */
  onSettled?(app: string, done: number[], dead: number): void;
  /** The app's adapter sends an IQ (component/apps/app-iqs.ts); its answer comes back through `answerIq`. */
  onIq?(host: AppHost, request: IqRequest): void;
  /** Told the duration and outcome of every call (metrics). */
  observer?: AdapterObserver;
  log: Logger;
}

/** What the app's adapter module declares about it, from its configuration. */
function declared(app: AppRecord): { acceptsData: boolean; senders: string[] } {
  try {
    const m = adapterModule(app.kind);
    const options = m.parseOptions(app.options);
    return { acceptsData: m.acceptsData?.(options) ?? false, senders: m.senders?.(options) ?? [] };
  } catch {
    return { acceptsData: false, senders: [] }; // bad options or an unknown kind: the worker will say why, and accepts nothing
  }
}

export class AppHost {
  readonly jid: string;
  capabilities = new Set<string>();
  private state: 'starting' | 'ready' | 'stopping' | 'stopped' = 'starting';
  private queue: ToAppWorker[] = [];
  private flushScheduled = false;
  private pending = new Map<number, PendingCall>();
  private nextId = 1;
  private readonly restartBackoff = new Backoff({ initialMs: 200, maxMs: 30_000 });

  /**
   * Whether the app accepts data, from its configuration (the adapter module's declaration), known
   * before its worker is ready: the intake accepts data into the inbox while the worker starts, and
   * disco advertises the delivery protocol at once (senders must never see a fedgate app as a peer
   * that confirms nothing).
   */
  readonly acceptsData: boolean;
  /** Bare JIDs whose data this app accepts without a consumer (adapter contract: `senders`). */
  readonly senders: ReadonlySet<string>;

  constructor(readonly app: AppRecord, private readonly opts: AppHostOptions) {
    this.jid = `${app.name}@${opts.domain}`;
    const d = declared(app);
    this.acceptsData = d.acceptsData;
    this.senders = new Set(d.senders);
  }

  /** Hands the worker the answer to an IQ its adapter sent. */
  answerIq(answer: Extract<ToAppWorker, { t: 'iqAnswer' }>): void {
    this.enqueue(answer);
  }

  get workerName(): string {
    return `app:${this.app.name}`;
  }

  /** For `fedgate status` and the status page. */
  get status(): 'starting' | 'ready' | 'stopping' | 'stopped' {
    return this.state;
  }

  get isReady(): boolean {
    return this.state === 'ready';
  }

  async start(): Promise<void> {
    const data: AppWorkerData = {
      app: { name: this.app.name, kind: this.app.kind, options: this.app.options, jid: this.jid },
      dbPath: this.opts.dbPath,
      synchronous: this.opts.synchronous,
      logLevel: this.opts.logLevel,
      callTimeoutMs: this.opts.callTimeoutMs,
      trace: this.opts.trace,
      retry: this.opts.retry,
    };
    this.state = 'starting';
    await this.opts.pool.start(this.workerName, this.opts.workerFile, data);
  }

  /** Calls the adapter; rejects with AppCallError (adapter error, crash, timeout, missing capability). */
  call(op: AppOp, args: unknown, timeoutMs = this.opts.callTimeoutMs): Promise<unknown> {
    if (this.state === 'stopping' || this.state === 'stopped') {
      return Promise.reject(new AppCallError({ source: 'unavailable', message: 'application is being removed' }));
    }
    const id = this.nextId++;
    const observer = this.opts.observer;
    const t0 = observer ? performance.now() : 0;
    return new Promise((resolve, reject) => {
      this.track(id, {
        resolve: observer
          ? (v) => {
              observer.adapterCall(this.app.name, op, 'ok', performance.now() - t0);
              resolve(v);
            }
          : resolve,
        reject: observer
          ? (e) => {
              observer.adapterCall(this.app.name, op, e.error.source, performance.now() - t0);
              reject(e);
            }
          : reject,
        deadline: Date.now() + timeoutMs,
        onTimeout: () => this.onTimeout(id, op, timeoutMs),
      });
      this.enqueue({ t: 'call', id, op, args });
    });
  }

  private sweeper: NodeJS.Timeout | null = null;

  private track(id: number, call: PendingCall): void {
    this.pending.set(id, call);
    this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  private sweep(): void {
    const now = Date.now();
    for (const p of [...this.pending.values()]) if (p.deadline <= now) p.onTimeout();
    if (this.pending.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  /**
   * Tells the worker its inbox has new rows. Coalesced over a few milliseconds: under a steady stream
   * the receive job then wakes a hundred times a second with batches, not once per message (the
   * sender's confirmation does not wait for it: that was sent at the inbox commit).
   */
  notifyInbox(): void {
    if (this.inboxTimer) return;
    this.inboxTimer = setTimeout(() => {
      this.inboxTimer = null;
      this.enqueue({ t: 'inbox' });
    }, INBOX_COALESCE_MS);
  }

  private inboxTimer: NodeJS.Timeout | null = null;

  /** Handles a batch the worker posted (routed here by the pool). */
  onMessage(message: unknown): void {
    if (!Array.isArray(message)) return; // bree's own 'cancelled'/'done' strings
    for (const m of message as FromAppWorker[]) {
      if (m.t === 'reply') {
        const p = this.pending.get(m.id);
        if (!p) continue;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.value);
        else p.reject(new AppCallError(m.error));
      } else if (m.t === 'pong') {
        this.pending.delete(m.id);
      } else if (m.t === 'ready') {
        this.capabilities = new Set(m.capabilities);
        this.state = 'ready';
        this.restartBackoff.reset();
        this.flush();
      } else if (m.t === 'settled') {
        this.opts.onSettled?.(this.app.name, m.done, m.dead);
      } else if (m.t === 'iq') {
        if (this.opts.onIq) this.opts.onIq(this, m);
        else this.answerIq({ t: 'iqAnswer', id: m.id, ok: false, message: 'this gateway sends no IQs for adapters' });
      } else if (m.t === 'fatal') {
        this.opts.log.error({ app: this.app.name, err: m.message }, 'adapter failed to start');
      }
    }
  }

  /** The worker thread ended: fail what it owed, and start it again unless we are stopping. */
  onExit(): void {
    this.failPending({ source: 'crash', message: 'the application worker stopped' });
    if (this.state === 'stopping' || this.state === 'stopped') {
      this.state = 'stopped';
      return;
    }
    const delay = this.restartBackoff.next();
    this.opts.log.warn({ app: this.app.name, retryInMs: delay }, 'application worker exited, restarting');
    this.state = 'starting';
    setTimeout(() => {
      if (this.state === 'starting') void this.start().catch((err) => this.opts.log.error({ app: this.app.name, err: (err as Error).message }, 'worker restart failed'));
    }, delay).unref();
  }

  async stop(): Promise<void> {
    this.state = 'stopping';
    await this.opts.pool.stop(this.workerName);
    this.failPending({ source: 'unavailable', message: 'application stopped' });
    this.state = 'stopped';
  }

  private enqueue(m: ToAppWorker): void {
    this.queue.push(m);
    if (this.state === 'ready' && !this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.queue.length === 0 || this.state !== 'ready') return;
    const batch = this.queue;
    this.queue = [];
    if (!this.opts.pool.post(this.workerName, batch)) this.queue = batch.concat(this.queue);
  }

  /**
   * A call ran past its limit. The caller gets its answer now; then we check whether the worker still
   * answers a ping. A worker that does not (a blocking loop, a deadlock) is terminated and restarted.
   */
  private onTimeout(id: number, op: string, timeoutMs: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.reject(new AppCallError({ source: 'timeout', message: `the application did not answer ${op} within ${Math.round(timeoutMs / 1000)} s` }));
    const pingId = this.nextId++;
    this.track(pingId, {
      resolve: () => {},
      reject: () => {},
      deadline: Date.now() + 2000,
      onTimeout: () => {
        this.pending.delete(pingId);
        this.opts.log.warn({ app: this.app.name }, 'application worker unresponsive, terminating it');
        this.opts.pool.terminate(this.workerName).catch(() => {});
      },
    });
    this.enqueue({ t: 'ping', id: pingId });
  }

  private failPending(error: WorkerError): void {
    for (const [id, p] of this.pending) {
      p.reject(new AppCallError(error));
      this.pending.delete(id);
    }
  }
}

