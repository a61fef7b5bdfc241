/**
 * The right to erasure (GDPR Art. 17) reaching the recipients (Art. 19): `fedgate gdpr erase SUBJECT
 * [--series GLOB]`. In order:
 *
 * 1. the person's data in fedgate's queues (outbox, inbox, dead letters: component/gdpr/queues.ts);
 * 2. their records in each app's storage, through the adapter contract's `forget`;
 * 3. the consents about them end (an event with the reason, through the consent store's one append
 *    function: the running gateway stops the subscriptions and tells the recipients);
 * 4. one erasure request per recipient that received the data according to the transparency log (and
 *    per destination of a message that held it and may have been on its way), queued in the outbox
 *    with the record of the erasure and its `gdpr.erasure` log entry, in one transaction — so the
 *    requests survive restarts and are signed, confirmed and retried like data.
 *
 * The log keeps identifiers and digests, never data: nothing in it is erased, and it records that the
 * erasure happened (`fedgate audit verify` still passes).
 */
import type { Db } from '../store/database.js';
import type { Logger } from '../log/logger.js';
import { patternCovers, patternsOverlap } from '../transfer/series-pattern.js';
import { ConsentStore, type Actor } from '../consent/consent-store.js';
import { isOpen } from '../consent/model.js';
import type { Subject } from '../consent/parties.js';
import { Outbox, instanceToken } from '../delivery/outbox.js';
import { LanesTable } from '../delivery/lanes-table.js';
import { traceOf } from '../trace/trace.js';
import { appStorages, forgetTelling } from './app-storage.js';
import { Disclosures } from './disclosures.js';
import { eraseFromQueues } from './queues.js';
import { ErasureError, ErasureStore, type ErasedHere } from './erasure-store.js';

export { ErasureError };
import { erasePayload } from './wire.js';


export interface EraseOptions {
  db: Db;
  databasePath: string;
  domain: string;
  log: Logger;
  subject: Subject;
  /** Erase only these of the subject's series (a glob within theirs); default: all of them. */
  series?: string;
  reason: string;
  /** Who erases (the operator at the CLI), as the actor of the consent events. */
  actor: Actor;
  now?: number;
}

export interface EraseReport {
  erasure: number;
  subject: string;
  series: string[];
  erased: ErasedHere;
  requests: Array<{ request: string; app: string; recipient: string }>;
  entry: number;
}

/** The globs to erase: the subject's, or the narrower one asked for. */
export function erasureScope(subject: Subject, series?: string): string[] {
  if (series === undefined) return subject.series;
  if (!subject.series.some((g) => patternCovers(g, series))) {
    throw new ErasureError(`${series} is not within the series of ${subject.name} (${subject.series.join(', ')}): erase only what is about them`);
  }
  return [series];
}

