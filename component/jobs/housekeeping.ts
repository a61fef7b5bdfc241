/**
 * The housekeeping job, a bree job scheduled every hour (a fresh worker per run): forgets inbox rows
 * applied more than `inbox.keep_done_days` ago — past that, a duplicate would no longer be recognised,
 * which is why the period is configurable —, lanes of destinations nobody has sent to for
 * LANE_IDLE_DAYS, the counters of flows idle as long (observe/flow-counters.ts), and the change feed's
 * rows older than an hour (the running gateway reads them within a fraction of a second), moves the
 * unapplied inbox rows of removed apps to the dead letters (a removal cut short), and reports what it did.
 * Applied rows are kept while the purge holds on a wall clock that moved on by more than a day.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../store/database.js';
import { Inbox } from '../transfer/inbox.js';
import { LanesTable } from '../delivery/lanes-table.js';
import { purgeChanges } from '../changes/feed.js';
import { forgetIdleFlows } from '../observe/flow-counters.js';
import { deadLetterAllOrphanedInbox } from '../transfer/dead-letters.js';
import { judgePurgeClock, lastPurgeAt } from '../gdpr/purge-clock.js';

/** Lanes and flow counters of peers nobody has exchanged with for this long are forgotten. */
const LANE_IDLE_DAYS = 30;
/** Change-feed rows are kept this long. */
const KEEP_CHANGES_MS = 3_600_000;

export interface HousekeepingData {
  dbPath: string;
  keepDoneMs: number;
}

const data = workerData as HousekeepingData;
const db = openDatabase(data.dbPath, { migrate: false, noCheckpoints: true });
try {
  // An applied row's id, once forgotten, no longer tells a repeat from a new message (it would be applied
  // twice): not forgotten by a wall clock the purge does not trust either (gdpr/purge-clock.ts).
  const now = Date.now();
  const clockHeld = !judgePurgeClock(lastPurgeAt(db), now).run;
  const purged = clockHeld ? 0 : new Inbox(db).purge(now - data.keepDoneMs);
  const idleSince = Date.now() - LANE_IDLE_DAYS * 86_400_000;
  const lanes = new LanesTable(db).forgetIdle(idleSince);
  const flows = forgetIdleFlows(db, idleSince);
  purgeChanges(db, Date.now() - KEEP_CHANGES_MS);
  const orphaned = deadLetterAllOrphanedInbox(db);
  parentPort?.postMessage({ t: 'housekeeping', purged, lanes, flows, orphaned, clockHeld });
} finally {
  db.close();
}
parentPort?.postMessage('done');
