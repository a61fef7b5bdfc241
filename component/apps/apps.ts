/**
 * The running set of applications: mirrors the registry table into one AppHost (and one worker) per
 * app, and keeps it in sync while running — the CLI edits SQLite, we notice within a poll interval.
 */
import { EventEmitter } from 'node:events';
import { AppHost, type AppHostOptions } from './app-host.js';
import { AppRegistry, type AppRecord } from '../registry/apps.js';
import type { WorkerPool } from '../workers/pool.js';
import type { Logger } from '../log/logger.js';

export interface AppsEvents {
  added: [host: AppHost];
  removed: [host: AppHost];
}

export class Apps extends EventEmitter<AppsEvents> {
  private hosts = new Map<string, AppHost>();
  private version = -1;
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> = Promise.resolve();

  constructor(
    private readonly registry: AppRegistry,
    private readonly pool: WorkerPool,
    private readonly hostOptions: Omit<AppHostOptions, 'pool' | 'log'>,
    private readonly log: Logger,
  ) {
    super();
    pool.on('message', (name, message) => this.byWorker(name)?.onMessage(message));
    pool.on('exit', (name) => this.byWorker(name)?.onExit());
  }

  get(name: string): AppHost | undefined {
    return this.hosts.get(name);
  }

  all(): AppHost[] {
    return [...this.hosts.values()];
  }

  /** Loads the registry, starts the workers, and polls for changes every `pollMs`. */
  async start(pollMs = 250): Promise<void> {
    await this.sync();
    this.timer = setInterval(() => {
      if (this.registry.version() !== this.version) this.syncing = this.syncing.then(() => this.sync());
    }, pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.syncing;
    await Promise.all(this.all().map((h) => h.stop()));
    this.hosts.clear();
  }

  private byWorker(workerName: string): AppHost | undefined {
    return workerName.startsWith('app:') ? this.hosts.get(workerName.slice(4)) : undefined;
  }

  private async sync(): Promise<void> {
    this.version = this.registry.version();
    const wanted = new Map(this.registry.list().map((a) => [a.name, a]));
    for (const [name, host] of this.hosts) {
      const next = wanted.get(name);
      if (!next) {
        this.hosts.delete(name);
        this.log.info({ app: name }, 'application removed');
        this.emit('removed', host);
        await host.stop();
      } else if (next.updatedAt !== host.app.updatedAt || next.kind !== host.app.kind) {
        this.log.info({ app: name }, 'application changed, restarting its worker');
        await host.stop();
        await this.launch(next);
      }
    }
    for (const [name, app] of wanted) {
      if (this.hosts.has(name)) continue;
      await this.launch(app);
      this.log.info({ app: name, kind: app.kind }, 'application added');
      this.emit('added', this.hosts.get(name)!);
    }
  }

  private async launch(app: AppRecord): Promise<void> {
    const host = new AppHost(app, { ...this.hostOptions, pool: this.pool, log: this.log });
    this.hosts.set(app.name, host);
    try {
      await host.start();
    } catch (err) {
      this.log.error({ app: app.name, err: (err as Error).message }, 'cannot start application worker');
    }
  }
}
