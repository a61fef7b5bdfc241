/**
 * The `sql` adapter against a real PostgreSQL (Debian's, started by test/helpers/postgres.ts) loaded with
 * Zabbix's own schema and generated history, through a real ejabberd: list_series and get_history of
 * Zabbix items, a subscription fed by rows inserted during the test, a database restart in the middle
 * (nothing lost, nothing doubled), malformed rows refused with nothing sent, bad options refused by key;
 * and the generic mode (the operator's queries) reading and writing a legacy table.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Postgres } from '../helpers/postgres.js';
import { Peer } from '../helpers/peer.js';
import { errorCondition, errorText } from '../helpers/inbox.js';
import { query, until } from '../helpers/db.js';
import { command, isPush, recordsOf, seriesOf, upstreamError } from '../helpers/quoalise.js';
import { formatIsoUtc } from '../../component/quoalise/time.js';
import type { SeriesRecord } from '../../component/quoalise/types.js';

const DOMAIN = 'energy.localhost';
const CLIENT = 'client.localhost';
const BUILDING = `building@${DOMAIN}`;
const LEGACY = `legacy@${DOMAIN}`;
const UNBOUNDED = `unbounded@${DOMAIN}`;
const ID = (itemid: number) => `urn:dev:org:60060-lyon:${itemid}`;
const TEMP = 23001; // float item (history)
const KWH = 23002; // unsigned item (history_uint)
const T0 = 1704063600;
const N = 500;

interface Ctx {
  ejabberd: Ejabberd;
  pg: Postgres;
  fg: Fedgate;
  client: Peer;
}
const test = suite<Ctx>('adapter-sql');

/** Zabbix's time of a row: clock + ns. */
const at = (i: number) => ({ clock: T0 + 60 * i, ns: (i * 7919) % 1_000_000_000 });

test.before(async (ctx) => {
  const [ejabberd, pg] = await Promise.all([
    Ejabberd.start({ components: [{ domain: DOMAIN, secret: 'fg-secret' }, { domain: CLIENT, secret: 'client-secret' }] }),
    Postgres.start(),
  ]);
  Object.assign(ctx, { ejabberd, pg });
  await pg.createZabbix();
  await pg.psql(
    `INSERT INTO hosts (hostid, host, name, status) VALUES (10501, 'school-lyon', 'School', 0), (10502, 'other', 'Other', 0);
     INSERT INTO items (itemid, hostid, name, key_, value_type, units) VALUES
       (${TEMP}, 10501, 'Room temperature', 'sensor.temp[room1]', 0, 'Cel'),
       (${KWH}, 10501, 'Energy index', 'meter.energy', 3, 'Wh'),
       (23003, 10501, 'Firmware', 'system.sw', 1, ''),
       (23004, 10502, 'Other temperature', 'sensor.temp[x]', 0, 'Cel');
     INSERT INTO history (itemid, clock, ns, value)
       SELECT ${TEMP}, ${T0} + 60 * i, (i * 7919) % 1000000000, 19 + (i % 10) * 0.25 FROM generate_series(0, ${N - 1}) i;
     INSERT INTO history_uint (itemid, clock, ns, value)
       SELECT ${KWH}, ${T0} + 60 * i, 0, 1000000 + i * 12 FROM generate_series(0, ${N - 1}) i;
     CREATE TABLE readings (id bigserial PRIMARY KEY, identifier text NOT NULL, at timestamptz NOT NULL, value float8, unit text);
     CREATE TABLE catalogue_size (n int, prefix text, first float8); INSERT INTO catalogue_size VALUES (1000, 'urn:dev:x:', NULL);
     CREATE TABLE text_size (n int); INSERT INTO text_size VALUES (65536);
     CREATE TABLE received (key text, sender text, identifier text, time float8, value float8, unit text, PRIMARY KEY (key, identifier, time));`,
    'zabbix',
  );
  const fg = (ctx.fg = new Fedgate({ port: ejabberd.componentPort(DOMAIN), domain: DOMAIN, secret: 'fg-secret', extraYaml: 'delivery:\n  push_messages_per_second: 1000\nquoalise:\n  requests_per_second: 1000\n' }));
  const connection = ['--option', `port=${pg.port}`, '--option', 'database=zabbix', '--option', 'user=postgres', '--option', `password_file=${pg.passwordFile}`, '--option', 'poll_ms=100'];
  await fg.must('app', 'add', 'building', '--kind', 'sql', '--option', 'preset=zabbix', '--option', 'identifier=urn:dev:org:60060-lyon:{itemid}', '--option', '["school-lyon"]'.replace(/^/, 'hosts='), ...connection);
  await fg.must(
    'app', 'add', 'legacy', '--kind', 'sql', ...connection,
    '--option', 'history_query=SELECT at AS time, value, unit FROM readings WHERE identifier = $1 AND at >= to_timestamp($2) AND at < to_timestamp($3) ORDER BY at LIMIT $4',
    '--option', 'catalogue_query=SELECT identifier, count(*) AS count, min(at) AS first, max(at) AS last FROM readings GROUP BY identifier',
    '--option', 'extract_query=SELECT identifier, at AS time, value, unit, id::text AS cursor FROM readings WHERE id > coalesce($1::bigint, 0) ORDER BY id LIMIT $2',
    '--option', "end_query=SELECT coalesce(max(id), 0)::text AS cursor FROM readings",
    '--option', 'deliver_query=INSERT INTO received VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING',
  );
  // A catalogue without a LIMIT, as long as catalogue_size says, against max_rows.
  await fg.must('app', 'add', 'unbounded', '--kind', 'sql', ...connection, '--option', 'max_rows=1000', '--option', "catalogue_query=SELECT (SELECT prefix FROM catalogue_size) || g AS identifier, (SELECT first FROM catalogue_size) AS first FROM generate_series(1, (SELECT n FROM catalogue_size)) g");
  // A text column as the value, as long as text_size says.
  await fg.must('app', 'add', 'texts', '--kind', 'sql', ...connection, '--option', `history_query=SELECT ${T0} AS time, repeat('x', (SELECT n FROM text_size)) AS value WHERE $1::text IS NOT NULL AND $2::float8 < $3::float8 AND $4::int > 0`);
  await fg.must('app', 'add', 'meters', '--kind', 'store');
  await fg.must('grant', 'add', 'building', CLIENT, '*');
  await fg.must('grant', 'add', 'legacy', CLIENT, '*');
  await fg.must('grant', 'add', 'unbounded', CLIENT, '*');
  await fg.must('grant', 'add', 'texts', CLIENT, '*');
  await fg.must('consumer', 'add', '--source', 'meters', '--destination', 'legacy', '--series', '*', '--schedule', 'on-change');
  fg.start();
  await fg.waitOnline();
  ctx.client = (await Peer.connect(ejabberd.componentPort(CLIENT), CLIENT, 'client-secret')).answerDisco();
  await until(async () => (await command(ctx.client, BUILDING, 'list_series')).attrs.type === 'result', 15_000, () => `building not ready: ${fg.stderr}`);
});