export async function erase(o: EraseOptions): Promise<EraseReport> {
  const now = o.now ?? Date.now();
  const scope = erasureScope(o.subject, o.series);
  const disclosures = new Disclosures(o.db);
  disclosures.catchUp();
  const store = new ErasureStore(o.db);

  // 0. The run, before anything is deleted: each step below commits on its own (the app's storage is
  // another file), so what the last step needs is kept in it as it is learnt. A run a crash cut short
  // is resumed here, with what it erased and the destinations it found.
  const { run, erased: before, resumed } = store.erasureRun(o.subject.name, scope, now);
  traceOf(o.db).write('gdpr.erasure.started', { subject: o.subject.name, series: scope, reason: o.reason, by: traceOf(o.db).actor, ...(resumed ? { resumed: true } : {}) });
  const erased: ErasedHere = { ...before, records: { ...before.records }, consents: [], notErased: [] };

  // 1. Queues first, so that nothing waiting is applied to a store just erased. The destinations of
  // deleted messages that may have been on their way commit with each page.
  eraseFromQueues(o.db, scope, { all: true }, (page) => {
    Object.assign(erased, { outbox: before.outbox + page.outbox, inbox: before.inbox + page.inbox, deadLetters: before.deadLetters + page.deadLetters, rewritten: before.rewritten + page.rewritten });
    store.runProgress(run, erased, page.sentBy);
  });

  // 2. Each app's own records.
  for (const { app, module, ctx } of appStorages(o.db, o)) {
    if (!module.forget) {
      if (module.acceptsData?.(ctx.options as never)) erased.notErased.push(`${app.name} (${app.kind}: its system keeps what it received; its operator must erase it)`);
      continue;
    }
    // Counted in the run as each part commits (an adapter that deletes in one go: when it returns).
    const count = (n: number) => {
      erased.records[app.name] = (erased.records[app.name] ?? 0) + n;
      o.db.transaction(() => store.runProgress(run, erased)).immediate();
    };
    for (const series of scope) await forgetTelling({ module, ctx }, { series }, count);
  }

  // 3 and 4, with the record of the erasure and its log entry: one transaction.
  const recipients = new Map<string, { app: string; recipient: string }>();
  for (const d of disclosures.of(scope)) recipients.set(`${d.app}@${o.domain} ${d.recipient}`, { app: `${d.app}@${o.domain}`, recipient: d.recipient });
  for (const s of store.runDestinations(run)) recipients.set(`${s.app} ${s.destination}`, { app: s.app, recipient: s.destination });
  const consents = new ConsentStore(o.db);
  const outbox = new Outbox(o.db);
  const instance = instanceToken(o.db);
  const requests: EraseReport['requests'] = [];
  const report = o.db.transaction(() => {
    for (const c of [...consents.list({ subject: o.subject.name, limit: Number.MAX_SAFE_INTEGER }), ...consents.list({ subject: null, limit: Number.MAX_SAFE_INTEGER })]) {
      if (!isOpen(c.state)) continue;
      // About the subject and touching what is erased; or about no one and lying entirely within it (a grant of their series).
      const ends = c.subject === o.subject.name ? scope.some((g) => patternsOverlap(g, c.series)) : scope.some((g) => patternCovers(g, c.series));
      if (!ends) continue;
      consents.appendEvent(c.id, 'withdrawn', o.actor, { reason: `the data were erased: ${o.reason}` }, now);
      erased.consents.push(c.id);
    }
    const id = store.add({ subject: o.subject.name, series: scope, reason: o.reason, erased, by: traceOf(o.db).actor, at: now });
    let n = 0;
    for (const r of recipients.values()) {
      const request = `e${instance}-${id}-${++n}`;
      const [outboxId] = outbox.enqueue([{ sender: r.app, destination: r.recipient, payload: erasePayload({ request, series: scope, reason: o.reason }, r.app), records: 0, series: [] }], now);
      store.addRequest({ request, erasure: id, app: r.app, recipient: r.recipient, outboxId: outboxId! });
      requests.push({ request, ...r });
    }
    const entry = traceOf(o.db).write(
      'gdpr.erasure',
      {
        erasure: id,
        subject: o.subject.name,
        series: scope,
        records: erased.records,
        outbox: erased.outbox,
        inbox: erased.inbox,
        deadLetters: erased.deadLetters,
        rewritten: erased.rewritten,
        consents: erased.consents.map(String),
        requests: Object.fromEntries(requests.map((r) => [r.request, `${r.app} → ${r.recipient}`])),
        by: traceOf(o.db).actor,
      },
      now,
    );
    store.setEntry(id, entry);
    store.endRun(run);
    return { erasure: id, subject: o.subject.name, series: scope, erased, requests, entry };
  }).immediate();

  // A running gateway's send job looks at these lanes now (a held lane keeps its hold: its backoff decides).
  const lanes = new LanesTable(o.db);
  for (const d of new Set(requests.map((r) => r.recipient))) if (lanes.record(d).heldUntil <= now) lanes.requestRetry(d, now);
  return report;
}
