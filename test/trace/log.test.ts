/**
 * The log on its own, against real SQLite files and the real `fedgate audit` command: entries from
 * operator changes, batched appends, the tree and signed checkpoints, verification of the database and
 * of an export, proofs checked without the database — and each tampering (one byte of one entry, an
 * entry deleted, two entries swapped, a checkpoint replaced) detected and named.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, type Db } from '../../component/store/database.js';
import { AppRegistry } from '../../component/registry/apps.js';
import { GrantStore } from '../../component/authz/grant-store.js';
import { configureTrace } from '../../component/trace/trace.js';
import { LogStore } from '../../component/trace/log-store.js';
import { formatKeyId, generateSigner, type NoteSigner } from '../../component/trace/note.js';
import { databaseSource, verifyLog } from '../../component/trace/verify.js';
import { decodeEntry } from '../../component/trace/entry.js';
import { leafHash } from '../../component/trace/merkle.js';
import { CLI } from '../helpers/fedgate.js';
import { finishRotation, loadOrCreateKey } from '../../component/trace/keys.js';

const run = promisify(execFile);
const ORIGIN = 'energy.example.org/fedgate';

interface Ctx {
  dir: string;
  db: Db;
  signer: NoteSigner;
  path: string;
}
const test = suite<Ctx>('log');

async function audit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'audit', ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A copy of the log's file, changed by `tamper` behind fedgate's back (triggers dropped first). */
function tampered(ctx: Ctx, name: string, tamper: (db: Database.Database) => void): string {
  const copy = join(ctx.dir, `${name}.sqlite`);
  ctx.db.pragma('wal_checkpoint(TRUNCATE)');
  copyFileSync(ctx.path, copy);
  const db = new Database(copy);
  db.exec('DROP TRIGGER trace_entries_no_update; DROP TRIGGER trace_entries_no_delete');
  tamper(db);
  db.close();
  return copy;
}

test.before((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'fedgate-log-'));
  ctx.path = join(ctx.dir, 'fedgate.sqlite');
  ctx.db = openDatabase(ctx.path);
  configureTrace(ctx.db, { enabled: true, actor: 'operator tester' });
  ctx.signer = generateSigner(ORIGIN);
});
test.after((ctx) => {
  ctx.db.close();
  rmSync(ctx.dir, { recursive: true, force: true });
});

test('an entry awaited by its caller resolves only once committed: a busy database is tried again on later turns', async ({ dir }) => {
  const path = join(dir, 'awaited.sqlite');
  const db = openDatabase(path);
  const trace = configureTrace(db, { enabled: true, nonBlocking: true });
  const other = new Database(path);
  other.exec('BEGIN IMMEDIATE'); // another thread's write lock
  let committed = false;
  const done = trace.appendCommitted('access', { requester: 'bob@example.net', outcome: 'allowed' }).then(() => (committed = true));
  for (let turn = 0; turn < 20; turn++) await new Promise((r) => setImmediate(r));
  assert.not.ok(committed, 'resolved while another connection held the write lock');
  other.exec('COMMIT');
  await done;
  assert.is(db.prepare("SELECT count(*) FROM trace_entries WHERE kind = 'access'").pluck().get(), 1);
  other.close();
  db.close();
});

test("entries flushed into a transaction that rolls back are put back, and written by a later commit: none lost, none twice", async ({ dir }) => {
  const path = join(dir, 'unflush.sqlite');
  const db = openDatabase(path);
  const trace = configureTrace(db, { enabled: true });
  const count = () => db.prepare("SELECT count(*) FROM trace_entries WHERE kind = 'transfer.received'").pluck().get() as number;
  // As the inbox's commit does: the buffered entries go into its transaction; the commit then fails.
  trace.append('transfer.received', { n: 1 });
  trace.append('transfer.received', { n: 2 });
  let undo = () => {};
  assert.throws(() =>
    db.transaction(() => {
      undo = trace.flush();
      throw new Error('disk full');
    })(),
  /disk full/);
  undo();
  assert.is(count(), 0, 'rolled back with the commit');
  trace.append('transfer.received', { n: 3 });
  for (let turn = 0; turn < 5 && count() < 3; turn++) await new Promise((r) => setImmediate(r));
  const written = (db.prepare("SELECT entry FROM trace_entries WHERE kind = 'transfer.received' ORDER BY idx").pluck().all() as string[]).map((e) => decodeEntry(e).fields.n);
  assert.equal(written, [1, 2, 3], 'in their order, once each');
  db.close();
});

