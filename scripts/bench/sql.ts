/**
 * bench:sql — get_history of 100,000 records from Zabbix's history in PostgreSQL, through the `sql`
 * adapter (preset zabbix), fedgate and ejabberd, timed to the last byte at a component client; beside,
 * in the same run: `psql` running the same query alone (its own process, output discarded), the same
 * answer from a `store` app, and ejabberd alone relaying the same bytes. Goal (issue 11): fedgate's
 * own share — time to last byte minus the ejabberd relay — at most 2× the query alone.
 *   npm run bench:sql [-- --rounds 5]
 */
import { parseArgs } from 'node:util';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { formatIsoUtc } from '../../component/quoalise/time.js';
import { median, printTable, type Row } from './lib/stats.js';
import { BENCH_FIRST_TIME, BENCH_SERIES, BENCH_STEP_S, startStoreGateway } from './lib/store-gateway.js';
import { Postgres } from '../../test/helpers/postgres.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);
const N = 100_000;
const ITEM = 42001;
const IDENTIFIER = `urn:dev:org:60060-bench:${ITEM}`;

const [gw, pg] = await Promise.all([startStoreGateway({ points: N }), Postgres.start()]);
try {
  await pg.createZabbix();
  await pg.psql(
    `INSERT INTO hosts (hostid, host, name, status) VALUES (10001, 'bench', 'Bench', 0);
     INSERT INTO items (itemid, hostid, name, key_, value_type, units) VALUES (${ITEM}, 10001, 'Power', 'power', 0, 'W');
     INSERT INTO history (itemid, clock, ns, value) SELECT ${ITEM}, ${BENCH_FIRST_TIME} + ${BENCH_STEP_S} * i, 0, 600 + (i * 7919) % 211 FROM generate_series(0, ${N - 1}) i;`,
    'zabbix',
  );
  await pg.psql('VACUUM ANALYZE history', 'zabbix');
  for (const args of [
    ['app', 'add', 'zabbix', '--kind', 'sql', '--option', 'preset=zabbix', '--option', 'identifier=urn:dev:org:60060-bench:{itemid}', '--option', `items=[${ITEM}]`,
      '--option', `port=${pg.port}`, '--option', 'database=zabbix', '--option', 'user=postgres', '--option', `password_file=${pg.passwordFile}`],
    ['grant', 'add', 'zabbix', 'load.localhost', '*'],
  ]) await gw.fedgate.must(...args);
  const zabbixJid = gw.appJid.replace(/^bench@/, 'zabbix@');
  const deadline = Date.now() + 15_000;
  while (!(await gw.client.features(zabbixJid)).includes('urn:quoalise:0')) {
    if (Date.now() > deadline) throw new Error(`${zabbixJid} never offered Quoalise`);
    await new Promise((r) => setTimeout(r, 50));
  }

  const start = BENCH_FIRST_TIME;
  const end = start + N * BENCH_STEP_S;
  const range = { start_time: formatIsoUtc(start), end_time: formatIsoUtc(end) };
  // The statement the adapter runs (adapters/sql/zabbix.ts, both value tables), with its parameters written in.
  const sql = `SELECT clock, ns, value FROM (SELECT itemid, clock, ns, value::float8 AS value FROM history WHERE itemid = ${ITEM} AND clock >= ${start} AND clock <= ${end} AND clock + ns / 1e9 >= ${start} AND clock + ns / 1e9 < ${end}
    UNION ALL SELECT itemid, clock, ns, value::float8 AS value FROM history_uint WHERE itemid = ${ITEM} AND clock >= ${start} AND clock <= ${end} AND clock + ns / 1e9 >= ${start} AND clock + ns / 1e9 < ${end}) h ORDER BY clock, ns LIMIT ${N + 1}`;
  const psqlAlone = async () => {
    const t0 = process.hrtime.bigint();
    await run('psql', ['-X', '-q', '-A', '-t', '-d', 'zabbix', '-o', '/dev/null', '-c', sql], { env: pg.env });
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const count = (el: { getChild(n: string): any }) => el.getChild('command')?.getChild('quoalise')?.getChild('data')?.getChild('sensml')?.getChildren('senml').length as number | undefined;
  let answer = '';
  let bytes = 0;
  const viaSql = async () => {
    const r = await gw.client.execute(zabbixJid, 'get_history', { identifier: IDENTIFIER, ...range });
    if (count(r.answer) !== N) throw new Error(`sql app returned ${count(r.answer)} records`);
    answer = r.answer.getChild('command')!.toString();
    bytes = r.bytes;
    return r.ms;
  };
  const viaStore = async () => {
    const r = await gw.client.execute(gw.appJid, 'get_history', { identifier: BENCH_SERIES, ...range });
    if (count(r.answer) !== N) throw new Error(`store app returned ${count(r.answer)} records`);
    return r.ms;
  };
  const relay = async () => (await gw.client.bounce(answer)).ms;
  // Warm-up: JIT, PostgreSQL's buffers, the pool's connection.
  await psqlAlone();
  await viaSql();
  await viaStore();
  await relay();
  const ours: number[] = [];
  const alone: number[] = [];
  const store: number[] = [];
  const hop: number[] = [];
  for (let r = 0; r < rounds; r++) {
    alone.push(await psqlAlone());
    ours.push(await viaSql());
    store.push(await viaStore());
    hop.push(await relay());
  }
  const [ms, psqlMs, storeMs, hopMs] = [median(ours), median(alone), median(store), median(hop)];
  process.stderr.write(`fedgate sql ${ms.toFixed(1)} ms (${(bytes / 1e6).toFixed(2)} MB), psql ${psqlMs.toFixed(1)} ms, store ${storeMs.toFixed(1)} ms, relay ${hopMs.toFixed(1)} ms\n`);
  const rows: Row[] = [
    { figure: 'time to last byte, 100,000 records', value: ms, baseline: psqlMs, unit: 'ms', higherIsBetter: false },
    { figure: "fedgate's own share (minus the relay)", value: ms - hopMs, baseline: psqlMs, unit: 'ms', higherIsBetter: false },
  ];
  printTable(`bench:sql — get_history of 100,000 Zabbix records through fedgate + ejabberd, beside psql running the same query alone, median of ${rounds} rounds`, 'psql alone', rows);
  printTable('the same answer from a store app, and ejabberd relaying the same bytes', 'baseline', [
    { figure: 'sql app vs store app, time to last byte', value: ms, baseline: storeMs, unit: 'ms', higherIsBetter: false },
    { figure: `sql app vs ejabberd relay (${(bytes / 1e6).toFixed(2)} MB)`, value: ms, baseline: hopMs, unit: 'ms', higherIsBetter: false },
  ]);
  process.stdout.write(`\nfedgate's own share / psql alone: ${((ms - hopMs) / psqlMs).toFixed(2)} (goal <= 2)\n`);
} finally {
  await gw.stop();
  await pg.stop();
}
