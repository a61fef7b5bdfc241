/**
 * The extract jobs of one app (run in the app's worker): for each consumer whose source is this app,
 * pull the records after the consumer's cursor from the adapter — on its schedule, or as soon as the
 * adapter reports new data — and write the outbox rows and the new cursor in ONE transaction, so a
 * record can be neither skipped nor taken twice, whatever crashes when.
 *
 * Cost follows what changed: a write wakes only the on-change consumers of the series written (exact
 * identifiers are looked up in a map, globs tested one by one), and an extract that finds nothing
 * writes nothing — its cursor moves in memory only, and is committed with the next records.
 */
import type { BroadcastChannel } from 'node:worker_threads';
import type { Adapter, ExtractBatch } from '../../adapters/contract.js';
import type { ConsumerStore, Consumer } from '../transfer/consumers.js';
import type { Outbox, NewOutboxMessage } from '../delivery/outbox.js';
import { nextRunDelay, parseSchedule, type Schedule } from '../transfer/schedule.js';
import { isPattern, seriesMatcher } from '../transfer/series-pattern.js';
import { encodeQuoalise } from '../quoalise/payload.js';
import { canonicalPayloadDigest } from '../trace/digest.js';
import type { DataBlock } from '../quoalise/types.js';
import { cachedStatement, type Db } from '../store/database.js';
import type { Logger } from '../log/logger.js';
import { Authorizer } from '../authz/authorizer.js';
import { withTimeout } from './with-timeout.js';
import { Backoff } from '../timing/backoff.js';
import type { ConsentStore } from '../consent/consent-store.js';
import { RetentionPolicies } from '../gdpr/retention-policies.js';
import { addPeriod, encodeRetention, lastExpiryMs, parsePeriod, type CarriedRetention } from '../gdpr/retention.js';

export interface ExtractJobsOptions {
  db: Db;
  appJid: string;
  adapter: Adapter;
  log: Logger;
  timeoutMs: number;
  consumers: ConsumerStore;
  outbox: Outbox;
  /** Where new outbox rows are announced (their destinations), for the send worker. */
  outboxChannel: BroadcastChannel;
  /** Subscription pushes stop when the subscriber's consent (or grant) is gone. */
  consents: ConsentStore;
}

interface Job {
  consumer: Consumer;
  schedule: Schedule;
  /** For globs: does a series identifier belong to this consumer? */
  matches: ((series: string) => boolean) | null;
  /** The cursor stored in SQLite, as far as this job knows (the compare-and-set of the next commit). */
  committed: string | null;
  /** Where the next extract starts: ahead of `committed` after extracts that found nothing. */
  cursor: string | null;
  timer: NodeJS.Timeout | null;
  running: boolean;
  again: boolean;
  /** Delays before retrying a failed run (the system was down, or sent data it must fix first). */
  retry: Backoff;
}

/** A failed run is retried after 1 s, doubling to 1 min, until one succeeds: an on-change consumer may get no other wake-up. */
const RETRY = { initialMs: 1000, maxMs: 60_000 };

/** Records read from the adapter per call: ten messages' worth, at most 10,000. */
const READ_MESSAGES = 10;

function hasRecords(batch: ExtractBatch): boolean {
  return batch.blocks.some((b) => b.records.length > 0);
}

export class ExtractJobs {
  private readonly jobs = new Map<number, Job>();
  /** On-change jobs of an exact series identifier, by identifier. */
  private readonly onChangeExact = new Map<string, Set<Job>>();
  /** On-change jobs of a glob. */
  private readonly onChangeGlob = new Set<Job>();
  private stopped = false;
  private readonly app: string;
  /** When each consumer's extract last returned series it does not take (warned once a minute). */
  private readonly foreignWarnedAt = new Map<number, number>();
  /** The app's retention policies, carried by every message (read afresh at each call). */
  private readonly policies: RetentionPolicies;

  constructor(private readonly opts: ExtractJobsOptions) {
    this.app = opts.appJid.split('@')[0]!;
    this.policies = new RetentionPolicies(opts.db);
  }

  /** Loads this app's consumers; each catches up at once (records may have arrived while nobody ran it). */
  start(): void {
    for (const c of this.opts.consumers.list({ source: this.opts.appJid })) this.place(c);
  }

  /** These consumers were added, changed or removed (the change feed, through the main thread): read them again. */
  update(ids: readonly number[]): void {
    for (const id of ids) {
      const c = this.opts.consumers.get(id);
      const job = this.jobs.get(id);
      const mine = c !== undefined && c.source === this.opts.appJid;
      if (job && (!mine || c.schedule !== job.consumer.schedule || c.series !== job.consumer.series || c.batch !== job.consumer.batch || c.destination !== job.consumer.destination || c.kind !== job.consumer.kind)) {
        this.remove(job);
      }
      if (mine && !this.jobs.has(id)) this.place(c);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const j of this.jobs.values()) if (j.timer) clearTimeout(j.timer);
    while ([...this.jobs.values()].some((j) => j.running)) await new Promise((r) => setTimeout(r, 10));
  }

