/**
 * The demo data generator: deterministic for a seed, accepted as is by `fedgate store import`, and
 * shaped like its documented model (zero production at night, heating in winter, sun in summer).
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Fedgate } from '../helpers/fedgate.js';
import { DIST_ROOT } from '../../component/paths.js';

const run = promisify(execFile);
const SCRIPT = join(DIST_ROOT, 'scripts/demo-data.js');
const HOUSEHOLD = 'urn:dev:prm:30001442769830_consumption/power/active/raw';
const SCHOOL = 'urn:dev:prm:30002187651024_production/power/active/raw';

interface Ctx {
  fg: Fedgate;
}
const test = suite<Ctx>('demo-data');

test.before((ctx) => {
  ctx.fg = new Fedgate({ port: 1, domain: 'energy.example.org', secret: 's3cret' });
});
test.after((ctx) => ctx.fg.cleanup());

async function generate(fg: Fedgate, name: string, ...args: string[]): Promise<string> {
  const out = join(fg.dir, name);
  await run(process.execPath, [SCRIPT, '--out', out, ...args]);
  return out;
}

interface Row {
  identifier: string;
  time: string;
  value: number;
}
function rows(path: string): Row[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [identifier, time, value] = line.split(',');
      return { identifier: identifier!, time: time!, value: Number(value) };
    });
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

test('same seed, same bytes; another seed, other data', async ({ fg }) => {
  const a = readFileSync(await generate(fg, 'a.csv'), 'utf8');
  const b = readFileSync(await generate(fg, 'b.csv'), 'utf8');
  const c = readFileSync(await generate(fg, 'c.csv', '--seed', '2'), 'utf8');
  assert.ok(a === b, 'deterministic');
  assert.ok(a !== c, 'the seed matters');
  assert.equal(JSON.parse(readFileSync(join(fg.dir, 'a.meta.json'), 'utf8'))[SCHOOL].measurement, {
    name: 'active-power', direction: 'production', quantity: 'power', type: 'electrical', unit: 'W', aggregation: 'mean', 'sampling-interval': 'PT30M',
  });
});

test('a year of half-hours per series, imported as is', async ({ fg }) => {
  const csv = await generate(fg, 'demo.csv', '--year', '2024');
  assert.is((await fg.cli('app', 'add', 'demo', '--kind', 'store')).code, 0);
  const r = await fg.cli('store', 'import', 'demo', csv, '--json');
  assert.is(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), { records: 2 * 366 * 48, written: 2 * 366 * 48, unchanged: 0, series: 2 });
  const list = await fg.rows<{ identifier: string; count: number; first: string; last: string; meta: { measurement: { direction: string } } }>('store', 'list', 'demo');
  assert.equal(list.map((s) => [s.identifier, s.count, s.first, s.last, s.meta.measurement.direction]), [
    // 2024-01-01T00:00+01:00 to the last half-hour, 2024-12-31T23:30+01:00: period-start stamps.
    [HOUSEHOLD, 17_568, '2023-12-31T23:00:00.000Z', '2024-12-31T22:30:00.000Z', 'consumption'],
    [SCHOOL, 17_568, '2023-12-31T23:00:00.000Z', '2024-12-31T22:30:00.000Z', 'production'],
  ]);
});

test('the model: no sun at night, heating in winter, more sun in summer', async ({ fg }) => {
  const all = rows(await generate(fg, 'model.csv'));
  const of = (id: string, month: string) => all.filter((r) => r.identifier === id && r.time.slice(5, 7) === month).map((r) => r.value);
  const night = all.filter((r) => r.identifier === SCHOOL && Number(r.time.slice(11, 13)) < 4);
  assert.ok(night.length > 0 && night.every((r) => r.value === 0), 'zero production between midnight and 4:00');
  assert.ok(all.every((r) => Number.isInteger(r.value) && r.value >= 0));
  assert.ok(all.filter((r) => r.identifier === HOUSEHOLD).every((r) => r.value >= 80), 'a house never draws nothing');
  assert.ok(mean(of(HOUSEHOLD, '01')) > 2 * mean(of(HOUSEHOLD, '07')), 'electric heating in January');
  assert.ok(mean(of(SCHOOL, '07')) > 2 * mean(of(SCHOOL, '12')), 'long sunny days in July');
  assert.ok(Math.max(...of(SCHOOL, '06')) < 36_000, 'never above the 36 kWp peak power');
  assert.match(all[0]!.time, /^2024-01-01T00:00:00\+01:00$/);
  assert.ok(all.some((r) => r.time === '2024-07-01T12:00:00+02:00'), 'summer time carries its own offset');
});

test.run();
