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
 * New data reaches on-change consumers at once when it arrives through `deliver`; data written by
 * another process (a CLI import) within STORE_POLL_MS.
 */
import { AdapterError, OptionsError, type Adapter, type AdapterModule } from '../contract.js';
import { openStoreDatabase } from './store-database.js';
import { SeriesStore, StoreDataError } from './series-store.js';

export interface StoreOptions {
  /** When set, the app's data is offline and every call fails with this explanation. */
  maintenance?: string;
}

/** How often a store app checks for writes made by another process. */
const STORE_POLL_MS = 250;

export const storeAdapter: AdapterModule<StoreOptions> = {
  kind: 'store',
  description: "keeps the app's series in fedgate's store file (get_history, catalogue, subscriptions, inbound data)",
  acceptsData: () => true,
  parseOptions(raw) {
    const { maintenance, ...rest } = raw;
    const unknown = Object.keys(rest)[0];
    if (unknown) throw new OptionsError(unknown, 'unknown option (store knows: maintenance)');
    if (maintenance === undefined) return {};
    if (typeof maintenance !== 'string' || maintenance.trim() === '') throw new OptionsError('maintenance', 'must be a text saying why the data is offline');
    return { maintenance };
  },
  create({ app, options, databasePath, dataChanged }) {
    if (options.maintenance !== undefined) return maintenanceAdapter(app.name, options.maintenance);
    const db = openStoreDatabase(databasePath);
    const store = new SeriesStore(db, app.name);
    // Writes by other processes (fedgate store import) are noticed by polling the app's latest seq.
    let seen = store.latestSeq();
    const poll = setInterval(() => {
      const latest = store.latestSeq();
      if (latest === seen) return;
      seen = latest;
      dataChanged();
    }, STORE_POLL_MS);
    poll.unref();

    return {
      ...seriesCapabilities(store, app.jid),
      async deliver(batch) {
        try {
          if (store.deliver(batch).every((r) => r.written === 0)) return;
        } catch (err) {
          if (err instanceof StoreDataError) throw new AdapterError('rejected', err.message);
          throw err;
        }
        seen = store.latestSeq();
        dataChanged();
      },
      async close() {
        clearInterval(poll);
        db.close();
      },
    };
  },
};

/** What a SeriesStore serves: get_history, the catalogue and extract (subscriptions). Shared with `mqtt`. */
export function seriesCapabilities(store: SeriesStore, jid: string): Required<Pick<Adapter, 'history' | 'catalogue' | 'extract'>> {
  return {
    async history({ series, start, end, limit }) {
      const block = store.history(series, start ?? -Number.MAX_VALUE, end ?? Date.now() / 1000, limit);
      if (!block) throw new AdapterError('not-found', `${jid} has no series ${series}`);
      return [block];
    },
    async catalogue() {
      return store.catalogue();
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
