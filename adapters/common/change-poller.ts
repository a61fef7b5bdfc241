/**
 * Watches an external system for new data by polling a cheap "where does the data end now" probe, and
 * tells the core (`dataChanged`) when the answer moves, so that on-change consumers extract at once.
 * While the system is unreachable the probe is retried with exponential backoff and jitter; the first
 * success after an outage counts as a change (the extract jobs catch up on what came meanwhile).
 */
import { Backoff } from '../../component/timing/backoff.js';
import type { Logger } from '../../component/log/logger.js';

export interface ChangePollerOptions {
  /** Returns a token that changes when new data is there (e.g. the cursor of the current end). */
  probe(): Promise<string>;
  onChange(): void;
  everyMs: number;
  /** Cap of the backoff while the probe fails. */
  maxBackoffMs: number;
  log: Logger;
  /** What is polled, for the logs ("PostgreSQL 127.0.0.1:5432/zabbix"). */
  what: string;
}

export class ChangePoller {
  private last: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failing = false;
  private stopped = false;
  private readonly backoff: Backoff;

  constructor(private readonly opts: ChangePollerOptions) {
    this.backoff = new Backoff({ initialMs: Math.min(opts.everyMs, 200), maxMs: opts.maxBackoffMs });
  }

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    let token: string;
    try {
      token = await this.opts.probe();
    } catch (err) {
      const delay = this.backoff.next();
      if (!this.failing) this.opts.log.warn({ err: (err as Error).message, retryInMs: delay }, `${this.opts.what} unreachable; retrying with backoff`);
      this.failing = true;
      return this.schedule(delay);
    }
    if (this.failing) this.opts.log.info(`${this.opts.what} reachable again`);
    const recovered = this.failing;
    this.failing = false;
    this.backoff.reset();
    const changed = this.last !== null && token !== this.last;
    this.last = token;
    if (changed || recovered) this.opts.onChange();
    this.schedule(this.opts.everyMs);
  }
}