  /** The adapter has new data in `series` (null: in any series): run the on-change consumers concerned. */
  dataChanged(series: readonly string[] | null): void {
    if (series === null) {
      for (const set of this.onChangeExact.values()) for (const j of set) this.run(j);
      for (const j of this.onChangeGlob) this.run(j);
      return;
    }
    for (const s of series) for (const j of this.onChangeExact.get(s) ?? []) this.run(j);
    if (this.onChangeGlob.size === 0) return;
    for (const j of this.onChangeGlob) if (series.some((s) => j.matches!(s))) this.run(j);
  }

  private place(c: Consumer): void {
    const schedule = parseSchedule(c.schedule);
    if (schedule.type === 'none') return;
    const glob = isPattern(c.series);
    const job: Job = { consumer: c, schedule, matches: glob ? seriesMatcher(c.series) : null, committed: c.cursor, cursor: c.cursor, timer: null, running: false, again: false, retry: new Backoff(RETRY) };
    this.jobs.set(c.id, job);
    if (schedule.type === 'on-change') {
      if (glob) this.onChangeGlob.add(job);
      else {
        let set = this.onChangeExact.get(c.series);
        if (!set) this.onChangeExact.set(c.series, (set = new Set()));
        set.add(job);
      }
    }
    this.run(job);
  }

  private remove(job: Job): void {
    if (job.timer) clearTimeout(job.timer);
    this.jobs.delete(job.consumer.id);
    this.foreignWarnedAt.delete(job.consumer.id);
    this.onChangeGlob.delete(job);
    const set = this.onChangeExact.get(job.consumer.series);
    if (set?.delete(job) && set.size === 0) this.onChangeExact.delete(job.consumer.series);
  }

  private run(job: Job): void {
    if (this.stopped || !this.opts.adapter.extract) return;
    if (job.running) {
      job.again = true;
      return;
    }
    if (job.timer) clearTimeout(job.timer);
    job.timer = null;
    job.running = true;
    let failed = false;
    void this.drain(job)
      .then(() => job.retry.reset())
      .catch((err: unknown) => {
        failed = true;
        const msg = err instanceof Error ? err.message : String(err);
        this.opts.log.warn({ consumer: job.consumer.id, err: msg }, 'extract failed');
        // The disk that made the extract fail (full, failing) fails this note too: the warning above
        // says it, and the retry below must still be planned (a throw here ended the whole thread).
        try {
          cachedStatement(this.opts.db, 'UPDATE consumers SET last_error = ?, last_run_at = ? WHERE id = ?').run(msg, Date.now(), job.consumer.id);
        } catch (noteErr) {
          this.opts.log.warn({ consumer: job.consumer.id, err: (noteErr as Error).message }, 'could not note why the extract failed');
        }
      })
      .finally(() => {
        job.running = false;
        if (this.jobs.get(job.consumer.id) !== job || this.stopped) return;
        if (job.again) {
          job.again = false;
          this.run(job);
          return;
        }
        const scheduled = nextRunDelay(job.schedule, Date.now());
        const delay = failed ? Math.min(job.retry.next(), scheduled ?? Infinity) : scheduled;
        if (delay !== null) job.timer = setTimeout(() => this.run(job), failed ? delay : Math.max(delay, 1000));
      });
  }

  /** Extracts until the adapter says there is nothing more right now. */
  private async drain(job: Job): Promise<void> {
    const extract = this.opts.adapter.extract!.bind(this.opts.adapter);
    for (;;) {
      const c = this.opts.consumers.get(job.consumer.id);
      if (!c) return;
      // Moved by someone else (a restart of this app elsewhere, an operator): start from there.
      if (c.cursor !== job.committed) job.committed = job.cursor = c.cursor;
      // The consent records that concern this destination, read at most once a pass (an indexed query:
      // the worker holds none): they decide whether a subscriber still gets pushes and how long it may keep them.
      let read: Authorizer | undefined;
      const consents = () => (read ??= new Authorizer(this.opts.consents, undefined, { app: this.app, requester: c.destination }));
      if (c.kind === 'subscription' && !(await this.stillAuthorized(c, job, consents()))) return;
      const limit = Math.min(10_000, c.batch * READ_MESSAGES);
      const batch = await withTimeout(extract({ series: c.series, cursor: job.cursor, limit }), this.opts.timeoutMs, 'extract');
      if (hasRecords(batch) && batch.cursor === job.cursor) {
        // Records, but no progress: queuing them would send the same records again at every pass, forever
        // (an operator's extract query that returns the cursor it was given).
        throw new Error(`extract returned records but the same cursor (${String(job.cursor).slice(0, 60)}): it must move past what it returned`);
      }
      if (!hasRecords(batch)) {
        // Nothing for this consumer: no write. The position found is kept for the next extract.
        job.cursor = batch.cursor;
        return;
      }
      const messages = this.messages(c, batch.blocks, consents());
      const committed = this.opts.db.transaction(() => {
        // The cursor check makes a concurrent or replayed run harmless: only one can advance it.
        const advanced = cachedStatement(this.opts.db, 'UPDATE consumers SET cursor = ?, last_run_at = ?, last_error = NULL WHERE id = ? AND cursor IS ?').run(
          batch.cursor,
          Date.now(),
          c.id,
          job.committed,
        );
        if (advanced.changes !== 1) return false;
        this.opts.outbox.enqueue(messages);
        return true;
      }).immediate();
      if (!committed) return;
      job.consumer = c;
      job.committed = job.cursor = batch.cursor;
      this.opts.outboxChannel.postMessage([c.destination]);
      if (!batch.more) return;
    }
  }

