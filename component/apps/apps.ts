/**
 * The running set of applications: mirrors the registry table into one AppHost per app, and places
 * each app on a worker thread — a thread of its own (isolation `own`), or the least loaded thread of
 * the shared pool (`shared`: fedgate's own adapters, many apps per thread, as many threads as cores).
 * Kept in sync while running: the change feed says which apps the CLI added, changed or removed.
 */
import { EventEmitter } from 'node:events';
import { AppHost, type IqRequest } from './app-host.js';
import { WorkerHandle } from './worker-handle.js';
import { AppRegistry, isolationOf, type AppRecord } from '../registry/apps.js';
import type { WorkerPool } from '../workers/pool.js';
import type { AppWorkerData } from '../workers/protocol.js';
import type { Logger } from '../log/logger.js';
import type { AdapterObserver } from '../observe/metrics.js';

export interface AppsEvents {
  added: [host: AppHost];
  removed: [host: AppHost];
}

export interface AppsOptions {
  workerFile: string;
  domain: string;
  /** What every app worker is given (its name is set per thread). */
  worker: Omit<AppWorkerData, 'name' | 'shared'>;
  callTimeoutMs: number;
  /** Threads of the shared pool. */
  sharedWorkers: number;
  /** JS heap limit of each app worker thread, MB. */
  heapMb: number;
  /** An app's receive job applied `done` inbox rows and dead-lettered `dead` others. */
  onSettled?(app: string, done: number, dead: number): void;
  /** An app's thread ended while its adapter was applying inbox rows from `id` on. */
  onLostWhileApplying?(app: string, id: number): void;
  /** Told the duration and outcome of every adapter call (metrics). */
  observer?: AdapterObserver;
  /** An app's adapter sends an IQ (component/apps/app-iqs.ts). */
  onIq?(host: AppHost, request: IqRequest): void;
}

export class Apps extends EventEmitter<AppsEvents> {
  private hosts = new Map<string, AppHost>();
  /** Every live thread by name (the pool reports messages and exits by name). */
  private threads = new Map<string, WorkerHandle>();
  private readonly shared: WorkerHandle[] = [];
  private syncing: Promise<void> = Promise.resolve();

  constructor(
    private readonly registry: AppRegistry,
    private readonly pool: WorkerPool,
    private readonly opts: AppsOptions,
    private readonly log: Logger,
  ) {
    super();
    pool.on('message', (name, message) => this.threads.get(name)?.onMessage(message));
    pool.on('exit', (name) => this.threads.get(name)?.onExit());
  }

  get(name: string): AppHost | undefined {
    return this.hosts.get(name);
  }

  all(): AppHost[] {
    return [...this.hosts.values()];
  }

  /** Loads the registry and starts every app (their threads start; apps answer once their adapters are open). */
  async start(): Promise<void> {
    const records = this.registry.list();
    for (const app of records) this.launch(app);
    await Promise.all([...this.threads.values()].map((t) => this.startThread(t)));
  }

  /** These apps were added, changed or removed (the change feed's `apps` topic): bring them in line. */
  changed(names: Iterable<string>): void {
    const list = [...new Set(names)];
    this.syncing = this.syncing.then(async () => {
      for (const name of list) await this.sync(name);
    });
  }

  async stop(): Promise<void> {
    await this.syncing;
    await Promise.all([...this.threads.values()].map((t) => t.stop()));
    this.hosts.clear();
    this.threads.clear();
  }

  private async sync(name: string): Promise<void> {
    const next = this.registry.get(name);
    const host = this.hosts.get(name);
    if (host && (!next || next.updatedAt !== host.app.updatedAt || next.kind !== host.app.kind)) {
      this.hosts.delete(name);
      if (!next) {
        this.log.info({ app: name }, 'application removed');
        this.emit('removed', host);
      } else {
        this.log.info({ app: name }, 'application changed, restarting its adapter');
      }
      await host.stop();
      if (host.worker.dedicated) this.threads.delete(host.worker.name);
    }
    if (next && !this.hosts.has(name)) {
      const thread = this.launch(next);
      await this.startThread(thread);
      if (!host) {
        this.log.info({ app: name, kind: next.kind, worker: thread.name }, 'application added');
        this.emit('added', this.hosts.get(name)!);
      }
    }
  }

  /** Creates the app's host on its thread (the thread starts separately). */
  private launch(app: AppRecord): WorkerHandle {
    let thread: WorkerHandle;
    try {
      thread = isolationOf(app) === 'own' ? this.thread(`app:${app.name}`, true) : this.leastLoadedShared();
    } catch (err) {
      // An unknown kind (a registry written by a newer fedgate): the app is served by nobody, loudly.
      this.log.error({ app: app.name, err: (err as Error).message }, 'cannot place application');
      thread = this.thread(`app:${app.name}`, true);
    }
    const { domain, callTimeoutMs, onSettled, onLostWhileApplying, observer, onIq } = this.opts;
    const host = new AppHost(app, thread, { domain, callTimeoutMs, onSettled, onLostWhileApplying, observer, onIq, log: this.log });
    this.hosts.set(app.name, host);
    thread.attach(host);
    return thread;
  }

  private leastLoadedShared(): WorkerHandle {
    if (this.shared.length < this.opts.sharedWorkers && this.shared.every((t) => t.hosts.size > 0)) {
      this.shared.push(this.thread(`shared:${this.shared.length}`, false));
    }
    return this.shared.reduce((a, b) => (b.hosts.size < a.hosts.size ? b : a));
  }

  private thread(name: string, dedicated: boolean): WorkerHandle {
    const t = new WorkerHandle({
      pool: this.pool,
      workerFile: this.opts.workerFile,
      data: { ...this.opts.worker, name, shared: !dedicated },
      heapMb: this.opts.heapMb,
      dedicated,
      log: this.log,
    });
    this.threads.set(name, t);
    return t;
  }

  private async startThread(t: WorkerHandle): Promise<void> {
    try {
      await t.start();
    } catch (err) {
      this.log.error({ worker: t.name, err: (err as Error).message }, 'cannot start application worker');
    }
  }
}
