/**
 * The purge job, a bree job scheduled every hour (a fresh worker per run): deletes what is past its
 * retention (component/gdpr/purge.ts) and reports what it did to the main thread, which logs it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { openDatabase } from '../store/database.js';
import { purge } from '../gdpr/purge.js';

export interface PurgeJobData {
  dbPath: string;
  domain: string;
  logLevel: string;
}

const data = workerData as PurgeJobData;
const log = pino({ level: data.logLevel, name: 'purge' }, pino.destination({ fd: 2, sync: true }));
const db = openDatabase(data.dbPath, { migrate: false, noCheckpoints: true });
try {
  const report = await purge({ db, databasePath: data.dbPath, domain: data.domain, log });
  parentPort?.postMessage({ t: 'purged', report });
} catch (err) {
  log.error({ err: (err as Error).message }, 'retention purge failed; it runs again in an hour');
} finally {
  db.close();
}
parentPort?.postMessage('done');
