/**
 * The purge: deletes what is past its retention — in each app's own records (its policies, by record
 * time; and what its sources limited, by the expiry carried with the data) and in fedgate's queues
 * (outbox, inbox, dead letters: messages all of whose records are past retention). In bounded batches,
 * one short transaction each, so that the gateway keeps writing meanwhile. Run hourly by a bree job
 * (component/jobs/purge-job.ts) and on demand by `fedgate retention purge [--dry-run]`.
 */
import type { Db } from '../store/database.js';
import type { Logger } from '../log/logger.js';
import type { ForgetRequest } from '../../adapters/contract.js';
import { appStorages, forgetTelling } from './app-storage.js';
import { RetentionPolicies } from './retention-policies.js';
import { cutoff, parsePeriod } from './retention.js';
import { traceOf } from '../trace/trace.js';

/** Rows deleted per transaction in fedgate's own tables. */
const BATCH = 500;

export interface PurgeReport {
  dryRun: boolean;
  /** When the purge looked (ms since the epoch). */
  at: number;
  outbox: number;
  inbox: number;
  deadLetters: number;
  /** Records deleted from each app's own storage, per rule. */
  apps: Array<{ app: string; series: string; rule: string; records: number }>;
}

export interface PurgeOptions {
  db: Db;
  /** fedgate's database path (adapters keep their files next to it). */
  databasePath: string;
  domain: string;
  log: Logger;
  dryRun?: boolean;
  now?: number;
}

const QUEUES = [
  { key: 'outbox', table: 'outbox', where: 'expires_at <= ?' },
  // Applied and dead rows keep no data (only their ids, for duplicates): only pending ones hold records.
  { key: 'inbox', table: 'inbox', where: "expires_at <= ? AND state = 'pending'" },
  { key: 'deadLetters', table: 'dead_letters', where: 'expires_at <= ?' },
] as const;

export async function purge(opts: PurgeOptions): Promise<PurgeReport> {
  const now = opts.now ?? Date.now();
  const report: PurgeReport = { dryRun: !!opts.dryRun, at: now, outbox: 0, inbox: 0, deadLetters: 0, apps: [] };
  for (const q of QUEUES) report[q.key] = await purgeTable(opts.db, q.key, q.table, q.where, now, !!opts.dryRun);
  const policies = new RetentionPolicies(opts.db);
  for (const { app, module, ctx } of appStorages(opts.db, opts)) {
    if (!module.forget) continue;
    const rules: Array<{ series: string; rule: string; request: ForgetRequest }> = policies
      .list(app.name)
      .map((p) => ({ series: p.series, rule: `older than ${p.period}`, request: { series: p.series, before: cutoff(now / 1000, parsePeriod(p.period)) } }));
    rules.push({ series: '*', rule: 'past the retention its source set', request: { series: '*', expired: now / 1000 } });
    for (const r of rules) {
      // Logged as soon as the app's storage has committed each part (its own file: not in one
      // transaction with it), or at the end for an adapter that deletes in one go.
      const log = (records: number) => void traceOf(opts.db).write('purge.records', { app: app.name, series: r.series, rule: r.rule, records });
      const records = opts.dryRun ? (await module.forget(ctx, { ...r.request, dryRun: true })).records : await forgetTelling({ module, ctx }, r.request, log);
      if (records > 0) report.apps.push({ app: app.name, series: r.series, rule: r.rule, records });
    }
  }
  const purged = report.outbox + report.inbox + report.deadLetters + report.apps.length;
  if (!report.dryRun && purged > 0) {
    // The transparency log records that data was erased and how much (never what): the tree holds none of it.
    traceOf(opts.db).write('purge', {
      outbox: report.outbox,
      inbox: report.inbox,
      deadLetters: report.deadLetters,
      records: Object.fromEntries(report.apps.map((x) => [`${x.app} ${x.series} (${x.rule})`, x.records])),
    });
  }
  return report;
}

async function purgeTable(db: Db, queue: string, table: string, where: string, now: number, dryRun: boolean): Promise<number> {
  if (dryRun) return db.prepare(`SELECT count(*) FROM ${table} WHERE ${where}`).pluck().get(now) as number;
  const batch = db.prepare(`DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE ${where} LIMIT ${BATCH})`);
  let total = 0;
  for (;;) {
    const t = performance.now();
    // Each batch is logged in its own transaction: a crash between batches leaves none unrecorded.
    const n = db
      .transaction(() => {
        const deleted = batch.run(now).changes;
        if (deleted > 0) traceOf(db).write('purge.queue', { queue, messages: deleted });
        return deleted;
      })
      .immediate();
    total += n;
    if (n < BATCH) return total;
    // As long a pause as the batch took: the gateway's writers get the lock in between.
    await new Promise((r) => setTimeout(r, Math.max(1, Math.ceil(performance.now() - t))));
  }
}

/** One line for the log and the CLI. */
export function describePurge(r: PurgeReport): string {
  const verb = r.dryRun ? 'would delete' : 'deleted';
  const apps = r.apps.map((a) => `${a.records} record(s) of ${a.app} (${a.series}, ${a.rule})`);
  const queues = [`${r.outbox} outbox`, `${r.inbox} inbox`, `${r.deadLetters} dead-letter`].join(', ');
  return `retention purge ${verb}: ${apps.length ? `${apps.join('; ')}; ` : 'no app record; '}messages past retention: ${queues}`;
}
