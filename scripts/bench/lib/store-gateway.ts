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
import { waitIdle } from './proc.js';
import { openDatabase } from '../../../component/store/database.js';

export const BENCH_SERIES = 'urn:dev:prm:30001442769830_consumption/power/active/raw';
/** 2024-01-01T00:00:00+01:00: the first record's time. */
export const BENCH_FIRST_TIME = 1704063600;
export const BENCH_STEP_S = 1800;

export interface StoreGatewayOptions {
  /** Records in the series: one every 30 minutes from BENCH_FIRST_TIME. */
  points: number;
  /** Extra YAML for fedgate's configuration (e.g. a `delivery:` section; not `quoalise:`, set here). */
  extraYaml?: string;
  /**
   * A second app, CROWDED_APP, holding the same series, on which the client's grant sits beside this
   * many other consent records (of other recipients, on other series, some globs): the authorization
   * check's cost with many records, measured against the first app's single grant.
   */
  consentRecords?: number;
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
export const CROWDED_APP = 'crowded';

/** A realistic-looking load curve: daily shape plus deterministic noise (values are not what is measured). */
function record(i: number): SeriesRecord {
  const hour = (i / 2) % 24;
  const value = Math.round(600 + 400 * Math.sin(((hour - 7) / 24) * 2 * Math.PI) + ((i * 7919) % 211));
  return { name: BENCH_SERIES, time: BENCH_FIRST_TIME + i * BENCH_STEP_S, value, unit: 'W' };
}

/**
 * `n` consent records on CROWDED_APP, as a gateway serving many households would hold: given to 10,000
 * recipients (a few of them on the client's own domain), one meter's series each, one in a hundred a
 * glob; each with its 'requested' and 'given' events. Written in one transaction (the gateway loads them
 * at start, as after a restart).
 */
function crowd(fedgateDb: string, n: number): void {
  const db = openDatabase(fedgateDb);
  const record = db.prepare(
    `INSERT INTO consents (app, recipient, series, purpose, legal_basis, processing, origin, requested_by, created_at, state, state_at, not_after)
     VALUES (?, ?, ?, 'energy coaching', 'consent', 'read subscribe', 'request', ?, ?, 'given', ?, ?)`,
  );
  const event = db.prepare("INSERT INTO consent_events (consent_id, type, at, actor, role, evidence) VALUES (?, ?, ?, ?, ?, '{}')");
  const now = Date.now();
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const recipient = i % 1000 === 0 ? `user${i}@${CLIENT_DOMAIN}` : `user${i % 10_000}@households.example`;
      const prm = String(10_000_000_000_000 + i);
      const series = i % 100 === 0 ? `urn:dev:prm:${prm}_*` : `urn:dev:prm:${prm}_consumption/power/active/raw`;
      const id = Number(record.run(CROWDED_APP, recipient, series, recipient, now, now, now + 365 * 86_400_000).lastInsertRowid);
      event.run(id, 'requested', now, recipient, 'requester');
      event.run(id, 'given', now, 'subject', 'subject');
    }
    // Their effects (notifications) happened long ago, as far as the gateway knows.
    db.prepare("UPDATE settings SET value = (SELECT CAST(max(id) AS TEXT) FROM consent_events) WHERE name = 'consent_events_handled'").run();
  })();
  db.close();
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
    const apps = opts.consentRecords ? [APP, CROWDED_APP] : [APP];
    for (const app of apps) {
      for (const args of [['app', 'add', app, '--kind', 'store'], ['grant', 'add', app, CLIENT_DOMAIN, '*', '--purpose', 'benchmark']]) {
        const r = await fedgate.cli(...args);
        if (r.code !== 0) throw new Error(`fedgate ${args.join(' ')}: ${r.stderr}`);
      }
    }
    const dbPath = storeDatabasePath(join(fedgate.dir, 'fedgate.sqlite'));
    const db = openStoreDatabase(join(fedgate.dir, 'fedgate.sqlite'));
    for (const app of apps) {
      const store = new SeriesStore(db, app);
      for (let i = 0; i < opts.points; i += 10_000) {
        store.ingest([{ meta: { measurement: { name: 'active-power', unit: 'W', 'sampling-interval': 'PT30M' } }, records: Array.from({ length: Math.min(10_000, opts.points - i) }, (_, k) => record(i + k)) }]);
      }
    }
    db.close();
    if (opts.consentRecords) crowd(join(fedgate.dir, 'fedgate.sqlite'), opts.consentRecords);
    fedgate.start();
    await fedgate.waitOnline();
    const client = await CommandClient.connect(ejabberd.componentPort(CLIENT_DOMAIN), CLIENT_DOMAIN, 'load');
    const appJid = `${APP}@${DOMAIN}`;
    // The commands exist once the app's worker is ready.
    const deadline = Date.now() + 10_000;
    for (const jid of apps.map((a) => `${a}@${DOMAIN}`)) {
      while (!(await client.features(jid)).includes('urn:quoalise:0')) {
        if (Date.now() > deadline) throw new Error(`${jid} never offered Quoalise`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // Measured in a steady state: after its start (every thread loading what it holds — 100,000
    // consent records are a second of CPU on the XMPP thread and on the send job's), not during it.
    await waitIdle(fedgate.proc!.pid!);
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
