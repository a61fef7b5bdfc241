/**
 * The main thread's handle on one app worker thread — hosting one app (isolation `own`) or many (a
 * worker of the shared pool): batched messages, the calls in flight with their time limits, and the
 * restart of a thread that crashed or stopped answering. Nothing here runs adapter code.
 *
 * When the thread dies, only the calls in flight on it fail (their callers retry as for any failure);
 * calls still held by an app that was not ready wait for the restarted thread, which opens every app
 * it hosted again.
 */
import type { WorkerPool } from '../workers/pool.js';
import type { AppOp, AppWorkerData, FromAppWorker, ToAppWorker, WorkerError } from '../workers/protocol.js';
import type { Logger } from '../log/logger.js';
import { Backoff } from '../timing/backoff.js';
import type { AppHost } from './app-host.js';

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
  /** Handed to the thread (false while its app is not ready: then it survives a restart). */
  sent: boolean;
}

/** Pending calls are checked for timeouts this often (one timer per thread, not one per call). */
const SWEEP_MS = 250;
/** A thread that does not answer a ping within this time, after a call timed out, is terminated. */
const PING_TIMEOUT_MS = 2000;
/** How long an app's adapter may take to close before the app is forgotten anyway. */
const CLOSE_TIMEOUT_MS = 5000;

export interface WorkerHandleOptions {
  pool: WorkerPool;
  workerFile: string;
  data: AppWorkerData;
  /** The thread's JS heap limit: past it the thread is terminated and restarted, not the process. */
  heapMb: number;
  /** True for a thread of one app (isolation `own`): it ends when its app leaves. */
  dedicated: boolean;
  log: Logger;
}

export class WorkerHandle {
  readonly hosts = new Map<string, AppHost>();
  private state: 'idle' | 'up' | 'restarting' | 'stopping' | 'stopped' = 'idle';
  private queue: ToAppWorker[] = [];
  private flushScheduled = false;
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;
  private sweeper: NodeJS.Timeout | null = null;
  private readonly restartBackoff = new Backoff({ initialMs: 200, maxMs: 30_000 });
  private readonly closing = new Map<string, () => void>();
  /**
   * Per app, the batch of inbox rows its adapter is applying (between 'applying' and 'settled'): its
   * first row, and the pseudo-call in `pending` that watches it — a thread stuck applying it is found
   * even when no call is in flight (a data-only gateway has none, and nothing else would notice).
   */
  private readonly applying = new Map<string, { row: number; watch: number }>();

  constructor(private readonly opts: WorkerHandleOptions) {}

  get name(): string {
    return this.opts.data.name;
  }

  private get ending(): boolean {
    return this.state === 'stopping' || this.state === 'stopped';
  }

  get dedicated(): boolean {
    return this.opts.dedicated;
  }

  /** Starts the thread (once); the apps attached are opened in it. */
  async start(): Promise<void> {
    if (this.state !== 'idle' && this.state !== 'restarting') return;
    await this.opts.pool.start(this.name, this.opts.workerFile, this.opts.data, { resourceLimits: { maxOldGenerationSizeMb: this.opts.heapMb } });
    if (this.ending) return; // stopped while starting
    this.state = 'up';
    for (const host of this.hosts.values()) this.post({ t: 'open', app: host.spec });
  }

  /** Hosts an app here: opened now if the thread runs, else when it starts. */
  attach(host: AppHost): void {
    this.hosts.set(host.app.name, host);
    if (this.state === 'up') this.post({ t: 'open', app: host.spec });
  }

