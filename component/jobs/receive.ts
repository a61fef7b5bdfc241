/**
 * The receive job of one app (runs in the app's worker): applies the app's inbox rows through its
 * adapter's `deliver`, in inbox order, up to a hundred messages per call. Applied rows are marked done
 * here, in this worker's own transaction right after `deliver` returns; a failure holds the app's queue
 * and is retried with growing delays; a message that can never be applied (malformed, or refused by
 * the adapter) goes to the dead letters with the reason, as does one whose retries run out.
 */
import { AdapterError, type Adapter, type Delivery } from '../../adapters/contract.js';
import type { Inbox, InboxRow } from '../transfer/inbox.js';
import { parseXml } from '../quoalise/xml-parse.js';
import { decodeQuoalise } from '../quoalise/payload.js';
import { decodeSen1 } from '../quoalise/sen1.js';
import { QuoaliseFormatError } from '../quoalise/errors.js';
import { Backoff, retryDelayMs } from '../timing/backoff.js';
import type { Logger } from '../log/logger.js';
import { withTimeout } from './with-timeout.js';
import type { OneAtATime } from '../workers/one-at-a-time.js';
import type { Entitlements } from '../transfer/entitlements.js';
import { retentionFromJson, retentionList } from '../gdpr/retention.js';
import { isStorageFault } from '../store/sqlite-errors.js';

/** Inbox rows read, and handed to the adapter in one `deliver` call, at a time. */
const BATCH = 100;
/** After an unexpected failure of a run (a busy or failing database), the next try. */
const RETRY_AFTER_FAILURE_MS = 1000;

export interface ReceiveJobOptions {
  /** The thread's inbox (shared by the apps of a worker). */
  inbox: Inbox;
  /** The thread's entitlements (shared too; the main thread forwards the changes of consumers). */
  entitlements: Entitlements;
  app: string;
  /** The app's JID (its domain is the gateway's). */
  appJid: string;
  adapter: Adapter;
  log: Logger;
  timeoutMs: number;
  retry: { initialMs: number; maxMs: number; maxAttempts: number };
  /** How many rows were applied (and marked done) and dead-lettered: the main thread's back-pressure count. */
  onSettled(done: number, dead: number): void;
  /** A batch starting at inbox row `id` is handed to the adapter now (the main thread must hear it at once). */
  onApplying?(id: number): void;
  /** Senders the app accepts data from without a consumer (adapter contract: `senders`). */
  senders?: ReadonlySet<string>;
  /**
   * Shared by the apps of one thread: each batch, from its announcement to its settlement, runs alone,
   * so that a thread stopping mid-batch blames one app's row (workers/one-at-a-time.ts).
   */
  serial?: OneAtATime;
}

export class ReceiveJob {
  private readonly inbox: Inbox;
  /** Checked again before applying: a sender whose entitlement was removed meanwhile is not applied. */
  private readonly entitlements: Entitlements;
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Rows up to this id are applied or dead. */
  private cursor = 0;

  /** Waits after a failed run (the database busy or failing): from RETRY_AFTER_FAILURE_MS, doubling to a minute. */
  private readonly failures = new Backoff({ initialMs: RETRY_AFTER_FAILURE_MS, maxMs: 60_000 });

