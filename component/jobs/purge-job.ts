/**
 * The purge job, a bree job scheduled every hour (a fresh worker per run): deletes what is past its
 * retention (component/gdpr/purge.ts) and reports what it did to the main thread, which logs it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { openDatabase } from '../store/database.js';
import { purge } from '../gdpr/purge.js';
import { describeHeldPurge, judgePurgeClock, lastPurgeAt, recordPurgeAt } from '../gdpr/purge-clock.js';

export interface PurgeJobData {
  dbPath: string;
  domain: string;
  logLevel: string;
}

const data = workerData as PurgeJobData;
const log = pino({ level: data.logLevel, name: 'purge' }, pino.destination({ fd: 2, sync: true }));
const db = openDatabase(data.dbPath, { migrate: false, noCheckpoints: true });
try {
  // Deleting goes by the wall clock: not when it moved on by more than a day since the last run (purge-clock.ts).
  const now = Date.now();
  const lastAt = lastPurgeAt(db);
  const clock = judgePurgeClock(lastAt, now);
  if (!clock.run) {
    log.error({ lastAt: new Date(lastAt!).toISOString(), gapMs: clock.gapMs }, describeHeldPurge(clock.gapMs, lastAt!));
    parentPort?.postMessage({ t: 'held', gapMs: clock.gapMs });
  } else {
    if (clock.unusual) log.warn({ lastAt: new Date(lastAt!).toISOString(), gapMs: clock.gapMs }, 'retention purge: the wall clock moved on by more than two hours since the last purge (a stop, or a clock step ahead)');
    recordPurgeAt(db, now);
    const report = await purge({ db, databasePath: data.dbPath, domain: data.domain, log, now });
    parentPort?.postMessage({ t: 'purged', report });
  }
} catch (err) {
  log.error({ err: (err as Error).message }, 'retention purge failed; it runs again in an hour');
} finally {
  db.close();
}
parentPort?.postMessage('done');