  /** Closes the app's adapter and forgets it (a dedicated thread ends with it). */
  async detach(host: AppHost): Promise<void> {
    if (this.hosts.get(host.app.name) !== host) return;
    if (this.opts.dedicated) {
      await this.stop();
      this.hosts.delete(host.app.name);
      return;
    }
    if (this.state === 'up') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.opts.log.warn({ app: host.app.name, worker: this.name }, 'application did not close in time; forgotten');
          done();
        }, CLOSE_TIMEOUT_MS);
        const done = () => {
          clearTimeout(timer);
          this.closing.delete(host.app.name);
          resolve();
        };
        this.closing.set(host.app.name, done);
        this.post({ t: 'close', app: host.app.name });
      });
    }
    this.hosts.delete(host.app.name);
  }

  /** Calls an app's adapter; `sent` false holds the message (the app is not ready) until `release`. */
  call(app: string, op: AppOp, args: unknown, timeoutMs: number, sent: boolean): { id: number; result: Promise<unknown> } {
    const id = this.nextId++;
    const result = new Promise((resolve, reject) => {
      this.track(id, { resolve, reject, deadline: Date.now() + timeoutMs, onTimeout: () => this.onTimeout(id, app, op, timeoutMs), sent });
    });
    if (sent) this.post({ t: 'call', app, id, op, args });
    return { id, result };
  }

  /** Whether a call is still waiting for its answer (not yet answered, failed or timed out). */
  isPending(id: number): boolean {
    return this.pending.has(id);
  }

  /** Sends a call held while its app was not ready; false if it already ended (timed out). */
  release(id: number, m: ToAppWorker): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    p.sent = true;
    this.post(m);
    return true;
  }

  /** Fails calls that were held and will never be sent (their app is going away). */
  abandon(ids: number[], error: WorkerError): void {
    for (const id of ids) {
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      p.reject(new AppCallError(error));
    }
  }

  post(m: ToAppWorker): void {
    this.queue.push(m);
    if (this.state === 'up' && !this.flushScheduled) {
      this.flushScheduled = true;
      // Once every I/O callback of this turn has run: the stanzas of every socket read in the turn
      // reach the thread in one postMessage (one copy, one wake-up), not one per read.
      setImmediate(() => this.flush());
    }
  }

  /** Handles a batch the thread posted (routed here by the pool). */
  onMessage(message: unknown): void {
    if (!Array.isArray(message)) return; // bree's own 'cancelled'/'done' strings
    for (const m of message as FromAppWorker[]) {
      switch (m.t) {
        case 'reply': {
          const p = this.pending.get(m.id);
          if (!p) break;
          this.pending.delete(m.id);
          if (m.ok) p.resolve(m.value);
          else p.reject(new AppCallError(m.error));
          break;
        }
        case 'pong':
          this.pending.delete(m.id);
          break;
        case 'ready':
          this.restartBackoff.reset();
          this.hosts.get(m.app)?.onReady(m.capabilities);
          break;
        case 'fatal':
          this.hosts.get(m.app)?.onFatal(m.message);
          break;
        case 'closed':
          this.closing.get(m.app)?.();
          break;
        case 'applying': {
          this.settled(m.app);
          const watch = this.nextId++;
          const timeoutMs = this.opts.data.callTimeoutMs;
          this.track(watch, { resolve: () => {}, reject: () => {}, deadline: Date.now() + timeoutMs, sent: true, onTimeout: () => this.onTimeout(watch, m.app, 'deliver', timeoutMs) });
          this.applying.set(m.app, { row: m.id, watch });
          break;
        }
        case 'settled':
          this.settled(m.app);
          this.hosts.get(m.app)?.onSettled(m.done, m.dead);
          break;
        case 'iq':
          this.hosts.get(m.app)?.onIq(m);
          break;
      }
    }
  }

  /** The thread ended: fail what was in flight on it, and start it again unless we are stopping. */
  onExit(): void {
    this.queue = [];
    // Whatever was being applied when the thread ended may be what ended it (not when we ended it to stop).
    if (!this.ending) for (const [app, { row }] of this.applying) this.hosts.get(app)?.onLostWhileApplying(row);
    this.applying.clear();
    this.failPending({ source: 'crash', message: 'the application worker stopped' }, (p) => p.sent);
    for (const done of [...this.closing.values()]) done();
    if (this.ending) {
      this.state = 'stopped';
      return;
    }
    this.state = 'restarting';
    for (const host of this.hosts.values()) host.onWorkerLost();
    const delay = this.restartBackoff.next();
    this.opts.log.warn({ worker: this.name, apps: this.hosts.size, retryInMs: delay }, 'application worker exited, restarting');
    setTimeout(() => {
      if (this.state === 'restarting') void this.start().catch((err) => this.opts.log.error({ worker: this.name, err: (err as Error).message }, 'worker restart failed'));
    }, delay).unref();
  }

  /** Asks the thread to close its adapters and end; what is still pending fails. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopping';
    await this.opts.pool.stop(this.name);
    this.failPending({ source: 'unavailable', message: 'application stopped' }, () => true);
    this.state = 'stopped';
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.queue.length === 0 || this.state !== 'up') return;
    const batch = this.queue;
    this.queue = [];
    if (!this.opts.pool.post(this.name, batch)) this.queue = batch.concat(this.queue);
  }

  /** The app's batch is over (or a new one starts): no longer watched. */
  private settled(app: string): void {
    const batch = this.applying.get(app);
    if (!batch) return;
    this.pending.delete(batch.watch);
    this.applying.delete(app);
  }

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
   * A call ran past its limit. The caller gets its answer now; then we check whether the thread still
   * answers a ping. One that does not (a blocking loop, a deadlock) is terminated and restarted.
   */
  private onTimeout(id: number, app: string, op: string, timeoutMs: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.reject(new AppCallError({ source: 'timeout', message: `the application did not answer ${op} within ${Math.round(timeoutMs / 1000)} s` }));
    if (!p.sent || this.state !== 'up') return;
    const pingId = this.nextId++;
    this.track(pingId, {
      resolve: () => {},
      reject: () => {},
      deadline: Date.now() + PING_TIMEOUT_MS,
      sent: true,
      onTimeout: () => {
        this.pending.delete(pingId);
        this.opts.log.warn({ worker: this.name, app, apps: this.hosts.size }, 'application worker unresponsive, terminating it');
        this.opts.pool.terminate(this.name).catch(() => {});
      },
    });
    this.post({ t: 'ping', id: pingId });
  }

  private failPending(error: WorkerError, which: (p: PendingCall) => boolean): void {
    for (const [id, p] of this.pending) {
      if (!which(p)) continue;
      this.pending.delete(id);
      p.reject(new AppCallError(error));
    }
  }
}
