/**
 * A recipient applies the erasure requests its apps received from the sources of their data (stored by
 * component/gdpr/control-intake.ts), in the gateway's GDPR worker — never on the XMPP thread:
 *
 * 1. the messages from that source still waiting in the inbox or given up (dead letters), by series;
 * 2. the records the app's storage received from that source (the adapter contract's `forget` with
 *    `from`; the store knows each record's origin) — and nothing else: data of the same series from
 *    other sources, and every other series, stay;
 * 3. in one transaction: the request marked applied, its `gdpr.erasure.applied` log entry, and the
 *    signed confirmation (`<erased/>`) queued in the outbox to the source.
 *
 * An app whose storage fedgate cannot reach (no `forget`), or cannot tell where records came from,
 * confirms with complete="false" and a note saying so: its operator must finish the work.
 */
import type { Db } from '../store/database.js';
import type { Logger } from '../log/logger.js';
import { Outbox } from '../delivery/outbox.js';
import { traceOf } from '../trace/trace.js';
import { appStorages, forgetTelling } from './app-storage.js';
import { eraseFromQueues } from './queues.js';
import { ErasureStore } from './erasure-store.js';
import { erasedPayload } from './wire.js';

/** What the main thread tells the GDPR worker (component/jobs/gdpr-worker.ts): an erasure request was stored. */
export const ERASURES_RECEIVED = 'erasures';

export interface ApplyOptions {
  db: Db;
  databasePath: string;
  domain: string;
  log: Logger;
  /** New rows in the outbox for this destination: the send job should look now. */
  wake(destination: string): void;
}

/** Applies every pending request; returns how many it applied. */
export async function applyReceivedErasures(o: ApplyOptions): Promise<number> {
  const store = new ErasureStore(o.db);
  const outbox = new Outbox(o.db);
  let applied = 0;
  for (;;) {
    const pending = store.pending(20);
    if (pending.length === 0) return applied;
    for (const r of pending) {
      const earlier = store.startApplying(r.id, Date.now());
      const queues = eraseFromQueues(o.db, r.series, { app: r.app, sender: r.sender });
      const storage = appStorages(o.db, o).find((s) => s.app.name === r.app);
      // Counted as they go (an earlier run that did not finish counted its own): the confirmation tells them all.
      let records = earlier.erasedSoFar;
      // What keeps the erasure from being complete, then what else the source should know.
      const missing: string[] = [];
      if (!storage) missing.push(`the app ${r.app} no longer exists here: what it kept went with it, or is held by its operator`);
      else if (!storage.module.forget) missing.push(`${r.app} keeps what it receives in its own system (${storage.app.kind}), which fedgate cannot erase: its operator must`);
      else {
        try {
          // All its series at once: the store scans every point of the app for the source's records (no
          // index on a record's origin, kept off the relay path's writes), so one scan per glob let a
          // request of 100 globs hold the write lock for 100 scans — 16 s at 2M points.
          // Counted as each part commits, so that a run cut short still confirms what it erased.
          records = store.addErased(r.id, 0);
          await forgetTelling(storage, { series: r.series, from: r.sender }, (n) => (records = store.addErased(r.id, n)));
        } catch (err) {
          missing.push(`${r.app} could not erase by source: ${(err as Error).message}`);
        }
      }
      const queued = queues.inbox + queues.deadLetters + queues.rewritten;
      const complete = missing.length === 0;
      const rerun =
        earlier.firstStartedAt !== null
          ? [`applied again: an earlier run (first started ${new Date(earlier.firstStartedAt).toISOString()}) did not finish; what it erased after its last count, and the queued messages it erased, are not counted`]
          : [];
      const note = [...missing, ...(queued > 0 ? [`${queued} message(s) waiting to be applied or given up were erased too`] : []), ...rerun].join('; ') || undefined;
      const now = Date.now();
      o.db.transaction(() => {
        store.applied(r.id, { records, complete, ...(note ? { note } : {}) }, now);
        traceOf(o.db).write('gdpr.erasure.applied', { app: r.app, sender: r.sender, request: r.request, series: r.series, records, inbox: queues.inbox, deadLetters: queues.deadLetters, complete });
        outbox.enqueue([{ sender: `${r.app}@${o.domain}`, destination: r.sender, payload: erasedPayload({ request: r.request, records, complete, ...(note ? { note } : {}) }), records: 0, series: [] }], now);
      }).immediate();
      o.wake(r.sender);
      o.log.info({ app: r.app, sender: r.sender, request: r.request, records, complete }, 'erasure applied; confirmation queued');
      applied++;
    }
  }
}
