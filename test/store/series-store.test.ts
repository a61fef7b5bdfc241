/**
 * The `store` adapter's storage against a real SQLite file: exact round trip of what is written,
 * half-open ranges, corrections, the extract cursor, exactly-once deliveries, and the adapter's
 * behaviour (maintenance, naming the series a delivery changed).
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../../component/store/database.js';
import { openStoreDatabase } from '../../adapters/store/store-database.js';
import { forgetRecords } from '../../adapters/store/store.js';
import { SeriesStore, StoreDataError } from '../../adapters/store/series-store.js';
import { storeAdapter } from '../../adapters/store/store.js';
import { AdapterError, type Adapter } from '../../adapters/contract.js';
import type { DataBlock, SeriesRecord } from '../../component/quoalise/types.js';
import { createLogger } from '../../component/log/logger.js';

const A = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const B = 'urn:dev:prm:30000000000001_production/power/active/raw';
const META = { device: { type: 'electricity-meter' }, measurement: { name: 'active-power', unit: 'W' } };

interface Ctx {
  dir: string;
  path: string;
  db: Db;
}
const test = suite<Ctx>('series-store');

test.before.each((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'fedgate-store-'));
  ctx.path = join(ctx.dir, 'fedgate.sqlite');
  ctx.db = openStoreDatabase(ctx.path);
});
test.after.each((ctx) => {
  ctx.db.close();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const rec = (name: string, time: number, value: number, unit = 'W'): SeriesRecord => ({ name, time, value, unit });

/** Every record an extract loop returns, following `more` and the cursor as the extract job does. */
function drain(store: SeriesStore, pattern: string, cursor: string | null, limit: number): { records: SeriesRecord[]; cursor: string | null } {
  const records: SeriesRecord[] = [];
  for (;;) {
    const batch = store.extract(pattern, cursor, limit);
    assert.ok(batch.blocks.reduce((n, b) => n + b.records.length, 0) <= limit);
    for (const b of batch.blocks) records.push(...b.records);
    cursor = batch.cursor;
    if (!batch.more) return { records, cursor };
  }
}

test('history gives back exactly what was written, in [start, end)', ({ db }) => {
  const store = new SeriesStore(db, 'meters');
  const records: SeriesRecord[] = [
    { name: A, time: 1704063600, value: 342, unit: 'W' },
    { name: A, time: 1704065400, value: 0, unit: 'W' },
    { name: A, time: 1704065400.25, value: -1.5e-7, unit: 'kW' },
    { name: A, time: 1704067200, stringValue: 'meter replaced', unit: 'W' },
    { name: A, time: 1704069000, boolValue: false },
  ];
  store.ingest([{ meta: META, records }]);
  assert.equal(store.history(A, 1704063600, 1704070800, 100), { meta: META, records });
  // Half-open: the start is included, the end excluded.
  assert.equal(store.history(A, 1704065400, 1704067200, 100)!.records.map((r) => r.time), [1704065400, 1704065400.25]);
  assert.equal(store.history(A, 1704063600, 1704070800, 2)!.records.length, 2, 'limit');
  assert.is(store.history(B, 0, 2e9, 10), null, 'unknown series');
  assert.is(new SeriesStore(db, 'other').history(A, 0, 2e9, 10), null, 'series belong to their app');
});

test('forget deletes in parts and says each part as it commits (a purge or an erasure cut short leaves none unrecorded)', async ({ db }) => {
  const store = new SeriesStore(db, 'meters');
  store.ingest([{ meta: META, records: Array.from({ length: 1200 }, (_, i) => ({ name: A, time: 1704063600 + i, value: i, unit: 'W' })) }]);
  const parts: number[] = [];
  const total = await forgetRecords(store, { series: A, committed: (n) => parts.push(n) });
  assert.is(total, 1200);
  assert.equal(parts, [500, 500, 200]);
  assert.is(store.history(A, 0, 2e9, 10)?.records.length ?? 0, 0);
});

