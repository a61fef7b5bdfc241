/**
 * The WAL checkpointer, on its own worker thread. A checkpoint copies the write-ahead log into the
 * database file and fsyncs it, which can take tens of milliseconds on a busy disk; every other
 * connection to fedgate's database is opened with automatic checkpoints off, so that neither the
 * XMPP thread nor the send job ever pays for one. PASSIVE: never waits for readers or writers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../store/database.js';

const { dbPath, everyMs } = workerData as { dbPath: string; everyMs: number };
const db = openDatabase(dbPath, { migrate: false });

const timer = setInterval(() => db.pragma('wal_checkpoint(PASSIVE)'), everyMs);

parentPort!.on('message', (m: unknown) => {
  if (m !== 'cancel') return;
  clearInterval(timer);
  db.pragma('wal_checkpoint(PASSIVE)');
  db.close();
  process.exit(0);
});