test('operator changes are logged in their own transaction, with who made them', ({ db }) => {
  new AppRegistry(db).add({ name: 'meters', kind: 'store' });
  const grants = new GrantStore(db);
  const g = grants.add({ app: 'meters', requester: 'alice@example.net', series: 'urn:dev:prm:1_*', purpose: 'coaching' });
  grants.remove(g.id);
  // Grants are consent records: their events are logged by the consent history's hook.
  const kinds = new LogStore(db).list({ limit: 10 }).map((e) => [e.kind, decodeEntry(e.entry).fields.by]);
  assert.equal(kinds, [['app.added', 'operator tester'], ['consent.given', 'operator'], ['consent.withdrawn', 'operator']]);
  const { details, evidence, ...given } = decodeEntry(new LogStore(db).entry(1)!.entry).fields;
  assert.equal(given, {
    consent: g.id, event: 1, app: 'meters', subject: null, recipient: 'alice@example.net', series: 'urn:dev:prm:1_*', purpose: 'coaching',
    legalBasis: 'contract', processing: ['read', 'subscribe'], origin: 'grant', state: 'given', from: null, until: null, by: 'operator', role: 'operator',
  });
  assert.match(String(details), /^[0-9a-f]{64}$/);
  assert.match(String(evidence), /^[0-9a-f]{64}$/);
  // A change that fails leaves no entry.
  assert.throws(() => grants.remove(9999));
  assert.is(new LogStore(db).size(), 3);
  // Entries cannot be changed or deleted through SQL either.
  assert.throws(() => db.prepare("UPDATE trace_entries SET entry = 'x' WHERE idx = 0").run(), /append-only/);
  assert.throws(() => db.prepare('DELETE FROM trace_entries WHERE idx = 0').run(), /append-only/);
});

test('appends are batched per turn; checkpoints are signed as the log grows; the whole log verifies', async (ctx) => {
  const store = new LogStore(ctx.db);
  const trace = configureTrace(ctx.db, { enabled: true });
  let now = Date.parse('2024-06-01T12:00:00Z');
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 37; i++) trace.append('access', { requester: `r${i}@example.net`, app: 'meters', command: 'get_history', series: `urn:dev:prm:${round}_${i}`, outcome: 'allowed', records: i });
    assert.is(store.size(), 3 + round * 37, 'nothing written before the end of the turn');
    await Promise.resolve();
    assert.is(store.size(), 3 + (round + 1) * 37);
    store.seal(ctx.signer, ORIGIN, (now += 5000), 5000);
  }
  assert.is(store.checkpoints().length, 6);
  assert.is(store.seal(ctx.signer, ORIGIN, now + 100, 5000), null, 'nothing new: no checkpoint');
  const report = verifyLog(databaseSource(store), [ctx.signer]);
  assert.ok(report.ok, report.problem?.message);
  assert.is(report.entries, 3 + 6 * 37);
  assert.is(report.covered, report.entries);
  // A log written with the log off holds nothing.
  const off = configureTrace(ctx.db, { enabled: false });
  off.append('access', { requester: 'x' });
  await Promise.resolve();
  assert.is(store.size(), report.entries);
  configureTrace(ctx.db, { enabled: true });
});

test('fedgate audit verify, prove, check and export work without the gateway', async (ctx) => {
  const key = ctx.signer.encoded;
  let r = await audit('verify', '--db', ctx.path, '--key', key);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, `log ${ORIGIN}: 225 entries and 6 signed checkpoints verified`);
  r = await audit('prove', '100', '--db', ctx.path);
  assert.is(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith('c2sp.org/tlog-proof@v1\nextra '));
  const proof = join(ctx.dir, 'entry-100.tlog-proof');
  writeFileSync(proof, r.stdout);
  r = await audit('check', proof, '--key', key);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, `OK: log entry 100 of ${ORIGIN} (size 225)`);
  assert.match(r.stdout, '"kind":"access"');
  // The proof fails with another key, and after its entry is changed.
  r = await audit('check', proof, '--key', generateSigner(ORIGIN).encoded);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'no trusted key signed');
  const text = (await audit('prove', '100', '--db', ctx.path)).stdout;
  const edited = (b64: string) => Buffer.from(Buffer.from(b64, 'base64').toString().replace('allowed', 'refused')).toString('base64');
  writeFileSync(proof, text.replace(/extra (\S+)/, (_, b64: string) => `extra ${edited(b64)}`));
  r = await audit('check', proof, '--key', key);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'is not at index 100');
});

