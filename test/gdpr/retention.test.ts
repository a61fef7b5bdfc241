/**
 * Retention carried with the data, between two gateways on a real ejabberd: A's app keeps its series
 * one year (P1Y), so what it sends says so; B's store keeps each record no longer, serves nothing past
 * it, and its purge deletes it. Records are stamped in the past, so "past retention" needs no clock.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { query, queryStore, scalar, until } from '../helpers/db.js';

const A = 'a.localhost';
const B = 'b.localhost';
const C = 'c.localhost';
const S = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const DAY = 86_400;
const now = () => Date.now() / 1000;

interface Ctx {
  ejabberd: Ejabberd;
  a: Fedgate;
  b: Fedgate;
}
const test = suite<Ctx>('gdpr retention');

/** 10 records two years old, 10 from the last days. */
function rows(): Array<[number, number]> {
  const t = Math.floor(now() / DAY) * DAY;
  return [...Array.from({ length: 10 }, (_, i): [number, number] => [t - 730 * DAY + i * 1800, i]), ...Array.from({ length: 10 }, (_, i): [number, number] => [t - 3 * DAY + i * 1800, 100 + i])];
}

function points(fg: Fedgate, app: string): Array<{ time: number; expires_at: number | null }> {
  return queryStore(fg, 'SELECT p.time, p.expires_at FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = ? ORDER BY p.time', app);
}

test.before(async (ctx) => {
  ctx.ejabberd = await Ejabberd.start({ components: [A, B, C].map((domain) => ({ domain, secret: `${domain}-s` })) });
  const port = (domain: string) => ctx.ejabberd.componentPort(domain);
  ctx.a = new Fedgate({ port: port(A), domain: A, secret: `${A}-s`, logLevel: 'info', extraYaml: 'delivery:\n  retry_initial_ms: 100\n  retry_max_seconds: 1\n' });
  ctx.b = new Fedgate({ port: port(B), domain: B, secret: `${B}-s`, logLevel: 'info' });
  await ctx.a.must('app', 'add', 'meters', '--kind', 'store');
  await ctx.a.must('retention', 'set', 'meters', 'urn:dev:prm:*', 'P1Y');
  await ctx.b.must('app', 'add', 'sink', '--kind', 'store');
  await ctx.b.must('consumer', 'add', '--source', `meters@${A}`, '--destination', 'sink', '--series', '*', '--schedule', 'none');
  for (const fg of [ctx.a, ctx.b]) fg.start();
  await Promise.all([ctx.a.waitOnline(), ctx.b.waitOnline()]);
  // Each gateway purges when it starts, then every hour: data written after that first run stays an hour.
  for (const fg of [ctx.a, ctx.b]) await until(() => fg.stderr.includes('retention purge'), 10_000, () => fg.stderr.slice(-1000));
  const csv = join(ctx.a.dir, 'old-and-new.csv');
  writeFileSync(csv, `identifier,time,value,unit\n${rows().map(([t, v]) => `${S},${t},${v},W`).join('\n')}\n`);
  await ctx.a.must('store', 'import', 'meters', csv);
});

test.after(async (ctx) => {
  for (const fg of [ctx.a, ctx.b]) {
    await fg?.stop();
    fg?.cleanup();
  }
  await ctx.ejabberd?.stop();
});

test('the policy is listed, and refused when it is not a period', async ({ a }) => {
  const list = await a.rows<{ app: string; series: string; period: string }>('retention', 'list');
  assert.equal(list.map((p) => [p.app, p.series, p.period]), [['meters', 'urn:dev:prm:*', 'P1Y']]);
  const bad = await a.cli('retention', 'set', 'meters', '*', 'forever');
  assert.is(bad.code, 1);
  assert.match(bad.stderr, 'ISO 8601');
});

test('the retention travels with the data and the receiver stores each record’s expiry', async ({ a, b }) => {
  await a.must('consumer', 'add', '--source', 'meters', '--destination', `sink@${B}`, '--series', S, '--batch', '5');
  await until(() => points(b, 'sink').length === 20, 20_000, () => `${points(b, 'sink').length} arrived`);
  const carried = query<{ retention: string }>(b, "SELECT retention FROM inbox WHERE app = 'sink' LIMIT 1")[0]!.retention;
  assert.equal(JSON.parse(carried), [[S, { maxAge: 'P1Y' }]]);
  const stored = points(b, 'sink');
  assert.ok(stored.every((p) => p.expires_at !== null));
  assert.is(stored.filter((p) => p.expires_at! < now()).length, 10, 'the two-year-old records are already past it');
});

test('the receiver serves nothing past retention, and its purge deletes it (a dry run first)', async ({ b }) => {
  const dry = JSON.parse(await b.must('retention', 'purge', '--dry-run', '--json')) as { apps: Array<{ app: string; records: number }> };
  assert.equal(dry.apps.map((x) => [x.app, x.records]), [['sink', 10]]);
  assert.is(points(b, 'sink').length, 20, 'a dry run deletes nothing');
  const done = await b.must('retention', 'purge');
  assert.match(done, '10 record(s) of sink');
  assert.ok(points(b, 'sink').every((p) => p.expires_at! > now()));
  assert.is(points(b, 'sink').length, 10);
});

test('the source purges its own records by its policy; queued messages past retention go too', async ({ a }) => {
  // A destination that never comes: its messages wait in the outbox, the old ones past retention.
  await a.must('consumer', 'add', '--source', 'meters', '--destination', `sink@${C}`, '--series', S, '--batch', '10');
  await until(() => scalar(a, 'SELECT count(*) FROM outbox WHERE destination = ?', `sink@${C}`) === 2, 20_000, () => 'not queued');
  const report = JSON.parse(await a.must('retention', 'purge', '--json')) as { outbox: number; apps: Array<{ app: string; rule: string; records: number }> };
  assert.is(report.outbox, 1, 'the message holding only two-year-old records');
  assert.equal(report.apps.map((x) => [x.app, x.rule, x.records]), [['meters', 'older than P1Y', 10]]);
  assert.is(points(a, 'meters').length, 10);
  assert.is(scalar(a, 'SELECT count(*) FROM outbox WHERE destination = ?', `sink@${C}`), 1);
  // Each deletion is in the log as it commits (a crash midway leaves none unrecorded), then the summary.
  const kinds = query<{ kind: string }>(a, "SELECT kind FROM trace_entries WHERE kind LIKE 'purge%' ORDER BY idx").map((e) => e.kind);
  assert.equal(kinds, ['purge.queue', 'purge.records', 'purge']);
});

test.run();
