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

function seal(): void {
  try {
    const cp = store.seal(signer, data.origin, Date.now(), data.checkpointMs);
    if (cp) {
      log.debug({ size: cp.size }, 'checkpoint signed');
      parentPort!.postMessage({ t: 'checkpoint', size: cp.size });
    }
  } catch (err) {
    // A busy database is retried at the next tick; anything else (a damaged log) is reported loudly.
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') log.error({ err: (err as Error).message }, 'the transparency log could not be sealed');
  }
}

// Ticks faster than checkpoints: the tree keeps up in small steps, a checkpoint follows within a tick of being due.
const timer = setInterval(seal, Math.min(1000, data.checkpointMs));

parentPort!.on('message', (m: unknown) => {
  if (m !== 'cancel') return;
  clearInterval(timer);
  try {
    store.seal(signer, data.origin, Date.now(), 0);
  } finally {
    db.close();
    process.exit(0);
  }
});
