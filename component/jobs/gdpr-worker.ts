/**
 * The gateway's GDPR worker, on its own thread: keeps the summary of who received what a few seconds
 * behind the transparency log (component/gdpr/disclosures.ts), and applies the erasure requests the
 * gateway's apps receive from the sources of their data (component/gdpr/apply-erasures.ts) — at start
 * (what a restart interrupted), and as soon as the main thread says one arrived.
 */
import { BroadcastChannel, parentPort, workerData } from 'node:worker_threads';
import { createWorkerLogger } from '../log/logger.js';
import { openDatabase } from '../store/database.js';
import { configureTrace } from '../trace/trace.js';
import { OUTBOX_CHANNEL } from '../delivery/protocol.js';
import { DISCLOSURE_BATCH, Disclosures } from '../gdpr/disclosures.js';
import { applyReceivedErasures, ERASURES_RECEIVED } from '../gdpr/apply-erasures.js';

export interface GdprWorkerData {
  dbPath: string;
  domain: string;
  logLevel: string;
  trace: boolean;
  synchronous: 'NORMAL' | 'FULL';
  /** How often the summary of disclosures catches up with the log. */
  everyMs: number;
}

const data = workerData as GdprWorkerData;
const log = createWorkerLogger(data.logLevel, 'gdpr');
const db = openDatabase(data.dbPath, { migrate: false, synchronous: data.synchronous, noCheckpoints: true });
configureTrace(db, { enabled: data.trace });
const disclosures = new Disclosures(db);
const outbox = new BroadcastChannel(OUTBOX_CHANNEL);

let applying: Promise<void> | null = null;
let again = false;
function apply(): void {
  if (applying) {
    again = true;
    return;
  }
  applying = applyReceivedErasures({ db, databasePath: data.dbPath, domain: data.domain, log, wake: (d) => outbox.postMessage([d]) })
    .then(() => undefined)
    .catch((err: unknown) => log.error({ err: (err as Error).message }, 'applying erasure requests failed; trying again in a minute'))
    .finally(() => {
      applying = null;
      if (again) {
        again = false;
        apply();
      }
    });
}

/** One step of the disclosures summary behind the log: one short transaction (disclosures.ts). */
function step(): void {
  let read = 0;
  try {
    read = disclosures.catchUp(DISCLOSURE_BATCH);
  } catch (err) {
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') log.warn({ err: (err as Error).message }, 'reading the log for who received what failed; trying again');
  }
  // A full step: more is waiting, read it after the other writers had their turn.
  timer = setTimeout(step, read >= DISCLOSURE_BATCH ? 1 : data.everyMs);
}
let timer = setTimeout(step, data.everyMs);
const retry = setInterval(apply, 60_000);
apply();

parentPort!.on('message', (m: unknown) => {
  if (m === ERASURES_RECEIVED) return apply();
  if (m !== 'cancel') return;
  clearTimeout(timer);
  clearInterval(retry);
  void (applying ?? Promise.resolve()).finally(() => {
    outbox.close();
    db.close();
    process.exit(0);
  });
});
