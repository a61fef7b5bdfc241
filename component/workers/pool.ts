/**
 * The worker threads, managed by bree: long-lived workers (one per application, the sender) are bree
 * jobs without a schedule, started and stopped here; bree tracks them and hands us their messages.
 */
import Bree from 'bree';
import { EventEmitter } from 'node:events';
import type { WorkerOptions } from 'node:worker_threads';
import type { Logger } from '../log/logger.js';
import { describeWorkerError } from './worker-error.js';

export interface PoolEvents {
  message: [name: string, message: unknown];
  exit: [name: string];
}

export class WorkerPool extends EventEmitter<PoolEvents> {
  private readonly bree: Bree;

  constructor(private readonly log: Logger) {
    super();
    this.bree = new Bree({
      root: false,
      doRootCheck: false,
      jobs: [],
      // bree logs (message, metadata); keep its chatter at debug and its errors visible.
      logger: {
        info: (m: unknown) => log.debug(String(m)),
        warn: (m: unknown) => log.warn(String(m)),
        error: (m: unknown) => log.error(String(m)),
      } as never,
      errorHandler: (err: unknown, meta: { name: string }) => log.error({ worker: meta.name, err: describeWorkerError(err) }, 'worker failed'),
      workerMessageHandler: ({ name, message }: { name: string; message: unknown }) => this.emit('message', name, message),
    });
    this.bree.on('worker deleted', (name: string) => this.emit('exit', name));
  }

  /** Starts a long-lived worker from a compiled file with the given workerData (and Worker options, e.g. resourceLimits). */
  async start(name: string, path: string, workerData: object, options: Omit<WorkerOptions, 'workerData'> = {}): Promise<void> {
    if (this.bree.config.jobs.some((j: { name: string }) => j.name === name)) await this.bree.remove(name);
    await this.bree.add({ name, path, worker: { ...options, workerData } });
    await this.bree.run(name);
  }

  /** Starts a long-lived worker and starts it again (after a pause) whenever it dies, until `stop`. */
  async supervise(name: string, path: string, workerData: object, restartMs = 1000): Promise<void> {
    this.supervised.add(name);
    const again = (exited: string) => {
      if (exited !== name || !this.supervised.has(name)) return;
      this.log.error({ worker: name, retryInMs: restartMs }, 'worker exited, restarting');
      setTimeout(() => {
        if (this.supervised.has(name)) this.bree.run(name).catch((err: unknown) => this.log.error({ worker: name, err: (err as Error).message }, 'worker restart failed'));
      }, restartMs).unref();
    };
    this.on('exit', again);
    await this.start(name, path, workerData);
  }

  private readonly supervised = new Set<string>();

  /** Runs a short job now and then every `intervalMs` (a new worker per run; bree skips a run while the last one runs). */
  async schedule(name: string, path: string, intervalMs: number, workerData: object): Promise<void> {
    await this.bree.add({ name, path, timeout: 0, interval: intervalMs, worker: { workerData } });
    await this.bree.start(name);
  }

  /**
   * Runs a short job once, in a fresh worker, at `at` (ms since the epoch; at once if that is past),
   * replacing whatever was planned under that name. Plain timers: keep `at` within 24 days.
   */
  async runAt(name: string, path: string, at: number, workerData: object): Promise<void> {
    if (this.bree.config.jobs.some((j: { name: string }) => j.name === name)) await this.bree.remove(name);
    if (at <= Date.now()) {
      await this.bree.add({ name, path, worker: { workerData } });
      await this.bree.run(name);
      return;
    }
    await this.bree.add({ name, path, date: new Date(at), worker: { workerData } });
    await this.bree.start(name);
  }

  post(name: string, message: unknown): boolean {
    const w = this.bree.workers.get(name);
    if (!w) return false;
    w.postMessage(message);
    return true;
  }

  /** Asks the worker to finish (it closes its adapter), terminates it after graceMs, forgets the job. */
  async stop(name: string, graceMs = 5000): Promise<void> {
    this.supervised.delete(name);
    const w = this.bree.workers.get(name);
    if (w) {
      const kill = setTimeout(() => void w.terminate(), graceMs);
      await this.bree.stop(name);
      clearTimeout(kill);
    }
    if (this.bree.config.jobs.some((j: { name: string }) => j.name === name)) await this.bree.remove(name);
  }

  /** Ends a stuck worker at once (its adapter gets no chance to close). */
  async terminate(name: string): Promise<void> {
    await this.bree.workers.get(name)?.terminate();
  }
}
