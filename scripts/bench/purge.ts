/**
 * bench:purge — the retention purge of 1,000,000 expired records in the receiving gateway's store,
 * in bounded batches, while a bench:relay-style flow (1,000 messages/s, A → B, stored in the same
 * store file) keeps going. Figures, same run:
 *   - the longest write lock of one purge batch, beside one DELETE of the same records in a single
 *     transaction (the naive purge, on a copy of the same rows) — goal < 100 ms;
 *   - the relay's p99 latency while the purge runs, beside the same flow just before it.
 *   npm run bench:purge [-- --records 1000000 --rate 1000]
 */
import { parseArgs } from 'node:util';
import { copyFileSync, rmSync } from 'node:fs';
import { Ejabberd } from '../../test/helpers/ejabberd.js';
import { Fedgate } from '../../test/helpers/fedgate.js';
import { loadConfig } from '../../component/config/load.js';
import { createLogger } from '../../component/log/logger.js';
import { startGateway, type Gateway } from '../../component/main.js';
import { openDatabase } from '../../component/store/database.js';
import { openStoreDatabase, storeDatabasePath } from '../../adapters/store/store-database.js';
import { SeriesStore } from '../../adapters/store/series-store.js';
import { forgetRecords } from '../../adapters/store/store.js';
import { Tracker, message, paced } from './lib/relay-flow.js';
import { fmt, percentile, printTable } from './lib/stats.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' }, rate: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '5' } } });
const total = Number(values.records);
const rate = Number(values.rate);
const seconds = Number(values.seconds);

const ej = await Ejabberd.start({ components: [{ domain: 'a.localhost', secret: 'a' }, { domain: 'b.localhost', secret: 'b' }] });
const a = new Fedgate({ port: ej.componentPort('a.localhost'), domain: 'a.localhost', secret: 'a' });
const b = new Fedgate({ port: ej.componentPort('b.localhost'), domain: 'b.localhost', secret: 'b', logLevel: 'info' });
let gw: Gateway | null = null;
try {
  await a.must('app', 'add', 'src', '--kind', 'echo');
  await b.must('app', 'add', 'sink', '--kind', 'store');
  await b.must('consumer', 'add', '--source', 'src@a.localhost', '--destination', 'sink', '--series', '*', '--schedule', 'none');
  // B purges when it starts: the records go in after that first run (the next is an hour away).
  b.start();
  await b.waitOnline();
  while (!b.stderr.includes('retention purge')) await new Promise((r) => setTimeout(r, 100));
  // 1,000,000 expired records received earlier, in B's store (written as deliveries with a retention would leave them).
  const storePath = storeDatabasePath(`${b.dir}/fedgate.sqlite`);
  {
    const db = openStoreDatabase(`${b.dir}/fedgate.sqlite`);
    const now = Date.now();
    const series = db.prepare("INSERT INTO store_series (app, identifier, meta, created_at, updated_at) VALUES ('sink', ?, '{}', ?, ?)");
    const point = db.prepare('INSERT INTO store_points (series, time, value, unit, seq, expires_at) VALUES (?, ?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (let s = 0; s < 100; s++) {
        const id = Number(series.run(`urn:dev:prm:${String(30000000000100 + s)}_consumption/power/active/raw`, now, now).lastInsertRowid);
        for (let i = 0; i < total / 100; i++) point.run(id, 1577836800 + i * 1800, i, 'W', s * total + i + 1, 1577836800 + i * 1800 + 365 * 86_400);
      }
      db.prepare('UPDATE store_sequence SET seq = ?').run(100 * total + 1);
    })();
    db.close();
  }
  // The naive baseline, on a copy of the same rows: one transaction for all.
  const copy = `${storePath}.copy`;
  copyFileSync(storePath, copy);
  const baselineDb = openDatabase(copy, { migrate: false });
  const t0 = process.hrtime.bigint();
  const naive = baselineDb.prepare('DELETE FROM store_points WHERE expires_at <= ?').run(Date.now() / 1000).changes;
  const naiveMs = Number(process.hrtime.bigint() - t0) / 1e6;
  baselineDb.close();
  rmSync(copy, { force: true });

  gw = await startGateway(loadConfig(a.configPath), createLogger({ level: 'warn', format: 'json' }));
  const tracker = new Tracker(gw);
  await new Promise<void>((resolve) => (gw!.link.isOnline ? resolve() : gw!.link.once('online', resolve)));
  tracker.queue(Array.from({ length: 2000 }, (_, i) => message(i)));
  await tracker.until(2000);

  // The flow alone, then the flow with the purge running in this process on B's store file.
  let i = 10_000;
  const flow = async (s: number) => {
    const before = tracker.latencies.length;
    const start = i;
    await paced(rate, s, (k) => tracker.queue(Array.from({ length: k }, () => message(i++))));
    await tracker.until(before + (i - start));
    return tracker.latencies.slice(before);
  };
  const alone = (await flow(seconds)).sort((x, y) => x - y);
  // The store adapter's own purge loop (what `forget` runs), on B's store file, in this process.
  const store = new SeriesStore(openStoreDatabase(`${b.dir}/fedgate.sqlite`), 'sink');
  const locks: number[] = [];
  const purging = forgetRecords(store, { series: '*', expired: Date.now() / 1000 }, (ms) => locks.push(ms));
  let purged = 0;
  void purging.then((n) => (purged = n));
  const tPurge = Date.now();
  let purgeDone = false;
  void purging.then(() => (purgeDone = true));
  const during: number[] = [];
  while (!purgeDone) during.push(...(await flow(1)));
  during.sort((x, y) => x - y);
  await purging;
  const purgeSeconds = (Date.now() - tPurge) / 1000;
  await gw.stop();
  gw = null;

  printTable(`bench:purge — ${fmt(purged)} expired records purged in batches while A → B relays ${rate} messages/s`, 'baseline', [
    { figure: 'longest write lock of the purge', value: Math.max(...locks), baseline: naiveMs, unit: 'ms', higherIsBetter: false },
    { figure: `relay p99 at ${rate}/s`, value: percentile(during, 99), baseline: percentile(alone, 99), unit: 'ms', higherIsBetter: false },
    { figure: `relay p50 at ${rate}/s`, value: percentile(during, 50), baseline: percentile(alone, 50), unit: 'ms', higherIsBetter: false },
  ]);
  process.stdout.write(
    `\nbaselines: the write lock of one DELETE of the same ${fmt(naive)} records in one transaction; the relay's latency just before the purge.\n` +
      `purge: ${locks.length} batches, ${fmt(purged / purgeSeconds)} records/s alongside the flow; longest lock ${fmt(Math.max(...locks))} ms (goal < 100 ms), median ${fmt(percentile([...locks].sort((x, y) => x - y), 50))} ms\n`,
  );
} finally {
  if (gw) await gw.stop();
  for (const f of [a, b]) {
    await f.stop();
    f.cleanup();
  }
  await ej.stop();
}