test('tampering: one byte of one entry, an entry deleted, two swapped, a checkpoint replaced — each detected and named', async (ctx) => {
  const key = ctx.signer.encoded;
  const cases: Array<[string, (db: Database.Database) => void, RegExp]> = [
    ['byte', (db) => db.prepare("UPDATE trace_entries SET entry = replace(entry, 'allowed', 'allowee') WHERE idx = 120").run(), /entry 120 was changed/],
    ['byte-and-hash', (db) => {
      const e = db.prepare('SELECT entry FROM trace_entries WHERE idx = 120').pluck().get() as string;
      const changed = e.replace('allowed', 'allowee');
      // A careful tamperer rewrites the recorded leaf hash too.
      db.prepare('UPDATE trace_entries SET entry = ?, hash = ? WHERE idx = 120').run(changed, leafHash(changed));
    }, /entries 120–121 are not what the log recorded/],
    ['deleted', (db) => db.prepare('DELETE FROM trace_entries WHERE idx = 77').run(), /entry 77 is missing/],
    ['swapped', (db) => {
      const a = db.prepare('SELECT * FROM trace_entries WHERE idx = 50').get() as Record<string, unknown>;
      const b = db.prepare('SELECT * FROM trace_entries WHERE idx = 51').get() as Record<string, unknown>;
      const put = db.prepare('UPDATE trace_entries SET at = ?, kind = ?, entry = ?, hash = ? WHERE idx = ?');
      put.run(b.at, b.kind, b.entry, b.hash, 50);
      put.run(a.at, a.kind, a.entry, a.hash, 51);
    }, /entries 50–51 are not what the log recorded/],
    ['checkpoint', (db) => {
      const [first, second] = db.prepare('SELECT size, note FROM trace_checkpoints ORDER BY size LIMIT 2').all() as Array<{ size: number; note: string }>;
      db.prepare('UPDATE trace_checkpoints SET note = ? WHERE size = ?').run(first!.note, second!.size);
    }, /checkpoint of size 77 .*commits to size 40: the checkpoint was replaced/],
    ['forged-checkpoint', (db) => {
      const { note } = db.prepare('SELECT note FROM trace_checkpoints WHERE size = 114').get() as { note: string };
      db.prepare('UPDATE trace_checkpoints SET note = ? WHERE size = 114').run(note.replace(/\n(\S{44})\n\n/, (_m, root: string) => `\n${root.slice(0, 10)}${root[10] === 'A' ? 'B' : 'A'}${root.slice(11)}\n\n`));
    }, /checkpoint of size 114 .*does not verify/],
  ];
  for (const [name, tamper, expected] of cases) {
    const r = await audit('verify', '--db', tampered(ctx, name, tamper), '--key', key);
    assert.is(r.code, 1, `${name}: ${r.stdout}`);
    assert.match(r.stderr, expected, `${name}: ${r.stderr}`);
  }
});

test('an export verifies elsewhere; without --key it says what it was checked against', async (ctx) => {
  const out = join(ctx.dir, 'log.jsonl');
  writeFileSync(join(ctx.dir, 'fedgate.yml'), `link:\n  domain: energy.example.org\ndatabase:\n  path: fedgate.sqlite\n`);
  // The export command reads the configured database; here, the test's.
  const exp = await run(process.execPath, [CLI, '--config', join(ctx.dir, 'fedgate.yml'), 'audit', 'export', out]);
  assert.match(exp.stdout, 'exported 225 entries and 6 checkpoints');
  let r = await audit('verify', '--export', out, '--key', ctx.signer.encoded);
  assert.is(r.code, 0, r.stderr);
  r = await audit('verify', '--export', out);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, 'checked against the keys the log names itself');
});

