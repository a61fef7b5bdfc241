/**
 * The WAL checkpointer, on its own worker thread. A checkpoint copies the write-ahead log into the
 * database file and fsyncs it, which can take tens of milliseconds on a busy disk; every other
 * connection to fedgate's database — and the store adapters' connections to the store's file, next to
 * it — is opened with automatic checkpoints off, so that neither the XMPP thread, nor the send job, nor
 * an app's write ever pays for one.
 *
 * PASSIVE first: it never waits for readers or writers. But under steady traffic a passive checkpoint
 * never catches up with the writers, so the log is never started over: it grew to 216 MB in one
 * bench:relay run (disk, and a longer WAL index for every page read; the run's throughput did not
 * measurably change either way). So when the log holds more than RESTART_FRAMES frames, a RESTART
 * checkpoint follows: it waits (at most RESTART_WAIT_MS) for the current writer and readers to finish,
 * and the next write starts the log from its beginning.
 */
import { existsSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase, type Db } from '../store/database.js';
import { storeDatabasePath } from '../../adapters/store/store-database.js';

const { dbPath, everyMs } = workerData as { dbPath: string; everyMs: number };
/** 4,000 pages of 4 KiB: 16 MB of log. */
const RESTART_FRAMES = 4000;
const RESTART_WAIT_MS = 50;

function open(path: string): Db {
  const db = openDatabase(path, { migrate: false });
  // Writers wait for a RESTART for as long as it waits: keep it short, and try again at the next tick.
  db.pragma(`busy_timeout = ${RESTART_WAIT_MS}`);
  return db;
}

const db = open(dbPath);
const storePath = storeDatabasePath(dbPath);
/** The store's file exists once an app of a store kind has started: opened then. */
let store: Db | null = null;

/**
 * After a RESTART that could not finish (a long reader: an export, a backup), none for this many ticks:
 * each attempt holds the writers back while it waits for the reader, for nothing.
 */
const RESTART_PAUSE_TICKS = 30;
const restartPausedFor = new Map<Db, number>();

function checkpointOne(file: Db): void {
  type Result = Array<{ busy: number; log: number; checkpointed: number }>;
  const [passive] = file.pragma('wal_checkpoint(PASSIVE)') as Result;
  const paused = restartPausedFor.get(file) ?? 0;
  if (paused > 0) return void restartPausedFor.set(file, paused - 1);
  if (!passive || passive.log <= RESTART_FRAMES) return;
  let busy = true;
  try {
    busy = ((file.pragma('wal_checkpoint(RESTART)') as Result)[0]?.busy ?? 0) !== 0;
  } finally {
    if (busy) restartPausedFor.set(file, RESTART_PAUSE_TICKS);
  }
}

function checkpoint(): void {
  try {
    checkpointOne(db);
  } catch {
    // Busy: the next tick tries again.
  }
  try {
    if (!store && existsSync(storePath)) store = open(storePath);
    if (store) checkpointOne(store);
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
