/**
 * The extract jobs of one app (run in the app's worker): for each consumer whose source is this app,
 * pull the records after the consumer's cursor from the adapter — on its schedule, or as soon as the
 * adapter reports new data — and write the outbox rows and the new cursor in ONE transaction, so a
 * record can be neither skipped nor taken twice, whatever crashes when.
 */
import { BroadcastChannel } from 'node:worker_threads';
import type { Adapter } from '../../adapters/contract.js';
import { ConsumerStore, type Consumer } from '../transfer/consumers.js';
import { Outbox, type NewOutboxMessage } from '../delivery/outbox.js';
import { nextRunDelay, parseSchedule, type Schedule } from '../transfer/schedule.js';
import { encodeQuoalise } from '../quoalise/payload.js';
import { canonicalPayloadDigest } from '../trace/digest.js';
import type { DataBlock } from '../quoalise/types.js';
import type { Db } from '../store/database.js';
import type { Logger } from '../log/logger.js';
import { OUTBOX_CHANNEL } from '../delivery/protocol.js';
import { withTimeout } from './with-timeout.js';
import { Authorizer } from '../authz/authorizer.js';
import { Backoff } from '../timing/backoff.js';
import { ConsentStore } from '../consent/consent-store.js';
import { RetentionPolicies } from '../gdpr/retention-policies.js';
import { addPeriod, encodeRetention, lastExpiryMs, parsePeriod, type CarriedRetention } from '../gdpr/retention.js';

export interface ExtractJobsOptions {
  db: Db;
  appJid: string;
  adapter: Adapter;
  log: Logger;
  timeoutMs: number;
}

interface Job {
  consumer: Consumer;
  schedule: Schedule;
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

export class ExtractJobs {
  private readonly consumers: ConsumerStore;
  private readonly outbox: Outbox;
  private readonly channel = new BroadcastChannel(OUTBOX_CHANNEL);
  private jobs = new Map<number, Job>();
  private version = -1;
  private poll: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly advance;
  private readonly consents: ConsentStore;

  constructor(private readonly opts: ExtractJobsOptions) {
    this.consumers = new ConsumerStore(opts.db);
    this.consents = new ConsentStore(opts.db);
    this.outbox = new Outbox(opts.db);
    this.advance = opts.db.prepare(
      'UPDATE consumers SET cursor = ?, last_run_at = ?, last_error = NULL WHERE id = ? AND cursor IS ?',
    );
  }

  /** Loads this app's consumers and follows changes to them (CLI edits, new subscriptions). */
  start(pollMs = 250): void {
    this.sync();
    this.poll = setInterval(() => {
      if (this.consumers.version() !== this.version) this.sync();
    }, pollMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    for (const j of this.jobs.values()) if (j.timer) clearTimeout(j.timer);
    while ([...this.jobs.values()].some((j) => j.running)) await new Promise((r) => setTimeout(r, 10));
    this.channel.close();
  }

  /** The adapter has new data: run the on-change consumers now. */
  dataChanged(): void {
    for (const j of this.jobs.values()) if (j.schedule.type === 'on-change') this.run(j);
  }

  private sync(): void {
    this.version = this.consumers.version();
    const wanted = new Map(this.consumers.list({ source: this.opts.appJid }).map((c) => [c.id, c]));
    for (const [id, j] of this.jobs) {
      const c = wanted.get(id);
      if (!c || c.schedule !== j.consumer.schedule || c.series !== j.consumer.series || c.batch !== j.consumer.batch || c.destination !== j.consumer.destination) {
        if (j.timer) clearTimeout(j.timer);
        this.jobs.delete(id);
      }
    }
    for (const [id, c] of wanted) {
      if (this.jobs.has(id)) continue;
      const schedule = parseSchedule(c.schedule);
      if (schedule.type === 'none') continue;
      const job: Job = { consumer: c, schedule, timer: null, running: false, again: false, retry: new Backoff(RETRY) };
      this.jobs.set(id, job);
      // A new or restarted job catches up at once: records may have arrived while nobody ran it.
      this.run(job);
    }
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
        this.opts.db.prepare('UPDATE consumers SET last_error = ?, last_run_at = ? WHERE id = ?').run(msg, Date.now(), job.consumer.id);
      })
      .finally(() => {
        job.running = false;
        if (!this.jobs.has(job.consumer.id) || this.stopped) return;
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
      const c = this.consumers.get(job.consumer.id);
      if (!c) return;
      if (c.kind === 'subscription' && !(await this.stillAuthorized(c))) return;
      const limit = Math.min(10_000, c.batch * READ_MESSAGES);
      const batch = await withTimeout(extract({ series: c.series, cursor: c.cursor, limit }), this.opts.timeoutMs, 'extract');
      const messages = this.messages(c, batch.blocks);
      const committed = this.opts.db.transaction(() => {
        // The cursor check makes a concurrent or replayed run harmless: only one can advance it.
        if (this.advance.run(batch.cursor, Date.now(), c.id, c.cursor).changes !== 1) return false;
        this.outbox.enqueue(messages);
        return true;
      })();
      if (!committed) return;
      job.consumer = { ...c, cursor: batch.cursor };
      if (messages.length) this.channel.postMessage([c.destination]);
      if (!batch.more) return;
    }
  }

  /**
   * A subscriber whose consent was withdrawn or expired gets nothing more: the records written meanwhile
   * are skipped (the cursor moves to the current end), so that a later grant does not release them.
   */
  private async stillAuthorized(c: Consumer): Promise<boolean> {
    // Only the records that concern this subscriber are read (an indexed query): the worker holds none.
    const app = this.opts.appJid.split('@')[0]!;
    const decision = new Authorizer(this.consents, undefined, { app, requester: c.destination }).authorize({ app, requester: c.destination, series: c.series, at: Date.now(), processing: 'subscribe' });
    if (decision.allowed) return true;
    const end = await withTimeout(this.opts.adapter.extract!({ series: c.series, cursor: null, limit: 0 }), this.opts.timeoutMs, 'extract');
    this.opts.db
      .prepare('UPDATE consumers SET cursor = ?, last_run_at = ?, last_error = ? WHERE id = ?')
      .run(end.cursor, Date.now(), `not pushed: ${decision.reason}`, c.id);
    return false;
  }

  /**
   * Cuts blocks into messages of at most `batch` records, one metadata group per message. Each carries
   * the retention of its series beside its Quoalise payload — the app's policies (`max-age`) and the
   * limit the destination's consent sets from now (`until`) — and knows when all its records will be past it.
   */
  private messages(c: Consumer, blocks: DataBlock[]): NewOutboxMessage[] {
    const out: NewOutboxMessage[] = [];
    if (blocks.length === 0) return out;
    const app = this.opts.appJid.slice(0, this.opts.appJid.indexOf('@'));
    const names = new Set(blocks.flatMap((b) => b.records.map((r) => r.name)));
    const retention = new RetentionPolicies(this.opts.db).carried(app, names);
    // The consent (or grant) that lets the destination have these series may limit how long it keeps
    // them, from now: that limit travels too, as an absolute `until` beside the app's `max-age`.
    const now = Date.now();
    const scoped = new Authorizer(this.consents, undefined, { app, requester: c.destination });
    const processing = c.kind === 'subscription' ? 'subscribe' : 'read';
    for (const series of names) {
      const d = scoped.authorize({ app, requester: c.destination, series, at: now, processing });
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