test('key rotation: the old key signs the record of the new one; both verify the log, the old alone no longer does', async (ctx) => {
  const config = join(ctx.dir, 'fedgate.yml');
  writeFileSync(config, `link:\n  domain: energy.example.org\ndatabase:\n  path: fedgate.sqlite\ntrace:\n  key_file: log.key\n`);
  writeFileSync(join(ctx.dir, 'log.key'), `${ctx.signer.encodedSecret}\n`, { mode: 0o600 });
  const rotated = await run(process.execPath, [CLI, '--config', config, 'audit', 'key', '--rotate']);
  const next = rotated.stdout.split('\n')[0]!;
  assert.match(next, /^energy\.example\.org\/fedgate\+[0-9a-f]{8}\+/);
  assert.is.not(next, ctx.signer.encoded);
  const store = new LogStore(ctx.db);
  const last = decodeEntry(store.entry(store.size() - 1)!.entry);
  assert.equal({ kind: last.kind, previous: last.fields.previous, next: last.fields.next }, { kind: 'key.rotated', previous: ctx.signer.encoded, next });
  assert.is(store.lastCheckpoint()!.size, store.size(), 'the old key signed the rotation');
  // The gateway goes on with the new key.
  const newKey = loadOrCreateKey(join(ctx.dir, 'log.key'), ORIGIN).signer;
  assert.is(newKey.encoded, next);
  configureTrace(ctx.db, { enabled: true }).write('access', { requester: 'after@example.net' });
  store.seal(newKey, ORIGIN, Date.now() + 60_000, 0);
  const own = await run(process.execPath, [CLI, '--config', config, 'audit', 'verify']);
  assert.match(own.stdout, 'OK');
  let r = await audit('verify', '--db', ctx.path, '--key', ctx.signer.encoded, '--key', next);
  assert.is(r.code, 0, r.stderr);
  r = await audit('verify', '--db', ctx.path, '--key', ctx.signer.encoded);
  assert.is(r.code, 1);
  assert.match(r.stderr, /no trusted key signed this note \(signed by energy\.example\.org\/fedgate\+/);
});

test('a rotation cut short: finished when the log names the new key, undone when it does not', (ctx) => {
  const keyFile = join(ctx.dir, 'cut.key');
  writeFileSync(keyFile, `${ctx.signer.encodedSecret}\n`, { mode: 0o600 });
  assert.is(finishRotation(ctx.db, keyFile, ORIGIN), null, 'nothing to do');
  // Killed after the log entry, before the rename: the new key waits beside the old one.
  const next = generateSigner(ORIGIN);
  writeFileSync(`${keyFile}.next`, `${next.encodedSecret}\n`, { mode: 0o600 });
  configureTrace(ctx.db, { enabled: true }).write('key.rotated', { previous: ctx.signer.encoded, next: next.encoded, by: 'operator tester' });
  assert.is(finishRotation(ctx.db, keyFile, ORIGIN), 'finished');
  assert.is(loadOrCreateKey(keyFile, ORIGIN).signer.encoded, next.encoded);
  assert.ok(existsSync(`${keyFile}.${formatKeyId(ctx.signer.keyId)}.retired`), 'the old key kept aside');
  assert.not.ok(existsSync(`${keyFile}.next`));
  // Killed before the log entry: the log names no such key, the new one is thrown away.
  writeFileSync(`${keyFile}.next`, `${generateSigner(ORIGIN).encodedSecret}\n`, { mode: 0o600 });
  assert.is(finishRotation(ctx.db, keyFile, ORIGIN), 'discarded');
  assert.is(loadOrCreateKey(keyFile, ORIGIN).signer.encoded, next.encoded);
  assert.not.ok(existsSync(`${keyFile}.next`));
});

test("the log's job builds the tree in bounded steps (one short write lock each), signs once caught up, and takes no write lock when nothing is new", async (ctx) => {
  const path = join(ctx.dir, 'steps.sqlite');
  const db = openDatabase(path);
  try {
    const store = new LogStore(db);
    const trace = configureTrace(db, { enabled: true });
    const at = Date.parse('2024-06-01T12:00:00Z');
    store.seal(ctx.signer, ORIGIN, at, 0);
    const base = store.size();
    for (let i = 0; i < 25; i++) trace.append('access', { requester: `r${i}@example.net`, app: 'meters', command: 'get_history', series: `urn:dev:prm:${i}_x`, outcome: 'allowed', records: i });
    await Promise.resolve();
    assert.is(store.size(), base + 25);
    assert.equal(store.step(ctx.signer, ORIGIN, at + 1, 0, 10), { checkpoint: null, caughtUp: false }, 'entries remain beyond the step: nothing signed yet');
    assert.is(store.head().size, base + 10);
    assert.equal(store.step(ctx.signer, ORIGIN, at + 2, 0, 10), { checkpoint: null, caughtUp: false });
    const last = store.step(ctx.signer, ORIGIN, at + 3, 0, 10);
    assert.ok(last.caughtUp);
    assert.ok(last.checkpoint, 'caught up: signed');
    assert.is(last.checkpoint!.size, base + 25);
    // Another connection holds the write lock: with nothing new, extending must not need it.
    const other = new Database(path);
    other.prepare('BEGIN IMMEDIATE').run();
    db.pragma('busy_timeout = 0');
    try {
      assert.is(store.extend().size, base + 25);
      assert.equal(store.step(ctx.signer, ORIGIN, at + 4, 0, 10), { checkpoint: null, caughtUp: true });
    } finally {
      other.prepare('ROLLBACK').run();
      other.close();
    }
    assert.ok(verifyLog(databaseSource(store), [ctx.signer]).ok);
  } finally {
    db.close();
  }
});

test.run();
