/**
 * `fedgate store import APP FILE.csv` and `fedgate store list APP`: the documented CSV format (quoting,
 * value types, times with offset or epoch seconds, the meta sidecar), all-or-nothing imports with the
 * faulty line named, re-imports that change nothing, and the CLI's exit codes.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fedgate } from '../helpers/fedgate.js';
import { queryStore } from '../helpers/db.js';

const A = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const Z = 'urn:dev:org:60060-lyon:12345';
const META = { device: { type: 'electricity-meter', identifier: { authority: 'enedis', type: 'prm', value: '30000000000001' } }, measurement: { name: 'active-power', unit: 'W' } };

interface Ctx {
  fg: Fedgate;
}
const test = suite<Ctx>('csv-import');

test.before(async (ctx) => {
  // No server needed: these commands only touch the configuration and the database.
  ctx.fg = new Fedgate({ port: 1, domain: 'energy.example.org', secret: 's3cret' });
  for (const [name, kind] of [['meters', 'store'], ['chat', 'echo']] as const) {
    const r = await ctx.fg.cli('app', 'add', name, '--kind', kind);
    assert.is(r.code, 0, r.stderr);
  }
});
test.after((ctx) => ctx.fg.cleanup());

function file(fg: Fedgate, name: string, text: string): string {
  const path = join(fg.dir, name);
  writeFileSync(path, text);
  return path;
}

interface Point {
  identifier: string;
  time: number;
  value: number | null;
  string_value: string | null;
  bool_value: number | null;
  unit: string | null;
}
function points(fg: Fedgate): Point[] {
  return queryStore<Point>(
    fg,
    `SELECT s.identifier, p.time, p.value, p.string_value, p.bool_value, p.unit FROM store_points p JOIN store_series s ON s.id = p.series
     WHERE s.app = 'meters' ORDER BY s.identifier, p.time`,
  );
}

test('the documented format: quoting, value types, both time forms, CRLF, BOM, sidecar meta', async ({ fg }) => {
  const csv = file(
    fg,
    'data.csv',
    '\uFEFFidentifier,time,value,unit\r\n' +
      `${A},2024-01-01T00:00:00+01:00,342,W\r\n` +
      `${A},2024-01-01T00:30:00+01:00,0,W\r\n` +
      `${A},1704067200.25,-1.5e3,kW\r\n` +
      `${Z},2024-01-01T00:00:00Z,"42",\r\n` +
      `${Z},2024-01-01T00:01:00Z,"door ""A"", open",\r\n` +
      `${Z},2024-01-01T00:02:00Z,true,\r\n` +
      `"${Z}",2024-01-01T00:03:00Z,"multi\nline",\r\n`,
  );
  file(fg, 'data.meta.json', JSON.stringify({ [A]: META }));
  const r = await fg.cli('store', 'import', 'meters', csv, '--json');
  assert.is(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), { records: 7, written: 7, unchanged: 0, series: 2 });
  const p = (identifier: string, time: number, v: Partial<Point>): Point => ({ identifier, time, value: null, string_value: null, bool_value: null, unit: null, ...v });
  assert.equal(points(fg), [
    p(Z, 1704067200, { string_value: '42' }),
    p(Z, 1704067260, { string_value: 'door "A", open' }),
    p(Z, 1704067320, { bool_value: 1 }),
    p(Z, 1704067380, { string_value: 'multi\nline' }),
    p(A, 1704063600, { value: 342, unit: 'W' }),
    p(A, 1704065400, { value: 0, unit: 'W' }),
    p(A, 1704067200.25, { value: -1500, unit: 'kW' }),
  ]);
  const meta = queryStore<{ identifier: string; meta: string }>(fg, "SELECT identifier, meta FROM store_series WHERE app = 'meters' ORDER BY identifier");
  assert.equal(meta.map((m) => [m.identifier, JSON.parse(m.meta)]), [[Z, {}], [A, META]]);

  const again = await fg.cli('store', 'import', 'meters', csv, '--json');
  assert.equal(JSON.parse(again.stdout), { records: 7, written: 0, unchanged: 7, series: 2 }, 'importing twice changes nothing');

  assert.equal(await fg.rows('store', 'list', 'meters'), [
    { identifier: Z, meta: {}, count: 4, first: '2024-01-01T00:00:00.000Z', last: '2024-01-01T00:03:00.000Z' },
    { identifier: A, meta: META, count: 3, first: '2023-12-31T23:00:00.000Z', last: '2024-01-01T00:00:00.250Z' },
  ]);
  assert.match((await fg.cli('store', 'list', 'meters')).stdout, /urn:dev:org:60060-lyon:12345\s+4\s+2024-01-01T00:00:00Z\s+2024-01-01T00:03:00Z/);
});

test('a file with an error imports nothing and names the line', async ({ fg }) => {
  const before = points(fg).length;
  const cases: Array<[string, RegExp]> = [
    [`identifier,time,value,unit\n${A},1800000000,1,W\n${A},2024-01-01T00:00:00,1,W\n`, /line 3: time .*no UTC offset/],
    [`identifier,time,value,unit\n${A},1800000000,1,W\nurn:dev:prm:123_x,1800000000,1,W\n`, /line 3: .*14 digits/],
    [`identifier,time,value,unit\n${A},1800000000,,W\n`, /line 2: the value is empty/],
    [`identifier,time,value,unit\n${A},1800000000,1\n`, /line 2: 3 values for 4 columns/],
    [`identifier,when,value\n`, /line 1: the header must name/],
    [`identifier,time,value,unit\n${A},1800000000,"open,W\n`, /line 2: a quoted value is never closed/],
    ['', /empty/],
  ];
  for (const [text, message] of cases) {
    const r = await fg.cli('store', 'import', 'meters', file(fg, 'bad.csv', text));
    assert.is(r.code, 1, `${text}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.is(points(fg).length, before, 'nothing of a faulty file is imported');
});

test('CLI errors: unknown app and non-store app exit 1, missing arguments exit 2', async ({ fg }) => {
  const csv = file(fg, 'one.csv', `identifier,time,value,unit\n${A},1800000000,1,W\n`);
  let r = await fg.cli('store', 'import', 'ghost', csv);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'no app named "ghost"');
  r = await fg.cli('store', 'import', 'chat', csv);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'of kind echo');
  r = await fg.cli('store', 'import', 'meters', join(fg.dir, 'missing.csv'));
  assert.is(r.code, 1);
  assert.match(r.stderr, 'no such file');
  r = await fg.cli('store', 'import', 'meters');
  assert.is(r.code, 2);
  r = await fg.cli('store', 'list', 'chat');
  assert.is(r.code, 1);
});

test.run();
