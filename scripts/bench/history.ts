/**
 * bench:history — get_history of 1,000 / 10,000 / 100,000 records from a `store` app through fedgate
 * and ejabberd, timed to the last byte at a component client, beside two baselines measured in the
 * same run: SQLite alone reading the same rows from the same file (read-only, in this process), and
 * ejabberd alone relaying the same answer (the client bounces it through the server to itself).
 * Rounds alternate the three and the median of each is reported (the machine is noisy).
 *   npm run bench:history [-- --rounds 5]
 */
import { parseArgs } from 'node:util';
import { openDatabase } from '../../component/store/database.js';
import { formatIsoUtc } from '../../component/quoalise/time.js';
import { median, printTable, type Row } from './lib/stats.js';
import { BENCH_FIRST_TIME, BENCH_SERIES, BENCH_STEP_S, startStoreGateway } from './lib/store-gateway.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);
const SIZES = [1_000, 10_000, 100_000];

const gw = await startStoreGateway({ points: Math.max(...SIZES) });
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
  for (const n of SIZES) {
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
  printTable(`bench:history — get_history through fedgate + ejabberd to a component client, median of ${rounds} rounds`, 'SQLite alone', rows);
  printTable('the same answers beside the XMPP hop alone (ejabberd relaying the same bytes)', 'ejabberd relay', relayRows);
} finally {
  await gw.stop();
}
