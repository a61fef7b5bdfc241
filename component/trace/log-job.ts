/**
 * The log's job, on its own worker thread (off the XMPP thread): builds the Merkle tree over the entries
 * every thread and process writes, and signs a checkpoint of it every `checkpoint_seconds` while entries
 * arrive. On stop it seals what was written, so a clean shutdown leaves every entry signed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { openDatabase } from '../store/database.js';
import { LogStore } from './log-store.js';
import { loadOrCreateKey } from './keys.js';
import { TokenBucket } from '../timing/token-bucket.js';

export interface LogJobData {
  dbPath: string;
  keyFile: string;
  origin: string;
  checkpointMs: number;
  logLevel: string;
}

const data = workerData as LogJobData;
const log = pino({ level: data.logLevel, name: 'trace' }, pino.destination({ fd: 2, sync: true }));
const db = openDatabase(data.dbPath, { migrate: false, noCheckpoints: true });
const store = new LogStore(db);
const { signer } = loadOrCreateKey(data.keyFile, data.origin);

/**
 * The tree is extended in small steps, each its own short write transaction, so that the XMPP thread's
 * inbox commit does not wait behind a second's worth of leaves (one step a second held the write lock
 * 3–13 ms at 1,000 messages a second in bench:relay).
 */
const TICK_MS = Math.min(100, data.checkpointMs);
/** Leaves per step; a backlog (after a restart) is caught up step by step, other writers in between. */
const STEP_LEAVES = 512;

let timer: NodeJS.Timeout | null = null;
const errorLog = new TokenBucket(1 / 60, Date.now());

function tick(): void {
  let caughtUp = true;
  try {
    const step = store.step(signer, data.origin, Date.now(), data.checkpointMs, STEP_LEAVES);
    caughtUp = step.caughtUp;
    if (step.checkpoint) {
      log.debug({ size: step.checkpoint.size }, 'checkpoint signed');
      parentPort!.postMessage({ t: 'checkpoint', size: step.checkpoint.size });
    }
  } catch (err) {
    // A busy database is retried at the next tick; anything else (a damaged log) is reported loudly, but
    // once a minute: it fails again at every tick until an operator acts.
    if ((err as { code?: string }).code !== 'SQLITE_BUSY' && errorLog.take(Date.now())) log.error({ err: (err as Error).message }, 'the transparency log could not be sealed');
  }
  timer = setTimeout(tick, caughtUp ? TICK_MS : 1);
}

timer = setTimeout(tick, TICK_MS);

parentPort!.on('message', (m: unknown) => {
  if (m !== 'cancel') return;
  if (timer) clearTimeout(timer);
  try {
    store.seal(signer, data.origin, Date.now(), 0);
  } finally {
    db.close();
    process.exit(0);
  }
});
