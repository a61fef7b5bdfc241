/**
 * The housekeeping job, a bree job scheduled every hour (a fresh worker per run): forgets inbox rows
 * applied more than `inbox.keep_done_days` ago — past that, a duplicate would no longer be recognised,
 * which is why the period is configurable — and lanes of destinations nobody has sent to for
 * LANE_IDLE_DAYS, and reports what it did.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../store/database.js';
import { Inbox } from '../transfer/inbox.js';
import { LanesTable } from '../delivery/lanes-table.js';

const LANE_IDLE_DAYS = 30;

export interface HousekeepingData {
  dbPath: string;
  keepDoneMs: number;
}

const data = workerData as HousekeepingData;
const db = openDatabase(data.dbPath, { migrate: false, noCheckpoints: true });
try {
  const purged = new Inbox(db).purge(Date.now() - data.keepDoneMs);
  const lanes = new LanesTable(db).forgetIdle(Date.now() - LANE_IDLE_DAYS * 86_400_000);
  parentPort?.postMessage({ t: 'housekeeping', purged, lanes });
} finally {
  db.close();
}
parentPort?.postMessage('done');