  /**
   * A subscriber whose consent was withdrawn or expired gets nothing more: the records written meanwhile
   * are skipped (the cursor moves to the current end), so that a later grant does not release them.
   */
  private async stillAuthorized(c: Consumer, job: Job, consents: Authorizer): Promise<boolean> {
    const decision = consents.authorize({
      app: this.app,
      requester: c.destination,
      series: c.series,
      at: Date.now(),
      processing: 'subscribe',
    });
    if (decision.allowed) return true;
    const end = await withTimeout(this.opts.adapter.extract!({ series: c.series, cursor: null, limit: 0 }), this.opts.timeoutMs, 'extract');
    cachedStatement(this.opts.db, 'UPDATE consumers SET cursor = ?, last_run_at = ?, last_error = ? WHERE id = ?').run(end.cursor, Date.now(), `not pushed: ${decision.reason}`, c.id);
    job.committed = job.cursor = end.cursor;
    return false;
  }

  /**
   * Cuts blocks into messages of at most `batch` records, one metadata group per message. Each carries
   * the retention of its series beside its Quoalise payload — the app's policies (`max-age`) and the
   * limit the destination's consent sets from now (`until`) — and knows when all its records will be past it.
   */
  private messages(c: Consumer, extracted: DataBlock[], consents: Authorizer): NewOutboxMessage[] {
    const out: NewOutboxMessage[] = [];
    const app = this.app;
    const names = new Set(extracted.flatMap((b) => b.records.map((r) => r.name)));
    // Only the consumer's series leave, whatever the adapter returned (an operator's extract query that
    // ignores the series, an adapter's bug): the rest is skipped with the cursor, and said.
    const ours = seriesMatcher(c.series);
    const foreign = [...names].filter((n) => !ours(n));
    let blocks = extracted;
    if (foreign.length > 0) {
      for (const n of foreign) names.delete(n);
      blocks = extracted.map((b) => ({ meta: b.meta, records: b.records.filter((r) => names.has(r.name)) })).filter((b) => b.records.length > 0);
      const now = Date.now();
      if (now - (this.foreignWarnedAt.get(c.id) ?? -Infinity) >= 60_000) {
        this.foreignWarnedAt.set(c.id, now);
        this.opts.log.warn({ consumer: c.id, series: c.series, foreign: foreign.slice(0, 5), count: foreign.length }, 'extract returned records of series the consumer does not take: not sent (said once a minute)');
      }
    }
    if (blocks.length === 0) return out;
    const retention = this.policies.carried(app, names);
    // The consent (or grant) that lets the destination have these series may limit how long it keeps
    // them, from now: that limit travels too, as an absolute `until` beside the app's `max-age`.
    const now = Date.now();
    const processing = c.kind === 'subscription' ? 'subscribe' : 'read';
    for (const series of names) {
      const d = consents.authorize({ app, requester: c.destination, series, at: now, processing });
      if (d.retention) retention.set(series, { ...retention.get(series), until: addPeriod(Math.floor(now / 1000), parsePeriod(d.retention)) });
    }
    for (const b of blocks) {
      for (let i = 0; i < b.records.length; i += c.batch) {
        const records = b.records.slice(i, i + c.batch);
        const series = [...new Set(records.map((r) => r.name))];
        const carried: CarriedRetention = new Map(series.filter((s) => retention.has(s)).map((s) => [s, retention.get(s)!]));
        const payload = encodeQuoalise([{ meta: b.meta, records }]) + encodeRetention(carried);
        out.push({
          consumerId: c.id,
          kind: c.kind === 'subscription' ? 'push' : 'flow',
          sender: this.opts.appJid,
          destination: c.destination,
          payload,
          digest: canonicalPayloadDigest(payload),
          records: records.length,
          series,
          expiresAt: lastExpiryMs(carried, records),
        });
      }
    }
    return out;
  }
}