  // Woken by the main thread: new rows from the intake, rows queued or made due by another process
  // (`fedgate dead-letter retry`, `inbox retry`: the change feed's `inbox` topic). No polling, but a
  // timer after a failed run.
  constructor(private readonly opts: ReceiveJobOptions) {
    this.inbox = opts.inbox;
    this.entitlements = opts.entitlements;
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
      .then(() => this.failures.reset())
      .catch((err: unknown) => {
        const retryInMs = this.failures.next();
        this.opts.log.error({ err: (err as Error).stack ?? String(err), retryInMs }, 'receive job failed, trying again');
        // Rows already acknowledged to their senders wait in the inbox: never leave them to the next message.
        if (!this.stopped && !this.timer) this.timer = setTimeout(() => this.wake(), retryInMs);
      })
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
    if (this.timer) clearTimeout(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }

  private async run(): Promise<void> {
    const serial = this.opts.serial ?? ((task) => task());
    while (!this.stopped && (await serial(() => this.step()))) {
      // the next batch
    }
  }

  /** One batch, announced, applied and settled. False when there is nothing more to do now. */
  private async step(): Promise<boolean> {
    if (this.stopped) return false;
    const rows = this.inbox.head(this.opts.app, this.cursor, BATCH);
    if (rows.length === 0) return false;
    const done: number[] = [];
    let dead = 0;
    let announced = false;
    try {
      // The due rows at the head, in order: a held row holds the rows behind it. Only a row that failed
      // is held: a new row's next_attempt_at is its arrival time, which a clock stepped back since puts
      // in the future (rows acknowledged before a 2-hour step back waited for the clamp: 10 min).
      const now = Date.now();
      let held = rows.findIndex((r) => r.attempts > 0 && r.nextAttemptAt > now);
      let due = held === -1 ? rows : rows.slice(0, held);
      // A row that failed before is tried alone: if it is what stopped the thread (transfer/poison.ts),
      // the next stop is counted against it, not against the rows that came with it.
      if (due.length > 1 && due[0]!.attempts > 0) {
        due = due.slice(0, 1);
        held = -1;
      }
      // Said before decoding: a message can stop the thread there too (its size against the heap).
      if (due.length) {
        this.opts.onApplying?.(due[0]!.id);
        announced = true;
      }
      const ready: Array<{ row: InboxRow; delivery: Delivery }> = [];
      for (const row of due) {
        const delivery = this.decode(row);
        if (delivery) ready.push({ row, delivery });
        else dead++;
      }
      const outcome = ready.length ? await this.applyAll(ready) : { done: [], dead: 0, held: false };
      done.push(...outcome.done);
      dead += outcome.dead;
      const settledUpTo = outcome.held ? null : due.at(-1);
      if (outcome.held) {
        const first = ready[outcome.done.length + outcome.dead];
        if (first) this.cursor = Math.max(this.cursor, first.row.id - 1);
        return false;
      }
      if (settledUpTo) this.cursor = settledUpTo.id;
      if (held !== -1) {
        let at = rows[held]!.nextAttemptAt;
        // Never longer than the longest retry delay: a hold written while the clock was ahead would
        // otherwise hold every row behind it for as long as the clock was wrong, without a word.
        const latest = Date.now() + this.opts.retry.maxMs;
        if (at > latest && this.inbox.holdAtMost(rows[held]!.id, latest)) {
          this.opts.log.warn({ inboxId: rows[held]!.id, heldUntil: new Date(at).toISOString() }, 'an inbox row was held past the longest retry delay (a clock that was ahead?): tried again after the longest delay instead');
          at = latest;
        }
        this.timer = setTimeout(() => this.wake(), at - Date.now());
        return false;
      }
    } finally {
      // Marked done only after deliver() succeeded: a crash in between redelivers them, and adapters
      // are idempotent on the key.
      let marked = 0;
      let failed: unknown = null;
      if (done.length) {
        try {
          this.inbox.markDone(done);
          marked = done.length;
        } catch (err) {
          // Still pending in the inbox: read them again (their adapter is idempotent on the key).
          this.cursor = Math.min(this.cursor, Math.min(...done) - 1);
          failed = err;
        }
      }
      // The dead ones left the inbox whatever happened to the marks: the intake's count follows. An
      // announced batch is always settled, even with nothing to count: the main thread stops watching it.
      if (marked || dead || announced) this.opts.onSettled(marked, dead);
      if (failed) throw failed;
    }
    return true;
  }

  /** The row's delivery, or null if it can never be applied (then it is dead-lettered here). */
  private decode(row: InboxRow): Delivery | null {
    if (!this.opts.adapter.deliver) {
      this.kill(row, `application ${this.opts.app} does not accept data (its adapter has no deliver)`);
      return null;
    }
    try {
      const el = parseXml(row.payload);
      const blocks = row.format === 'quoalise' ? decodeQuoalise(el) : [decodeSen1(el).block];
      const refused = this.opts.senders?.has(row.sender) ? null : this.entitlements.firstRefused(row.sender, this.opts.appJid, new Set(blocks.flatMap((b) => b.records.map((r) => r.name))));
      if (refused !== null) {
        this.kill(row, `not applied: ${row.sender} is no longer entitled to send ${refused} to ${this.opts.appJid} (its consumer was removed after the message arrived)`);
        return null;
      }
      return {
        key: `${row.sender}/${row.stanzaId}`,
        from: row.sender,
        blocks,
        ...(row.origin !== null && row.version !== null ? { version: { origin: `${row.sender} ${row.origin}`, seq: row.version } } : {}),
        ...(row.retention !== null ? { retention: retentionList(retentionFromJson(row.retention)) ?? [] } : {}),
      };
    } catch (err) {
      if (!(err instanceof QuoaliseFormatError)) throw err;
      this.kill(row, `malformed payload: ${err.message}`);
      return null;
    }
  }

  /**
   * Applies the rows in one `deliver` call. If that fails and there were several, they are applied
   * one at a time, so that a poison message is found and only it is dead-lettered or retried.
   * Stops at the first row to retry (`held`).
   */
  private async applyAll(ready: Array<{ row: InboxRow; delivery: Delivery }>): Promise<{ done: number[]; dead: number; held: boolean }> {
    const deliver = this.opts.adapter.deliver!.bind(this.opts.adapter);
    try {
      await withTimeout(deliver(ready.map((r) => r.delivery)), this.opts.timeoutMs, 'deliver');
      return { done: ready.map((r) => r.row.id), dead: 0, held: false };
    } catch (err) {
      if (ready.length === 1) {
        const verdict = this.failed(ready[0]!.row, err);
        return { done: [], dead: verdict === 'dead' ? 1 : 0, held: verdict === 'held' };
      }
    }
    const out = { done: [] as number[], dead: 0, held: false };
    for (const r of ready) {
      if (this.stopped) return { ...out, held: true };
      try {
        await withTimeout(deliver([r.delivery]), this.opts.timeoutMs, 'deliver');
        out.done.push(r.row.id);
      } catch (err) {
        if (this.failed(r.row, err) === 'held') return { ...out, held: true };
        out.dead++;
      }
    }
    return out;
  }

  /** A failed delivery of one row: dead letter (refused for good, or retries exhausted) or held for a retry. */
  private failed(row: InboxRow, err: unknown): 'dead' | 'held' {
    if (err instanceof AdapterError && (err.kind === 'rejected' || err.kind === 'bad-request' || err.kind === 'not-found')) {
      return this.kill(row, `refused by the application: ${err.message}`);
    }
    const reason = err instanceof Error ? err.message : String(err);
    const { initialMs, maxMs, maxAttempts } = this.opts.retry;
    const retryAt = Date.now() + retryDelayMs(row.attempts + 1, initialMs, maxMs);
    const attempts = this.inbox.fail(row.id, reason, retryAt) ?? 0;
    // A full or failing disk is the receiver's trouble, not the message's: retried until it is over,
    // never a dead letter (a store's disk full for minutes had dead-lettered acknowledged messages).
    if (attempts >= maxAttempts && !isStorageFault(err)) return this.kill(row, `retries exhausted after ${attempts} attempts; last error: ${reason}`);
    this.opts.log.warn({ inboxId: row.id, attempts, retryInMs: retryAt - Date.now(), err: reason }, 'deliver failed, will retry');
    this.timer = setTimeout(() => this.wake(), retryAt - Date.now());
    return 'held';
  }

  private kill(row: InboxRow, reason: string): 'dead' {
    this.inbox.kill(row.id, reason);
    this.opts.log.warn({ inboxId: row.id, sender: row.sender, reason }, 'inbound message moved to dead letters');
    return 'dead';
  }
}
