/**
 * The receive job of one app (runs in the app's worker): applies the app's inbox rows through its
 * adapter's `deliver`, in inbox order. Applied rows are marked done; a failure holds the app's queue
 * and is retried with growing delays; a message that can never be applied (malformed, or refused by
 * the adapter) goes to the dead letters with the reason, as does one whose retries run out.
 */
import { AdapterError, type Adapter } from '../../adapters/contract.js';
import { Inbox, type InboxRow } from '../transfer/inbox.js';
import { parseXml } from '../quoalise/xml-parse.js';
import { decodeQuoalise } from '../quoalise/payload.js';
import { decodeSen1 } from '../quoalise/sen1.js';
import { QuoaliseFormatError } from '../quoalise/errors.js';
import type { DataBlock } from '../quoalise/types.js';
import { retryDelayMs } from '../xmpp/backoff.js';
import type { Db } from '../store/database.js';
import type { Logger } from '../log/logger.js';
import { withTimeout } from './with-timeout.js';

export interface ReceiveJobOptions {
  db: Db;
  app: string;
  adapter: Adapter;
  log: Logger;
  timeoutMs: number;
  retry: { initialMs: number; maxMs: number; maxAttempts: number };
  /** Rows applied (the main thread marks them done) and the number dead-lettered. */
  onSettled(done: number[], dead: number): void;
}

export class ReceiveJob {
  private readonly inbox: Inbox;
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Rows up to this id are applied or dead: the main thread marks applied rows done a moment later. */
  private cursor = 0;

  private readonly poll: NodeJS.Timeout;

  constructor(private readonly opts: ReceiveJobOptions) {
    this.inbox = new Inbox(opts.db);
    // Rows queued by another process (`fedgate dead-letter retry`) are found within a few seconds.
    this.poll = setInterval(() => this.wake(), 5000);
  }

  /** New rows may be there: run now (or right after the current run). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = true;
    void this.run()
      .catch((err: unknown) => this.opts.log.error({ err: (err as Error).stack }, 'receive job failed'))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Waits for the current run to end; no new run starts. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poll);
    if (this.timer) clearTimeout(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const rows = this.inbox.head(this.opts.app, this.cursor, 100);
      if (rows.length === 0) return;
      const done: number[] = [];
      let dead = 0;
      try {
        for (const row of rows) {
          if (this.stopped) return;
          const now = Date.now();
          if (row.nextAttemptAt > now) {
            // Order is kept: a held row holds the rows behind it.
            this.timer = setTimeout(() => this.wake(), row.nextAttemptAt - now);
            return;
          }
          const outcome = await this.apply(row);
          if (outcome === 'held') return;
          this.cursor = row.id;
          if (outcome === 'done') done.push(row.id);
          else dead++;
        }
      } finally {
        // Reported only after deliver() succeeded: a crash before the main thread marks them done
        // redelivers them, and adapters are idempotent on the key.
        if (done.length || dead) this.opts.onSettled(done, dead);
      }
    }
  }

  /** One row: 'done', 'dead' (dead-lettered) or 'held' (retry scheduled). */
  private async apply(row: InboxRow): Promise<'done' | 'dead' | 'held'> {
    const { adapter, log } = this.opts;
    if (!adapter.deliver) return this.kill(row, `application ${this.opts.app} does not accept data (its adapter has no deliver)`);
    let blocks: DataBlock[];
    try {
      const el = parseXml(row.payload);
      blocks = row.format === 'quoalise' ? decodeQuoalise(el) : [decodeSen1(el).block];
    } catch (err) {
      if (err instanceof QuoaliseFormatError) return this.kill(row, `malformed payload: ${err.message}`);
      throw err;
    }
    try {
      await withTimeout(adapter.deliver({ key: `${row.sender}/${row.stanzaId}`, from: row.sender, blocks }), this.opts.timeoutMs, 'deliver');
      return 'done';
    } catch (err) {
      if (err instanceof AdapterError && (err.kind === 'rejected' || err.kind === 'bad-request' || err.kind === 'not-found')) {
        return this.kill(row, `refused by the application: ${err.message}`);
      }
      const reason = err instanceof Error ? err.message : String(err);
      const { initialMs, maxMs, maxAttempts } = this.opts.retry;
      const retryAt = Date.now() + retryDelayMs(row.attempts + 1, initialMs, maxMs);
      const attempts = this.inbox.fail(row.id, reason, retryAt);
      if (attempts >= maxAttempts) return this.kill(row, `retries exhausted after ${attempts} attempts; last error: ${reason}`);
      log.warn({ inboxId: row.id, attempts, retryInMs: retryAt - Date.now(), err: reason }, 'deliver failed, will retry');
      this.timer = setTimeout(() => this.wake(), retryAt - Date.now());
      return 'held';
    }
  }

  private kill(row: InboxRow, reason: string): 'dead' {
    this.inbox.kill(row.id, reason);
    this.opts.log.warn({ inboxId: row.id, sender: row.sender, reason }, 'inbound message moved to dead letters');
    return 'dead';
  }
}
