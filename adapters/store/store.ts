/**
 * `store` — the built-in adapter for applications that have no system of their own: their series live
 * in the store's SQLite file next to fedgate's (adapters/store/series-store.ts, store-database.ts). It
 * serves get_history, the catalogue and subscriptions (extract), and keeps what is delivered to the app
 * (exactly once, by delivery key) or imported with `fedgate store import`.
 *
 * Options
 * - `maintenance` (text, optional): take the app's data offline, e.g. while restoring a backup. Every
 *   call fails as a failure of the app's system (`undefined-condition` + `upstream-error` code
 *   `maintenance` for requesters; deliveries stay in the inbox and are retried), with this text.
 *
 * New data reaches the on-change consumers of the series written at once when it arrives through
 * `deliver`; data written by another process (`fedgate store import`) through the gateway's change feed.
 *
 * Runs in the shared worker pool by default (its calls never wait on anything but its own SQLite file):
 * the apps of one thread share one connection to the store's file and its compiled statements.
 */
import { AdapterError, OptionsError, type Adapter, type AdapterModule, type ForgetRequest, type ReadRequest, type StoredChunk } from '../contract.js';
import { setBusyTimeout, type Db } from '../../component/store/database.js';
import { openStoreDatabase } from './store-database.js';
import { SeriesStore, StoreDataError } from './series-store.js';

export interface StoreOptions {
  /** When set, the app's data is offline and every call fails with this explanation. */
  maintenance?: string;
}

/** The page cache of a thread's store connection, KiB. */
const STORE_CACHE_KIB = 64 * 1024;

/** The store file's connection of this thread, shared by its store apps, closed with the last of them. */
const connections = new Map<string, { db: Db; users: number }>();

/**
 * `database.synchronous` of the gateway's configuration, for the store's file too: with FULL, the
 * inbox's "done" and the records it stands for must both survive a power cut. Set by the app worker
 * at its start, before any store app opens.
 */
let storeSynchronous: 'NORMAL' | 'FULL' = 'NORMAL';
/** An adapter thread's wait for a lock (component/store/database.ts, setBusyTimeout); unset: the default. */
let storeBusyTimeoutMs: number | undefined;
export function configureStoreConnections(opts: { synchronous: 'NORMAL' | 'FULL'; busyTimeoutMs?: number }): void {
  storeSynchronous = opts.synchronous;
  storeBusyTimeoutMs = opts.busyTimeoutMs;
}

/** The store file's connection of this thread (shared by the apps that keep records there), and its release. */
export function connectStore(databasePath: string): { db: Db; release(): void } {
  let c = connections.get(databasePath);
  if (!c) {
    // Inside the gateway: its checkpoint worker checkpoints the store's file too, so that no write of an
    // app (a reading in the middle of an MQTT stream) pays for a checkpoint.
    const db = openStoreDatabase(databasePath, { noCheckpoints: true, synchronous: storeSynchronous });
    // One connection serves every store app of the thread (a thousand in the shared pool): SQLite's
    // default page cache (2 MB) holds the pages of a few apps, and a thousand apps' reads evicted each
    // other. A cap, not an allocation: pages are cached as they are read (README, bench:apps).
    db.pragma(`cache_size = -${STORE_CACHE_KIB}`);
    if (storeBusyTimeoutMs !== undefined) setBusyTimeout(db, storeBusyTimeoutMs);
    connections.set(databasePath, (c = { db, users: 0 }));
  }
  c.users++;
  const conn = c;
  return {
    db: conn.db,
    release: () => {
      if (--conn.users > 0) return;
      connections.delete(databasePath);
      conn.db.close();
    },
  };
}

/** Records deleted per transaction by `forget` (purge, erasure): each write lock stays short. */
const FORGET_BATCH = 500;

