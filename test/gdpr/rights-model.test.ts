/**
 * The GDPR kit's pieces without a server: a data subject reads their own series without any record;
 * a consent's retention reaches the authorization decision; the summary of who received what follows
 * the log (and skips a subject's own reads and control messages); queued messages lose exactly the
 * erased series; erasure messages are read strictly.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../component/store/database.js';
import { AppRegistry } from '../../component/registry/apps.js';
import { GrantStore } from '../../component/authz/grant-store.js';
import { Authorizer } from '../../component/authz/authorizer.js';
import { Parties } from '../../component/consent/parties.js';
import { traceOf } from '../../component/trace/trace.js';
import { Disclosures } from '../../component/gdpr/disclosures.js';
import { withoutSeries } from '../../component/gdpr/queues.js';
import { encodeQuoalise } from '../../component/quoalise/payload.js';
import { encodeRetention, parsePeriod } from '../../component/gdpr/retention.js';
import { controlElement, decodeErase, decodeErased, erasedPayload, erasePayload, ErasureFormatError } from '../../component/gdpr/wire.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';
import { ErasureRunningError, ErasureStore } from '../../component/gdpr/erasure-store.js';
import { spawnSync } from 'node:child_process';
import { applyReceivedErasures } from '../../component/gdpr/apply-erasures.js';
import { createLogger } from '../../component/log/logger.js';
import { erase } from '../../component/gdpr/erase.js';
import { Outbox } from '../../component/delivery/outbox.js';
import { openStoreDatabase, storeDatabasePath } from '../../adapters/store/store-database.js';
import { SeriesStore } from '../../adapters/store/series-store.js';
import { mkdirSync } from 'node:fs';

const H1 = 'urn:dev:prm:30000000000011_consumption/power/active/raw';
const H2 = 'urn:dev:prm:30000000000022_consumption/power/active/raw';
const NOW = Date.parse('2024-06-01T12:00:00Z');

interface Ctx {
  dir: string;
  db: Db;
}
const test = suite<Ctx>('gdpr rights (model)');

test.before.each((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'fedgate-gdpr-'));
  ctx.db = openDatabase(join(ctx.dir, 'fedgate.sqlite'));
  new AppRegistry(ctx.db).add({ name: 'meters', kind: 'store' });
});
test.after.each((ctx) => {
  ctx.db.close();
  rmSync(ctx.dir, { recursive: true, force: true });
});

test('a data subject with a JID reads their own series without any record, and only theirs; a change is seen at the next refresh', ({ db }) => {
  const parties = new Parties(db);
  const authz = new Authorizer(new GrantStore(db), undefined, undefined, parties);
  const read = (requester: string, series: string, processing?: 'read' | 'subscribe') => authz.authorize({ app: 'meters', requester, series, at: NOW, ...(processing ? { processing } : {}) });
  assert.not.ok(read('alice@example.org', H1).allowed);
  parties.addSubject('household-1', ['urn:dev:prm:30000000000011_*'], 'alice@example.org');
  parties.addSubject('household-2', ['urn:dev:prm:30000000000022_*'], null);
  authz.refresh();
  const own = read('alice@example.org', H1);
  assert.ok(own.allowed);
  assert.is(own.subject, 'household-1');
  assert.match(own.reason, 'the person the data are about');
  assert.not.ok(read('alice@example.org', H2).allowed, "another household's series");
  assert.not.ok(read('alice@example.org', H1, 'subscribe').allowed, 'reading, not subscribing');
  assert.ok(authz.hasAnyGrant('meters', 'alice@example.org', NOW), 'she sees the commands');
  assert.equal(authz.visibleSeriesPatterns('meters', 'alice@example.org', NOW), ['urn:dev:prm:30000000000011_*']);
  parties.removeSubject('household-1');
  authz.refresh();
  assert.not.ok(read('alice@example.org', H1).allowed, 'no longer a subject');
});

test("a grant's retention reaches the decision; a period that is not one is refused", ({ db }) => {
  const grants = new GrantStore(db);
  grants.add({ app: 'meters', requester: 'bob@example.net', series: H1, retention: 'P7D' });
  grants.add({ app: 'meters', requester: 'carol@example.net', series: H1 });
  const authz = new Authorizer(grants);
  assert.is(authz.authorize({ app: 'meters', requester: 'bob@example.net', series: H1, at: Date.now() }).retention, 'P7D');
  assert.is(authz.authorize({ app: 'meters', requester: 'carol@example.net', series: H1, at: Date.now() }).retention, undefined);
  assert.throws(() => grants.add({ app: 'meters', requester: 'bob@example.net', series: H2, retention: 'a year' }), /ISO 8601 period/);
});

test('who received what: transfers and get_history answers from the log; not the subject reading their own, not control messages, not refusals', ({ db }) => {
  const trace = traceOf(db);
  trace.write('transfer.sent', { app: 'meters@a.example', destination: 'sink@b.example', id: 'x1', records: 10, series: [H1, H2] }, NOW);
  trace.write('transfer.sent', { app: 'meters@a.example', destination: 'sink@b.example', id: 'x2', records: 5, series: [H1] }, NOW + 1000);
  trace.write('transfer.sent', { app: 'meters@a.example', destination: 'sink@b.example', id: 'x3', records: 0, series: [] }, NOW + 1500);
  trace.write('access', { requester: 'bob@example.net', app: 'meters', command: 'get_history', series: H1, outcome: 'allowed', records: 48 }, NOW + 2000);
  trace.write('access', { requester: 'alice@example.org', app: 'meters', command: 'get_history', series: H1, outcome: 'allowed', subject: 'household-1', records: 48 }, NOW + 3000);
  trace.write('access', { requester: 'eve@example.net', app: 'meters', command: 'get_history', series: H1, outcome: 'refused' }, NOW + 4000);
  const d = new Disclosures(db);
  assert.is(d.catchUp(2), 2, 'a bounded step');
  d.catchUp();
  assert.is(d.behind(), 0);
  const rows = d.of(['urn:dev:prm:30000000000011_*']).map((r) => [r.recipient, r.via, r.messages, r.records, r.firstAt - NOW, r.lastAt - NOW]);
  assert.equal(rows, [
    ['sink@b.example', 'transfer', 2, 15, 0, 1000],
    ['bob@example.net', 'access', 1, 48, 2000, 2000],
  ]);
  assert.equal(d.of([H2], 'meters').map((r) => r.recipient), ['sink@b.example']);
  assert.equal(d.of([H2], 'other'), []);
  d.catchUp();
  assert.is(d.of(['*']).length, 3, 'reading again counts nothing twice');
});

test('who received what: sums kept in memory per step merge with the stored row across steps (times, entries, counts)', ({ db }) => {
  const trace = traceOf(db);
  const first = trace.write('transfer.sent', { app: 'meters@a.example', destination: 'sink@b.example', messages: [{ id: 'x1', records: 3, series: [H1] }, { id: 'x2', records: 4, series: [H1] }] }, NOW);
  const second = trace.write('transfer.sent', { app: 'meters@a.example', destination: 'sink@b.example', messages: [{ id: 'x3', records: 5, series: [H1] }] }, NOW + 1000);
  const d = new Disclosures(db);
  while (d.behind() > 0) d.catchUp(1);
  const [row] = d.of([H1]);
  assert.equal(
    { messages: row!.messages, records: row!.records, firstAt: row!.firstAt - NOW, lastAt: row!.lastAt - NOW, firstEntry: row!.firstEntry, lastEntry: row!.lastEntry },
    { messages: 3, records: 12, firstAt: 0, lastAt: 1000, firstEntry: first, lastEntry: second },
  );
});

test('a queued message loses exactly the erased series, its retention terms with them; nothing left: null', () => {
  const meta = { measurement: { unit: 'W' } };
  const payload =
    encodeQuoalise([
      { meta, records: [{ name: H1, time: 1, value: 1 }, { name: H2, time: 1, value: 2 }, { name: H1, time: 2, value: 3 }] },
    ]) + encodeRetention(new Map([[H1, { maxAge: parsePeriod('P1Y') }], [H2, { maxAge: parsePeriod('P2Y') }]]));
  const rest = withoutSeries(payload, (s) => s === H1)!;
  assert.is(rest.records, 1);
  assert.equal(rest.series, [H2]);
  assert.not.match(rest.payload, H1);
  assert.match(rest.payload, 'max-age="P2Y"');
  assert.is(withoutSeries(payload, () => true), null);
});

test('erasure messages: what is sent reads back; malformed ones are refused with the reason', () => {
  const req = { request: 'e0a1-3-1', series: ['urn:dev:prm:30000000000011_*'], reason: 'asked by the person' };
  const msg = parseXml(`<message xmlns="jabber:component:accept">${erasePayload(req, 'meters@a.example')}</message>`);
  const found = controlElement(msg)!;
  assert.is(found.kind, 'erase');
  assert.equal(decodeErase(found.el), req);
  assert.match(msg.getChildText('body') ?? '', 'asks you to erase');
  const conf = parseXml(`<message xmlns="jabber:component:accept">${erasedPayload({ request: 'e0a1-3-1', records: 48, complete: false, note: 'kept elsewhere' })}</message>`);
  assert.equal(decodeErased(controlElement(conf)!.el), { request: 'e0a1-3-1', records: 48, complete: false, note: 'kept elsewhere' });
  const bad = (x: string) => controlElement(parseXml(`<message xmlns="jabber:component:accept">${x}</message>`))!.el;
  assert.throws(() => decodeErase(bad('<erase xmlns="urn:fedgate:gdpr:0" request="r1"/>')), (e: Error) => e instanceof ErasureFormatError && /at least one series/.test(e.message));
  assert.throws(() => decodeErase(bad('<erase xmlns="urn:fedgate:gdpr:0" request="r 1"><series>a</series></erase>')), /request attribute/);
  assert.throws(() => decodeErase(bad('<erase xmlns="urn:fedgate:gdpr:0" request="r1"><series>a b</series></erase>')), /not an identifier/);
  assert.throws(() => decodeErased(bad('<erased xmlns="urn:fedgate:gdpr:0" request="r1" records="-1" complete="true"/>')), /whole number/);
});

test('a received erasure counts what it erased across runs: a run cut short is known, and its count kept', ({ db }) => {
  const store = new ErasureStore(db);
  const id = store.receive('sink', 'meters@a.example', { request: 'r1', series: ['urn:dev:prm:1_*'], reason: '' }, 1000)!;
  assert.equal(store.startApplying(id, 2000), { firstStartedAt: null, erasedSoFar: 0 }, 'the first run');
  assert.is(store.addErased(id, 40), 40);
  // kill -9 here: the request is still pending, and the next run knows it was cut short.
  assert.is(store.pending().length, 1);
  assert.equal(store.startApplying(id, 3000), { firstStartedAt: 2000, erasedSoFar: 40 }, "the first run's start and count are kept");
  assert.is(store.addErased(id, 2), 42);
});

test("a run after one that did not finish confirms the earlier run's count, and says so", async ({ db, dir }) => {
  const store = new ErasureStore(db);
  const id = store.receive('meters', 'src@a.example', { request: 'r2', series: [H1], reason: '' }, 1000)!;
  // The first run erased 40 records, then was cut short before marking the request applied.
  store.startApplying(id, 2000);
  store.addErased(id, 40);
  const woken: string[] = [];
  const applied = await applyReceivedErasures({ db, databasePath: join(dir, 'fedgate.sqlite'), domain: 'b.example', log: createLogger({ level: 'silent', format: 'json' }), wake: (d) => woken.push(d) });
  assert.is(applied, 1);
  assert.equal(woken, ['src@a.example']);
  const row = db.prepare("SELECT payload FROM outbox WHERE destination = 'src@a.example'").pluck().get() as string;
  const erased = decodeErased(controlElement(parseXml(`<message xmlns="jabber:component:accept">${row}</message>`))!.el);
  assert.is(erased.records, 40, "the first run's records, this run finding none left");
  assert.ok(erased.complete);
  assert.match(erased.note ?? '', 'an earlier run (first started 1970-01-01T00:00:02.000Z) did not finish');
  assert.is(store.pending().length, 0);
});

test("a received erasure of several globs scans the app's points once, not once per glob; it erases the source's records of any of them, and nothing else", async ({ db, dir }) => {
  const path = join(dir, 'fedgate.sqlite');
  const file = openStoreDatabase(path, {});
  const points = new SeriesStore(file, 'meters');
  const deliver = (from: string, db2: string, name: string, time: number) =>
    points.deliver([{ key: `${from}/${name}/${time}`, from, version: { origin: `${from} ${db2}`, seq: time }, blocks: [{ meta: {}, records: [{ name, unit: 'W', time, value: 1 }] }] }]);
  deliver('src@a.example', 'db1', H1, 1704063600);
  deliver('src@a.example', 'db1', H2, 1704063600);
  deliver('other@c.example', 'db9', H1, 1704067200);
  file.close();
  // Catch-alls that are all different strings: each was a scan of every point the app holds.
  const store = new ErasureStore(db);
  store.receive('meters', 'src@a.example', { request: 'r3', series: ['*', '**', '?*', 'urn:*', H1], reason: '' }, 1000);
  const scans: unknown[] = [];
  const forgetBatch = SeriesStore.prototype.forgetBatch;
  SeriesStore.prototype.forgetBatch = function (this: SeriesStore, ...args: Parameters<typeof forgetBatch>) {
    scans.push(args[0].series);
    return forgetBatch.apply(this, args);
  };
  try {
    await applyReceivedErasures({ db, databasePath: path, domain: 'b.example', log: createLogger({ level: 'silent', format: 'json' }), wake: () => {} });
  } finally {
    SeriesStore.prototype.forgetBatch = forgetBatch;
  }
  assert.is(scans.length, 1, 'one pass for the whole request');
  const row = db.prepare("SELECT payload FROM outbox WHERE destination = 'src@a.example'").pluck().get() as string;
  const erased = decodeErased(controlElement(parseXml(`<message xmlns="jabber:component:accept">${row}</message>`))!.el);
  assert.is(erased.records, 2, "both of the source's records, counted once");
  assert.ok(erased.complete);
  const left = openStoreDatabase(path, {});
  assert.equal(left.prepare('SELECT time FROM store_points').pluck().all(), [1704067200], "another source's record of the same series stays");
  left.close();
});

test('an erasure cut short after emptying the queues is resumed by the next: the destinations of the deleted messages still get their requests', async ({ db, dir }) => {
  const parties = new Parties(db);
  const subject = parties.addSubject('household-1', ['urn:dev:prm:30000000000011_*'], null);
  // A message holding the subject's data, perhaps already on its way to the peer.
  new Outbox(db).enqueue([{ sender: 'meters@a.example', destination: 'app@peer.example', payload: encodeQuoalise([{ meta: {}, records: [{ name: H1, time: 1704063600, value: 1, unit: 'W' }] }]), records: 1, series: [H1] }]);
  const path = join(dir, 'fedgate.sqlite');
  const o = { db, databasePath: path, domain: 'a.example', log: createLogger({ level: 'silent', format: 'json' }), subject, reason: 'asked by alice', actor: { id: 'operator', role: 'operator' as const, evidence: { via: 'test' } } };
  // The app's storage fails after the queue step (standing for a kill -9 there): a folder where its file should be.
  mkdirSync(storeDatabasePath(path));
  assert.match(String(await erase(o).then(() => 'finished', (e: unknown) => e)), 'cannot open');
  assert.is(db.prepare('SELECT count(*) FROM outbox').pluck().get(), 0, 'the queued message is gone');
  const store = new ErasureStore(db);
  assert.equal(store.unfinished().map((u) => [u.subject, u.erased.outbox]), [['household-1', 1]], 'shown as unfinished, with what it erased');
  assert.is(store.list().length, 0);
  rmSync(storeDatabasePath(path), { recursive: true });
  const report = await erase(o);
  assert.equal(report.requests.map((r) => [r.app, r.recipient]), [['meters@a.example', 'app@peer.example']], 'the message deleted by the first run still brings its request');
  assert.is(report.erased.outbox, 1, "the first run's count");
  assert.equal(store.unfinished(), []);
});

test('an erasure being made by another live process is not resumed; one whose process is gone is', ({ db }) => {
  const store = new ErasureStore(db);
  const { run } = store.erasureRun('household-1', [H1], 1000);
  // Another process holds it: this test's parent, alive.
  db.prepare('UPDATE gdpr_erasure_runs SET owner_pid = ? WHERE id = ?').run(process.ppid, run);
  assert.throws(() => store.erasureRun('household-1', [H1], 2000), (e: unknown) => e instanceof ErasureRunningError && /being made by process/.test((e as Error).message));
  // A process that has ended.
  const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
  db.prepare('UPDATE gdpr_erasure_runs SET owner_pid = ? WHERE id = ?').run(gone, run);
  const resumed = store.erasureRun('household-1', [H1], 3000);
  assert.equal([resumed.run, resumed.resumed], [run, true]);
});

test.run();
