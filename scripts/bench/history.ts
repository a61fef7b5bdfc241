/**
 * bench:history — get_history of 1,000 / 10,000 / 100,000 records from a `store` app through fedgate
 * and ejabberd, timed to the last byte at a component client, beside two baselines measured in the
 * same run: SQLite alone reading the same rows from the same file (read-only, in this process), and
 * ejabberd alone relaying the same answer (the client bounces it through the server to itself).
 * Rounds alternate the three and the median of each is reported (the machine is noisy). Then the
 * 1,000-record figure from an app whose grant sits beside 100,000 other consent records, against the
 * same from an app whose grant is alone (issue 8: >= 0.9), and subscription pushes.
 *   npm run bench:history [-- --rounds 5] [--only consents]
 */
import { parseArgs } from 'node:util';
import { openDatabase } from '../../component/store/database.js';
import { formatIsoUtc } from '../../component/quoalise/time.js';
import { median, printTable, type Row } from './lib/stats.js';
import { BENCH_FIRST_TIME, BENCH_SERIES, BENCH_STEP_S, CROWDED_APP, startStoreGateway } from './lib/store-gateway.js';
import { SeriesStore } from '../../adapters/store/series-store.js';
import { openStoreDatabase } from '../../adapters/store/store-database.js';
import { Authorizer } from '../../component/authz/authorizer.js';
import { ConsentStore } from '../../component/consent/consent-store.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, only: { type: 'string' } } });
const rounds = Number(values.rounds);
const SIZES = [1_000, 10_000, 100_000];

// Pushes are throttled per subscriber (delivery.push_messages_per_second, 20 by default = 20,000
// records/s); the benchmark lifts the throttle to measure what the pipeline itself sustains.
const CONSENT_RECORDS = 100_000;
const gw = await startStoreGateway({ points: Math.max(...SIZES), consentRecords: CONSENT_RECORDS, extraYaml: 'delivery:\n  push_messages_per_second: 100000\n' });
try {
  const db = openDatabase(gw.dbPath, { readonly: true, migrate: false });
  const seriesId = db.prepare("SELECT id FROM store_series WHERE app = 'bench' AND identifier = ?").pluck().get(BENCH_SERIES) as number;
  // The statement the store adapter runs for get_history.
  const select = db
    .prepare('SELECT time, value, string_value, bool_value, unit FROM store_points WHERE series = ? AND time >= ? AND time < ? ORDER BY time LIMIT ?')
    .raw();
  const rows: Row[] = [];
  const relayRows: Row[] = [];
  let answer = '';
  let answerBytes = 0;
  for (const n of values.only === 'consents' ? [] : SIZES) {
    const start = BENCH_FIRST_TIME;
    const end = start + n * BENCH_STEP_S;
    const fields = { identifier: BENCH_SERIES, start_time: formatIsoUtc(start), end_time: formatIsoUtc(end) };
    const sqlite = () => {
      const t0 = process.hrtime.bigint();
      const got = select.all(seriesId, start, end, 100_001).length;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (got !== n) throw new Error(`SQLite read ${got} rows, expected ${n}`);
      return ms;
    };
    const fedgate = async () => {
      const r = await gw.client.execute(gw.appJid, 'get_history', fields);
      const records = r.answer.getChild('command')?.getChild('quoalise')?.getChild('data')?.getChild('sensml')?.getChildren('senml').length;
      if (records !== n) throw new Error(`get_history returned ${records} records, expected ${n}`);
      answer = r.answer.getChild('command')!.toString();
      answerBytes = r.bytes;
      return r.ms;
    };
    const relay = async () => (await gw.client.bounce(answer)).ms;
    sqlite();
    await fedgate(); // warm-up: JIT, page cache, worker
    await relay();
    const ours: number[] = [];
    const base: number[] = [];
    const hop: number[] = [];
    for (let r = 0; r < rounds; r++) {
      base.push(sqlite());
      ours.push(await fedgate());
      hop.push(await relay());
    }
    const [ms, baseMs, hopMs] = [median(ours), median(base), median(hop)];
    process.stderr.write(`${n} records: fedgate ${ms.toFixed(1)} ms (${(answerBytes / 1e6).toFixed(2)} MB), SQLite ${baseMs.toFixed(1)} ms, ejabberd relay ${hopMs.toFixed(1)} ms\n`);
    const label = n.toLocaleString('en-US');
    rows.push(
      { figure: `time to last byte, ${label} records`, value: ms, baseline: baseMs, unit: 'ms', higherIsBetter: false },
      { figure: `records per second, ${label} records`, value: (n / ms) * 1000, baseline: (n / baseMs) * 1000, unit: '/s', higherIsBetter: true },
    );
    relayRows.push({ figure: `time to last byte, ${label} records (${(answerBytes / 1e6).toFixed(2)} MB)`, value: ms, baseline: hopMs, unit: 'ms', higherIsBetter: false });
  }
  db.close();
  if (values.only !== 'consents') {
    printTable(`bench:history — get_history through fedgate + ejabberd to a component client, median of ${rounds} rounds`, 'SQLite alone', rows);
    printTable('the same answers beside the XMPP hop alone (ejabberd relaying the same bytes)', 'ejabberd relay', relayRows);
  }
  await benchConsents();
  if (values.only !== 'consents') await benchPush();
} finally {
  await gw.stop();
}

/**
 * The authorization check with many consent records: get_history of 1,000 records from the app whose
 * grant is its only record, and from an app holding the same series whose grant sits beside 100,000
 * other consent records — same gateway, same data, rounds alternating. Goal: >= 0.9.
 */