test('catalogue: metadata, time span and count per series', ({ db }) => {
  const store = new SeriesStore(db, 'meters');
  store.ingest([{ meta: META, records: [rec(A, 200, 1), rec(A, 100, 2), rec(A, 300, 0)] }, { meta: {}, records: [rec(B, 50, 7)] }]);
  assert.equal(store.catalogue(), [
    { identifier: A, meta: META, count: 3, first: 100, last: 300 },
    { identifier: B, meta: {}, count: 1, first: 50, last: 50 },
  ]);
  // A later non-empty meta replaces the stored one; an empty one leaves it.
  store.ingest([{ meta: { measurement: { unit: 'kW' } }, records: [rec(A, 400, 1)] }, { meta: {}, records: [rec(A, 500, 1)] }]);
  assert.equal(store.catalogue()[0]!.meta, { measurement: { unit: 'kW' } });
});

test('catalogue of a page: every entry, the span and count of the shown series only', ({ db }) => {
  const store = new SeriesStore(db, 'meters');
  store.ingest([{ meta: META, records: [rec(A, 200, 1), rec(A, 100, 2)] }, { meta: {}, records: [rec(B, 50, 7)] }]);
  let offered: string[] = [];
  const entries = store.catalogue((ids) => {
    offered = ids;
    return new Set([B]);
  });
  assert.equal([...offered].sort(), [A, B].sort(), 'the page is chosen among every identifier');
  assert.equal(
    entries.sort((x, y) => (x.identifier < y.identifier ? -1 : 1)),
    [
      { identifier: A, meta: META },
      { identifier: B, meta: {}, count: 1, first: 50, last: 50 },
    ].sort((x, y) => (x.identifier < y.identifier ? -1 : 1)),
    "the records of a series not shown are not counted",
  );
});

test('a correction replaces the value and takes a new seq; the same value again changes nothing', ({ db }) => {
  const store = new SeriesStore(db, 'meters');
  assert.equal(store.ingest([{ meta: {}, records: [rec(A, 100, 1), rec(A, 200, 2)] }]), { records: 2, written: 2, unchanged: 0, changed: [A] });
  const { cursor } = drain(store, A, null, 10);
  assert.equal(store.ingest([{ meta: {}, records: [rec(A, 100, 1), rec(A, 200, 2)] }]), { records: 2, written: 0, unchanged: 2, changed: [] });
  assert.equal(drain(store, A, cursor, 10).records, [], 'unchanged records are not extracted again');
  assert.equal(store.ingest([{ meta: {}, records: [rec(A, 100, 1.5), rec(A, 200, 2, 'kW')] }]), { records: 2, written: 2, unchanged: 0, changed: [A] });
  assert.equal(drain(store, A, cursor, 10).records, [rec(A, 100, 1.5), rec(A, 200, 2, 'kW')], 'corrections are extracted, in write order');
  assert.equal(store.history(A, 0, 1000, 10)!.records, [rec(A, 100, 1.5), rec(A, 200, 2, 'kW')]);
});

test('extract never skips or repeats records that share a second, whatever the batch size and interleaved writes', ({ db }) => {
  const store = new SeriesStore(db, 'meters');
  const other = new SeriesStore(db, 'other');
  const written: SeriesRecord[] = [];
  let cursor: string | null = null;
  const seen: SeriesRecord[] = [];
  for (let round = 0; round < 5; round++) {
    // Several records in the same second, in two series of this app, and writes of another app in between.
    const batch = [0, 0.25, 0.5, 0.75].flatMap((f) => [rec(A, 1000 + round + f, round), rec(B, 1000 + round + f, -round)]);
    store.ingest([{ meta: {}, records: batch }]);
    other.ingest([{ meta: {}, records: [rec(A, 1000 + round, 99)] }]);
    written.push(...batch);
    const out = drain(store, 'urn:dev:prm:30000000000001_*', cursor, 3);
    seen.push(...out.records);
    cursor = out.cursor;
  }
  // Within a batch records are grouped by series; across batches nothing may be missing or doubled.
  const key = (r: SeriesRecord) => `${r.name} ${r.time}`;
  const sorted = (rs: SeriesRecord[]) => [...rs].sort((a, b) => (key(a) < key(b) ? -1 : 1));
  assert.is(seen.length, written.length);
  assert.equal(sorted(seen), sorted(written), 'every record exactly once');
  assert.equal(drain(store, 'urn:dev:prm:30000000000001_*', cursor, 3).records, []);
});

