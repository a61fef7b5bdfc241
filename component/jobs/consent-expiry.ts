/**
 * The expiry job, a bree job run at the exact end of the next consent to end (component/consent/expiry.ts
 * plans it): appends 'expired' to every open record whose `until` has come, through the one function
 * that appends consent events, and reports which. The gateway then stops the recipients'
 * subscriptions and notifies them (component/consent/effects.ts). Holds (expires nothing) on a wall
 * clock that moved on by more than a day since the last purge (gdpr/purge-clock.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../store/database.js';
import { ConsentStore } from '../consent/consent-store.js';
import { judgePurgeClock, lastPurgeAt } from '../gdpr/purge-clock.js';

export interface ConsentExpiryData {
  dbPath: string;
}

const data = workerData as ConsentExpiryData;
const db = openDatabase(data.dbPath, { migrate: false, noCheckpoints: true });
try {
  const now = Date.now();
  // An expiry is recorded for ever (and ends subscriptions): not by a wall clock the purge does not trust
  // (gdpr/purge-clock.ts). Meanwhile access is still refused past each record's end, by the same clock.
  if (!judgePurgeClock(lastPurgeAt(db), now).run) parentPort?.postMessage({ t: 'consent-expiry', expired: [], held: true });
  else {
    const expired = new ConsentStore(db).expireDue(now, { id: 'gateway', role: 'gateway', evidence: { via: 'expiry job', ran: now } });
    parentPort?.postMessage({ t: 'consent-expiry', expired });
  }
} finally {
  db.close();
}