test.after(async (ctx) => {
  await ctx.client?.close();
  await ctx.fg?.stop();
  ctx.fg?.cleanup();
  await Promise.all([ctx.ejabberd?.stop(), ctx.pg?.stop()]);
});

test('bad options are refused with the key named; a password is never taken inline', async ({ fg }) => {
  for (const [opts, key] of [
    [['preset=zabbix', 'database=zabbix', 'user=postgres', 'hosts=["x"]'], 'identifier'],
    [['preset=zabbix', 'database=zabbix', 'user=postgres', 'identifier=urn:x:{itemid}', 'hosts=["x"]', 'password=hunter2'], 'password'],
    [['database=zabbix', 'user=postgres', 'extract_query=SELECT 1'], 'end_query'],
    [['database=zabbix', 'user=postgres', 'history_query=SELECT 1', 'port=99999'], 'port'],
    [['database=zabbix', 'user=postgres', 'history_query=SELECT 1', 'password_file=relative/file'], 'password_file'],
    [['preset=mysql'], 'preset'],
  ] as const) {
    const r = await fg.cli('app', 'add', 'bad', '--kind', 'sql', ...opts.flatMap((o) => ['--option', o]));
    assert.is.not(r.code, 0, opts.join(' '));
    assert.match(r.stderr, `option ${key}:`);
    assert.not.match(r.stderr, 'hunter2');
  }
});

test('list_series: the selected Zabbix items of numeric type, with their span and count', async ({ client }) => {
  const series = seriesOf(await command(client, BUILDING, 'list_series'));
  assert.equal(
    series.map((s) => [s.identifier, s.count, s.first, s.last]),
    [
      [ID(TEMP), String(N), '2023-12-31T23:00:00Z', formatIsoUtc(at(N - 1).clock + at(N - 1).ns / 1e9)],
      [ID(KWH), String(N), '2023-12-31T23:00:00Z', '2024-01-01T07:19:00Z'],
    ].sort(),
  );
});