test('extract with limit 0 returns the current end: only later writes come after it', ({ db }) => {
  const store = new SeriesStore(db, 'meters');
  store.ingest([{ meta: {}, records: [rec(A, 100, 1), rec(B, 100, 2)] }]);
  const end = store.extract(A, null, 0);
  assert.equal(end.blocks, []);
  assert.is(end.more, false);
  assert.equal(drain(store, A, end.cursor, 10).records, []);
  store.ingest([{ meta: {}, records: [rec(A, 200, 3), rec(B, 200, 4)] }]);
  assert.equal(drain(store, A, end.cursor, 10).records, [rec(A, 200, 3)], 'only the subscribed series, only after the end');
  assert.equal(drain(store, A, null, 10).records, [rec(A, 100, 1), rec(A, 200, 3)], 'a null cursor reads from the start');
});

test('writes from two connections (gateway worker and CLI) share one sequence', ({ db, path }) => {
  const cli = openStoreDatabase(path);
  try {
    const worker = new SeriesStore(db, 'meters');
    const importer = new SeriesStore(cli, 'meters');
    importer.ingest([{ meta: {}, records: [rec(A, 100, 1)] }]);
    worker.ingest([{ meta: {}, records: [rec(A, 200, 2)] }]);
    importer.ingest([{ meta: {}, records: [rec(B, 300, 3)] }]);
    assert.equal(drain(worker, '*', null, 1).records, [rec(A, 100, 1), rec(A, 200, 2), rec(B, 300, 3)]);
  } finally {
    cli.close();
  }
});

test('deliver is exactly once per key, and counts points another message already carried', ({ db }) => {
  const store = new SeriesStore(db, 'sink');
  const blocks: DataBlock[] = [{ meta: META, records: [rec(A, 100, 1), rec(A, 200, 0)] }];
  assert.equal(store.deliver([{ key: 'peer-1', from: 'src@a.localhost', blocks }]), [{ records: 2, written: 2, unchanged: 0, changed: [A], replayed: false }]);
  assert.equal(store.deliver([{ key: 'peer-1', from: 'src@a.localhost', blocks }]), [{ records: 2, written: 0, unchanged: 0, changed: [], replayed: true }]);
  assert.equal(store.deliver([{ key: 'peer-2', from: 'src@a.localhost', blocks: [{ meta: META, records: [rec(A, 200, 0), rec(A, 300, 5)] }] }]), [
    { records: 2, written: 1, unchanged: 1, changed: [A], replayed: false },
  ]);
  const rows = db.prepare('SELECT key, records, written, duplicate_points, redelivered FROM store_deliveries ORDER BY key').all();
  assert.equal(rows, [
    { key: 'peer-1', records: 2, written: 2, duplicate_points: 0, redelivered: 1 },
    { key: 'peer-2', records: 2, written: 1, duplicate_points: 1, redelivered: 0 },
  ]);
  assert.is(store.history(A, 0, 1000, 10)!.records.length, 3);
});

test('records the store could not serve back are refused before anything is written', ({ db }) => {
  const store = new SeriesStore(db, 'meters');
  const bad: Array<[string, SeriesRecord]> = [
    ['identifier', rec('not-a-urn', 100, 1)],
    ['time', { name: A, time: NaN, value: 1 }],
    ['time past year 9999 (no date can show it)', { name: A, time: 1e13, value: 1 }],
    ['time before 1970', { name: A, time: -1, value: 1 }],
    ['value', { name: A, time: 100 }],
    ['two values', { name: A, time: 100, value: 1, stringValue: 'x' }],
    ['control character', { name: A, time: 100, stringValue: 'bell\u0007' }],
  ];
  for (const [what, r] of bad) {
    assert.throws(() => store.ingest([{ meta: {}, records: [rec(A, 50, 1), r] }]), (e: unknown) => e instanceof StoreDataError, what);
  }
  assert.throws(() => store.deliver([{ key: 'k', from: 'x@y', blocks: [{ meta: { 'bad key': 'x' }, records: [rec(A, 50, 1)] }] }]), (e: unknown) => e instanceof StoreDataError);
  assert.is(db.prepare('SELECT count(*) FROM store_points').pluck().get(), 0);
  assert.is(db.prepare('SELECT count(*) FROM store_deliveries').pluck().get(), 0);
  // The store still works after a refused batch (no stale series ids).
  store.ingest([{ meta: {}, records: [rec(A, 50, 1)] }]);
  assert.is(store.history(A, 0, 100, 10)!.records.length, 1);
});

