/**
 * The setup of the Quoalise benchmarks: a throwaway ejabberd, a real fedgate serving one `store` app
 * that holds one long half-hourly series (written through the store's own ingest), and a component
 * client granted to read it. bench:history uses it; a subscription-push benchmark can too.
 */
import { join } from 'node:path';
import { Ejabberd } from '../../../test/helpers/ejabberd.js';
import { Fedgate } from '../../../test/helpers/fedgate.js';
import { openStoreDatabase, storeDatabasePath } from '../../../adapters/store/store-database.js';
import { SeriesStore } from '../../../adapters/store/series-store.js';
import type { SeriesRecord } from '../../../component/quoalise/types.js';
import { CommandClient } from './command-client.js';

export const BENCH_SERIES = 'urn:dev:prm:30001442769830_consumption/power/active/raw';
/** 2024-01-01T00:00:00+01:00: the first record's time. */
export const BENCH_FIRST_TIME = 1704063600;
export const BENCH_STEP_S = 1800;

export interface StoreGatewayOptions {
  /** Records in the series: one every 30 minutes from BENCH_FIRST_TIME. */
  points: number;
  /** Extra YAML for fedgate's configuration (e.g. a `delivery:` section; not `quoalise:`, set here). */
  extraYaml?: string;
}

export interface StoreGateway {
  ejabberd: Ejabberd;
  fedgate: Fedgate;
  /** A component on its own domain, granted to read every series of the app. */
  client: CommandClient;
  appJid: string;
  /** The store adapter's SQLite file, for baselines read in the benchmark's own process. */
  dbPath: string;
  /** fedgate's own SQLite file (from which the store's is derived). */
  fedgateDbPath: string;
  stop(): Promise<void>;
}

const DOMAIN = 'energy.localhost';
const CLIENT_DOMAIN = 'load.localhost';
const APP = 'bench';

/** A realistic-looking load curve: daily shape plus deterministic noise (values are not what is measured). */
function record(i: number): SeriesRecord {
  const hour = (i / 2) % 24;
  const value = Math.round(600 + 400 * Math.sin(((hour - 7) / 24) * 2 * Math.PI) + ((i * 7919) % 211));
  return { name: BENCH_SERIES, time: BENCH_FIRST_TIME + i * BENCH_STEP_S, value, unit: 'W' };
}

export async function startStoreGateway(opts: StoreGatewayOptions): Promise<StoreGateway> {
  const ejabberd = await Ejabberd.start({ components: [{ domain: DOMAIN, secret: 'fg' }, { domain: CLIENT_DOMAIN, secret: 'load' }] });
  // A benchmark client is a flood by design: lift the per-requester rate limit.
  const quoalise = 'quoalise:\n  requests_per_second: 1000000\n';
  const fedgate = new Fedgate({ port: ejabberd.componentPort(DOMAIN), domain: DOMAIN, secret: 'fg', extraYaml: quoalise + (opts.extraYaml ?? '') });
  const stop = async () => {
    await fedgate.stop();
    fedgate.cleanup();
    await ejabberd.stop();
  };
  try {
    for (const args of [['app', 'add', APP, '--kind', 'store'], ['grant', 'add', APP, CLIENT_DOMAIN, '*', '--purpose', 'benchmark']]) {
      const r = await fedgate.cli(...args);
      if (r.code !== 0) throw new Error(`fedgate ${args.join(' ')}: ${r.stderr}`);
    }
    const dbPath = storeDatabasePath(join(fedgate.dir, 'fedgate.sqlite'));
    const db = openStoreDatabase(join(fedgate.dir, 'fedgate.sqlite'));
    const store = new SeriesStore(db, APP);
    for (let i = 0; i < opts.points; i += 10_000) {
      store.ingest([{ meta: { measurement: { name: 'active-power', unit: 'W', 'sampling-interval': 'PT30M' } }, records: Array.from({ length: Math.min(10_000, opts.points - i) }, (_, k) => record(i + k)) }]);
    }
    db.close();
    fedgate.start();
    await fedgate.waitOnline();
    const client = await CommandClient.connect(ejabberd.componentPort(CLIENT_DOMAIN), CLIENT_DOMAIN, 'load');
    const appJid = `${APP}@${DOMAIN}`;
    // The commands exist once the app's worker is ready.
    const deadline = Date.now() + 10_000;
    while (!(await client.features(appJid)).includes('urn:quoalise:0')) {
      if (Date.now() > deadline) throw new Error(`${appJid} never offered Quoalise`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return {
      ejabberd,
      fedgate,
      client,
      appJid,
      dbPath,
      fedgateDbPath: join(fedgate.dir, 'fedgate.sqlite'),
      stop: async () => {
        await client.close();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