test('get_history: clock + ns as time, half-open range, units, both value tables', async ({ client }) => {
  const answer = await command(client, BUILDING, 'get_history', { identifier: ID(TEMP), start_time: '2024-01-01T00:10:00Z', end_time: '2024-01-01T00:20:00Z' });
  const expected: SeriesRecord[] = [];
  for (let i = 0; i < N; i++) {
    const { clock, ns } = at(i);
    const t = clock + ns / 1e9;
    if (t >= T0 + 3600 + 600 && t < T0 + 3600 + 1200) expected.push({ name: ID(TEMP), time: t, value: 19 + (i % 10) * 0.25, unit: 'Cel' });
  }
  assert.is(expected.length, 10);
  assert.equal(recordsOf(answer), expected);
  const uint = recordsOf(await command(client, BUILDING, 'get_history', { identifier: ID(KWH), start_time: '2023-12-31T23:00:00Z', end_time: '2023-12-31T23:03:00Z' }));
  assert.equal(uint, [0, 1, 2].map((i) => ({ name: ID(KWH), time: T0 + 60 * i, value: 1000000 + i * 12, unit: 'Wh' })));
  const unknown = await command(client, BUILDING, 'get_history', { identifier: ID(23004) });
  assert.is(errorCondition(unknown), 'item-not-found'); // another host's item is not served
});

test('a subscription is fed by rows inserted meanwhile, across a database restart, each once', async ({ pg, client }) => {
  assert.is((await command(client, BUILDING, 'subscribe', { identifier: ID(TEMP) })).attrs.type, 'result');
  const insert = (i: number, v: number) => pg.psql(`INSERT INTO history (itemid, clock, ns, value) VALUES (${TEMP}, ${T0 + 60 * i}, 0, ${v})`, 'zabbix');
  const received: SeriesRecord[] = [];
  const collect = async (n: number) => {
    while (received.length < n) received.push(...recordsOf(await client.waitFor(isPush, 30_000)));
  };
  await insert(N, 1.5);
  await collect(1);
  await insert(N + 1, 2.5);
  // The restart: the row above may or may not have been extracted before the server went down.
  await pg.stopServer();
  const down = await command(client, BUILDING, 'get_history', { identifier: ID(TEMP) });
  assert.is(errorCondition(down), 'undefined-condition');
  assert.is(upstreamError(down)?.issuer, `127.0.0.1:${pg.port}/zabbix`);
  await pg.boot();
  await insert(N + 2, 3.5);
  await collect(3);
  assert.equal(received.map((r) => [r.time, r.value]), [[T0 + 60 * N, 1.5], [T0 + 60 * (N + 1), 2.5], [T0 + 60 * (N + 2), 3.5]]);
  // get_history works again on the same adapter: the pool reconnected.
  const after = await command(client, BUILDING, 'get_history', { identifier: ID(TEMP), start_time: '2024-01-01T07:20:00Z' });
  assert.is(recordsOf(after).length, 3);
});

test('a malformed row (NaN) is refused: nothing is sent, the subscription resumes once it is fixed', async ({ pg, fg, client }) => {
  await pg.psql(`INSERT INTO history (itemid, clock, ns, value) VALUES (${TEMP}, ${T0 + 60 * (N + 3)}, 0, 'NaN')`, 'zabbix');
  await until(
    () => (query<{ last_error: string | null }>(fg, "SELECT last_error FROM consumers WHERE kind = 'subscription'")[0]?.last_error ?? '').includes('not a finite number'),
    10_000,
    () => 'the NaN row was not refused',
  );
  const history = await command(client, BUILDING, 'get_history', { identifier: ID(TEMP), start_time: '2024-01-01T07:20:00Z' });
  assert.is(upstreamError(history)?.code, 'malformed-data');
  assert.is(client.inbox.matching(isPush).length, 0);
  await pg.psql(`UPDATE history SET value = 4.5 WHERE itemid = ${TEMP} AND clock = ${T0 + 60 * (N + 3)}`, 'zabbix');
  assert.equal(recordsOf(await client.waitFor(isPush, 30_000)).map((r) => r.value), [4.5]);
});