async function createAdapter(databasePath: string, options: Record<string, unknown>, dataChanged: (series?: Iterable<string>) => void): Promise<Adapter> {
  return storeAdapter.create({
    app: { name: 'meters', jid: 'meters@energy.localhost' },
    options: storeAdapter.parseOptions(options),
    log: createLogger({ level: 'silent', format: 'json' }),
    databasePath,
    dataChanged,
  });
}

test('adapter: a delivery that writes wakes the consumers of the series it changed, and only then', async ({ path }) => {
  const changes: string[][] = [];
  const adapter = await createAdapter(path, {}, (series) => changes.push([...(series ?? ['(any)'])]));
  try {
    await adapter.deliver!([{ key: 'k1', from: 'src@a.localhost', blocks: [{ meta: {}, records: [rec(A, 100, 1)] }] }]);
    await adapter.deliver!([{ key: 'k1', from: 'src@a.localhost', blocks: [{ meta: {}, records: [rec(A, 100, 1)] }] }]);
    await adapter.deliver!([
      { key: 'k2', from: 'src@a.localhost', blocks: [{ meta: {}, records: [rec(A, 100, 1)] }] },
      { key: 'k3', from: 'src@a.localhost', blocks: [{ meta: {}, records: [rec(B, 100, 1)] }] },
    ]);
    assert.equal(changes, [[A], [B]], 'the series written; nothing for a replay or for the same value again');
  } finally {
    await adapter.close?.();
  }
});

test('history rows: numbers read in three columns, other values and mixed units read whole, the same records either way', ({ db }) => {
  const store = new SeriesStore(db, 'meters');
  const mixed: SeriesRecord[] = [rec(A, 100, 1), { name: A, time: 200, stringValue: 'door open' }, { name: A, time: 300, boolValue: false }, rec(A, 400, 0, 'kW')];
  store.ingest([{ meta: {}, records: mixed }]);
  assert.equal(store.history(A, 0, 1000, 10)!.records, mixed);
  const block = store.historyRows(A, 0, 1000, 10)!;
  assert.equal([...block.rows], [[100, 1, 'W'], [200, 'door open', null], [300, false, null], [400, 0, 'kW']]);
  assert.equal([...block.rows].length, 4, 'rows can be read again');
  assert.equal([...store.historyRows(A, 0, 150, 10)!.rows], [[100, 1, 'W']], 'a range of numbers only');
  assert.is(store.historyRows(B, 0, 1000, 10), null);
});

test('adapter: unknown series is not-found; maintenance fails every call as an upstream error', async ({ path }) => {
  const adapter = await createAdapter(path, {}, () => {});
  try {
    await adapter.history!({ series: A, limit: 10, requester: 'a@b' }).then(
      () => assert.unreachable('history of an unknown series'),
      (e: unknown) => assert.ok(e instanceof AdapterError && e.kind === 'not-found'),
    );
  } finally {
    await adapter.close?.();
  }
  const down = await createAdapter(path, { maintenance: 'restoring last night\'s backup' }, () => {});
  for (const call of [() => down.history!({ series: A, limit: 1, requester: 'a@b' }), () => down.catalogue!(), () => down.extract!({ series: A, cursor: null, limit: 0 })]) {
    await call().then(
      () => assert.unreachable('maintenance'),
      (e: unknown) => {
        assert.ok(e instanceof AdapterError && e.kind === 'upstream');
        assert.equal((e as AdapterError).upstream, { issuer: 'meters', code: 'maintenance' });
        assert.match((e as Error).message, 'restoring last night');
      },
    );
  }
  assert.throws(() => storeAdapter.parseOptions({ colour: 'red' }), /option colour/);
  assert.throws(() => storeAdapter.parseOptions({ maintenance: '' }), /option maintenance/);
});

test.run();