export const storeAdapter: AdapterModule<StoreOptions> = {
  kind: 'store',
  description: "keeps the app's series in fedgate's store file (get_history, catalogue, subscriptions, inbound data)",
  isolation: 'shared',
  acceptsData: () => true,
  parseOptions(raw) {
    const { maintenance, ...rest } = raw;
    const unknown = Object.keys(rest)[0];
    if (unknown) throw new OptionsError(unknown, 'unknown option (store knows: maintenance)');
    if (maintenance === undefined) return {};
    if (typeof maintenance !== 'string' || maintenance.trim() === '') throw new OptionsError('maintenance', 'must be a text saying why the data is offline');
    return { maintenance };
  },
  forget: forgetStoredRecords,
  read: readStoredRecords,
  create({ app, options, databasePath, dataChanged }) {
    if (options.maintenance !== undefined) return maintenanceAdapter(app.name, options.maintenance);
    const { db, release } = connectStore(databasePath);
    const store = new SeriesStore(db, app.name);
    return {
      ...seriesCapabilities(store, app.jid),
      async deliver(batch) {
        let results;
        try {
          results = store.deliver(batch);
        } catch (err) {
          if (err instanceof StoreDataError) throw new AdapterError('rejected', err.message);
          throw err;
        }
        const changed = new Set(results.flatMap((r) => r.changed));
        if (changed.size > 0) dataChanged(changed);
      },
      async close() {
        release();
      },
    };
  },
};

/** What a SeriesStore serves: get_history, the catalogue and extract (subscriptions). Shared with `mqtt`. */
export function seriesCapabilities(store: SeriesStore, jid: string): Required<Pick<Adapter, 'history' | 'catalogue' | 'extract'>> {
  return {
    async history({ series, start, end, limit }) {
      // Rows, encoded by the core as they are read: no object per record.
      const block = store.historyRows(series, start ?? -Number.MAX_VALUE, end ?? Date.now() / 1000, limit);
      if (!block) throw new AdapterError('not-found', `${jid} has no series ${series}`);
      return [block];
    },
    async catalogue(shown) {
      return store.catalogue(shown);
    },
    async extract({ series, cursor, limit }) {
      return store.extract(series, cursor, limit);
    },
  };
}

/** The same capabilities, each failing with the operator's explanation. */
function maintenanceAdapter(app: string, why: string): Adapter {
  const fail = async (): Promise<never> => {
    throw new AdapterError('upstream', `the data of ${app} is offline for maintenance: ${why}`, { issuer: app, code: 'maintenance' });
  };
  return { history: fail, catalogue: fail, extract: fail, deliver: fail };
}

/** `forget` of every kind that keeps its records in the store's file (`store`, `mqtt`, `quoalise`). */
export async function forgetStoredRecords({ app, databasePath }: { app: { name: string }; databasePath: string }, request: ForgetRequest): Promise<{ records: number }> {
  // FULL whatever database.synchronous says: the erasure recorded as applied in fedgate's file must not
  // outlive, after a power cut, the deletions it stands for (this runs outside the app workers, which
  // alone know the setting; an erasure's few commits can afford their fsync).
  const db = openStoreDatabase(databasePath, { synchronous: 'FULL' });
  try {
    return { records: await forgetRecords(new SeriesStore(db, app.name), request) };
  } finally {
    db.close();
  }
}

/** `read` of every kind that keeps its records in the store's file: the export's and the register's view of them. */
export async function* readStoredRecords({ app, databasePath }: { app: { name: string }; databasePath: string }, request: ReadRequest): AsyncGenerator<StoredChunk> {
  const db = openStoreDatabase(databasePath);
  try {
    yield* new SeriesStore(db, app.name).readAll(request.series, request.records);
  } finally {
    db.close();
  }
}

/**
 * Deletes what a GDPR request names, one short transaction per batch, then as long a pause: the app's
 * worker (and anyone else) gets the write lock between batches, so a purge of millions of records
 * never holds up deliveries.
 * The write-ahead log is checkpointed between batches, outside any transaction. `onBatch` sees each batch's lock time (the benchmark measures it).
 */
export async function forgetRecords(store: SeriesStore, request: ForgetRequest, onBatch?: (ms: number, records: number) => void): Promise<number> {
  if (request.dryRun) return store.forgetBatch(request, 0);
  return store.withManualCheckpoints(async (checkpoint) => {
    let records = 0;
    for (;;) {
      const t = performance.now();
      const n = store.forgetBatch(request, FORGET_BATCH);
      const ms = performance.now() - t;
      onBatch?.(ms, n);
      if (n > 0) request.committed?.(n);
      records += n;
      if (n < FORGET_BATCH) return records;
      checkpoint();
      await new Promise((r) => setTimeout(r, Math.max(1, Math.ceil(ms))));
    }
  });
}