test('generic queries: a legacy table read (history, catalogue, subscription) and written (deliveries, once)', async ({ pg, fg, client }) => {
  const S = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
  await pg.psql(`INSERT INTO readings (identifier, at, value, unit) SELECT '${S}', to_timestamp(${T0} + 1800 * i), i * 10, 'W' FROM generate_series(0, 9) i`, 'zabbix');
  await until(async () => seriesOf(await command(client, LEGACY, 'list_series')).length === 1, 10_000, () => 'legacy catalogue');
  // count(*) is an int8, which pg hands over as text: read as a number, it is the entry's count.
  assert.is(seriesOf(await command(client, LEGACY, 'list_series'))[0]!.count, '10');
  const history = await command(client, LEGACY, 'get_history', { identifier: S, start_time: '2024-01-01T00:00:00+01:00', end_time: '2024-01-01T02:00:00+01:00' });
  assert.equal(recordsOf(history), [0, 1, 2, 3].map((i) => ({ name: S, time: T0 + 1800 * i, value: i * 10, unit: 'W' })));
  assert.is((await command(client, LEGACY, 'subscribe', { identifier: S })).attrs.type, 'result');
  await pg.psql(`INSERT INTO readings (identifier, at, value, unit) VALUES ('${S}', to_timestamp(${T0 + 18000}), 0, 'W')`, 'zabbix');
  const pushed = await client.waitFor((el) => isPush(el) && el.attrs.from === LEGACY, 30_000);
  assert.equal(recordsOf(pushed), [{ name: S, time: T0 + 18000, value: 0, unit: 'W' }]);

  // meters (a store app) → legacy: the consumer delivers into the table through deliver_query.
  const csv = join(fg.dir, 'm.csv');
  writeFileSync(csv, `identifier,time,value,unit\n${S},${T0},342,W\n${S},${T0 + 1800},0,W\n`);
  await fg.must('store', 'import', 'meters', csv);
  await until(async () => (await pg.psql('SELECT count(*) FROM received', 'zabbix')) === '2', 15_000, () => 'nothing delivered to the legacy table');
  assert.is(await pg.psql('SELECT string_agg(sender || \' \' || time || \' \' || value, \',\' ORDER BY time) FROM received', 'zabbix'), `meters@${DOMAIN} ${T0} 342,meters@${DOMAIN} ${T0 + 1800} 0`);
});

test('a statement returning more than max_rows rows fails alone (too-many-rows), the app answers after', async ({ pg, client }) => {
  // 3 million rows without a LIMIT ended the app's thread out of memory at each call ("the application worker stopped").
  await until(async () => (await command(client, UNBOUNDED, 'list_series')).attrs.type === 'result', 15_000, () => 'unbounded not ready');
  assert.is(seriesOf(await command(client, UNBOUNDED, 'list_series')).length, 1000);
  await pg.psql('UPDATE catalogue_size SET n = 1001', 'zabbix');
  const over = await command(client, UNBOUNDED, 'list_series');
  assert.is(errorCondition(over), 'undefined-condition');
  assert.equal(upstreamError(over), { issuer: `127.0.0.1:${pg.port}/zabbix`, code: 'too-many-rows' });
  // The same pool's connection serves the next statement.
  await pg.psql('UPDATE catalogue_size SET n = 1000', 'zabbix');
  assert.is(seriesOf(await command(client, UNBOUNDED, 'list_series')).length, 1000);
});

test('catalogue identifiers are checked as records\' names: not a URN, or too long, is malformed-data', async ({ pg, client }) => {
  // A 20 MB identifier, served, held the link to ejabberd past its keepalive; 'hello' was listed as a series.
  for (const prefix of ['hello:', `urn:dev:x:${'a'.repeat(600)}`]) {
    await pg.psql(`UPDATE catalogue_size SET prefix = '${prefix}'`, 'zabbix');
    const answer = await command(client, UNBOUNDED, 'list_series');
    assert.is(upstreamError(answer)?.code, 'malformed-data', prefix.slice(0, 20));
    assert.match(errorText(answer), 'catalogue row 0: the identifier');
  }
  await pg.psql(`UPDATE catalogue_size SET prefix = 'urn:dev:x:'`, 'zabbix');
  assert.is(seriesOf(await command(client, UNBOUNDED, 'list_series')).length, 1000);
  // A span out of the records' years cannot be written as a date: the app's data is at fault, said so.
  await pg.psql('UPDATE catalogue_size SET first = 1e300', 'zabbix');
  const far = await command(client, UNBOUNDED, 'list_series');
  assert.is(upstreamError(far)?.code, 'malformed-data');
  assert.match(errorText(far), 'catalogue row 0: first 1e+300 is outside the years 1970 to 9999');
  await pg.psql('UPDATE catalogue_size SET first = NULL', 'zabbix');
});

test('a text value longer than 65,536 characters is refused (malformed-data), not served', async ({ pg, client }) => {
  // One row's 20 MB text, served through ejabberd, held the link past its keepalive: every app went offline.
  const TEXTS = `texts@${DOMAIN}`;
  const ask = () => command(client, TEXTS, 'get_history', { identifier: ID(1), start_time: '2023-12-31T00:00:00Z', end_time: '2024-01-02T00:00:00Z' });
  await until(async () => (await ask()).attrs.type === 'result', 15_000, () => 'texts not ready');
  assert.is(recordsOf(await ask())[0]!.stringValue!.length, 65_536);
  await pg.psql('UPDATE text_size SET n = 65537', 'zabbix');
  const over = await ask();
  assert.is(errorCondition(over), 'undefined-condition');
  assert.is(upstreamError(over)?.code, 'malformed-data');
});

test.run();