async function benchConsents(): Promise<void> {
  const n = 1_000;
  const fields = { identifier: BENCH_SERIES, start_time: formatIsoUtc(BENCH_FIRST_TIME), end_time: formatIsoUtc(BENCH_FIRST_TIME + n * BENCH_STEP_S) };
  const crowded = gw.appJid.replace(/^[^@]+/, CROWDED_APP);
  const once = async (jid: string) => {
    const r = await gw.client.execute(jid, 'get_history', fields);
    const records = r.answer.getChild('command')?.getChild('quoalise')?.getChild('data')?.getChild('sensml')?.getChildren('senml').length;
    if (records !== n) throw new Error(`get_history from ${jid} returned ${records} records, expected ${n}: ${r.answer.toString().slice(0, 300)}`);
    return r.ms;
  };
  for (let i = 0; i < 3; i++) await Promise.all([once(gw.appJid), once(crowded)]); // warm-up: JIT, page cache, workers
  const one: number[] = [];
  const many: number[] = [];
  // ABBA: neither app always goes first (the second of a pair may pay for the first's garbage).
  for (let r = 0; r < rounds * 10; r++) {
    if (r % 2 === 0) {
      one.push(await once(gw.appJid));
      many.push(await once(crowded));
    } else {
      many.push(await once(crowded));
      one.push(await once(gw.appJid));
    }
  }
  const [ms, baseMs] = [median(many), median(one)];
  printTable(`get_history of 1,000 records: the requester's grant beside ${CONSENT_RECORDS.toLocaleString('en-US')} other consent records, and alone (same gateway and data, median of ${rounds * 10} rounds in ABBA order)`, '1 record', [
    { figure: 'time to last byte, 1,000 records', value: ms, baseline: baseMs, unit: 'ms', higherIsBetter: false },
    { figure: 'records per second, 1,000 records', value: (n / ms) * 1000, baseline: (n / baseMs) * 1000, unit: '/s', higherIsBetter: true },
  ]);
  process.stdout.write(`\nthroughput ratio with ${CONSENT_RECORDS.toLocaleString('en-US')} consent records / with 1: ${(baseMs / ms).toFixed(2)} (goal >= 0.9)\n`);

  // The check alone, in this process, on the gateway's own records (less noise than the round trip).
  const db = openDatabase(gw.fedgateDbPath, { readonly: true, migrate: false });
  const authz = new Authorizer(new ConsentStore(db));
  db.close();
  const checks = 200_000;
  const perCheck = (app: string) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < checks; i++) {
      if (!authz.authorize({ app, requester: 'load.localhost', series: BENCH_SERIES, at: Date.now() }).allowed) throw new Error(`not allowed on ${app}`);
    }
    return Number(process.hrtime.bigint() - t0) / checks;
  };
  perCheck(CROWDED_APP);
  perCheck('bench');
  const [crowdedNs, aloneNs] = [median([1, 2, 3].map(() => perCheck(CROWDED_APP))), median([1, 2, 3].map(() => perCheck('bench')))];
  printTable('the authorization check alone (Authorizer.authorize, in this process, median of 3 x 200,000 checks)', '1 record', [
    { figure: 'time per check', value: crowdedNs / 1000, baseline: aloneNs / 1000, unit: 'µs', higherIsBetter: false },
  ]);
}

/**
 * Subscription pushes: PUSHED records written to the store (by this process, as `fedgate store import`
 * would) after a subscribe; the gateway extracts them and pushes them through the outbox in messages of
 * 1000 records. Timed from the first pushed message to the last, beside the same messages relayed by
 * ejabberd alone.
 */
async function benchPush(): Promise<void> {
  const PUSHED = 200_000;
  const subscribed = await gw.client.execute(gw.appJid, 'subscribe', { identifier: BENCH_SERIES });
  if (!subscribed.answer.getChild('command')) throw new Error('subscribe failed');
  const payloads: string[] = [];
  let records = 0;
  let first = 0n;
  let firstRecords = 0;
  let last = 0n;
  const all = new Promise<void>((resolve) => {
    const stop = gw.client.onMessage((el) => {
      const q = el.getChild('quoalise');
      if (!q) return;
      const n = q.getChild('data')?.getChild('sensml')?.getChildren('senml').length ?? 0;
      if (payloads.length === 0) (first = process.hrtime.bigint()), (firstRecords = n);
      last = process.hrtime.bigint();
      records += n;
      payloads.push(q.toString());
      if (records >= PUSHED) {
        stop();
        resolve();
      }
    });
  });
  const store = new SeriesStore(openStoreDatabase(gw.fedgateDbPath), 'bench');
  for (let i = 0; i < PUSHED; i += 10_000) {
    store.ingest([{ meta: {}, records: Array.from({ length: 10_000 }, (_, k) => ({ name: BENCH_SERIES, time: BENCH_FIRST_TIME + (200_000 + i + k) * BENCH_STEP_S, value: k, unit: 'W' })) }]);
  }
  await all;
  const pushMs = Number(last - first) / 1e6;
  const relayMs = await gw.client.relayMany(payloads.slice(1));
  const perSecond = ((records - firstRecords) / pushMs) * 1000;
  const basePerSecond = ((records - firstRecords) / relayMs) * 1000;
  printTable(`subscription pushes: ${PUSHED.toLocaleString('en-US')} new records, ${payloads.length} messages of <= 1000 records`, 'ejabberd relay', [
    { figure: 'records pushed per second', value: perSecond, baseline: basePerSecond, unit: '/s', higherIsBetter: true },
  ]);
}
