/**
 * The WAL checkpointer, on its own worker thread. A checkpoint copies the write-ahead log into the
 * database file and fsyncs it, which can take tens of milliseconds on a busy disk; every other
 * connection to fedgate's database — and the store adapters' connections to the store's file, next to
 * it — is opened with automatic checkpoints off, so that neither the XMPP thread, nor the send job, nor
 * an app's write ever pays for one. PASSIVE: never waits for readers or writers.
 */
import { existsSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase, type Db } from '../store/database.js';
import { storeDatabasePath } from '../../adapters/store/store-database.js';

const { dbPath, everyMs } = workerData as { dbPath: string; everyMs: number };
const db = openDatabase(dbPath, { migrate: false });
const storePath = storeDatabasePath(dbPath);
/** The store's file exists once an app of a store kind has started: opened then. */
let store: Db | null = null;

function checkpoint(): void {
  db.pragma('wal_checkpoint(PASSIVE)');
  try {
    if (!store && existsSync(storePath)) store = openDatabase(storePath, { migrate: false });
    store?.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy, or the file being created by an app's first start: the next tick tries again.
  }
}

const timer = setInterval(checkpoint, everyMs);

parentPort!.on('message', (m: unknown) => {
  if (m !== 'cancel') return;
  clearInterval(timer);
  checkpoint();
  store?.close();
  db.close();
  process.exit(0);
});
