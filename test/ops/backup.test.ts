/**
 * `fedgate backup` while a transfer runs, and `fedgate restore` of that backup into the stopped
 * sender: the copies are sound, the restored gateway resumes from the backup's state under new ids,
 * and the receiver ends with every record exactly once — nothing lost, no dead letter.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { queryStore, scalar, until } from '../helpers/db.js';
import { importSeries, startFlow } from '../helpers/flow.js';

const A = 'a.localhost';
const B = 'b.localhost';
const N = 5000;
const S1 = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const S2 = 'urn:dev:prm:30000000000002_consumption/power/active/raw';

interface Ctx {
  ejabberd: Ejabberd;
  a: Fedgate;
  b: Fedgate;
}
const test = suite<Ctx>('backup and restore');

test.before(async (ctx) => {
  ctx.ejabberd = await Ejabberd.start({ components: [A, B].map((domain) => ({ domain, secret: `${domain}-secret` })) });
  // A narrow window paces the transfer, so that the backup lands in the middle of it.
  const yaml = 'delivery:\n  window: 2\n  retry_initial_ms: 100\n  retry_max_seconds: 2\n';
  ctx.a = new Fedgate({ port: ctx.ejabberd.componentPort(A), domain: A, secret: `${A}-secret`, extraYaml: yaml });
  ctx.b = new Fedgate({ port: ctx.ejabberd.componentPort(B), domain: B, secret: `${B}-secret`, extraYaml: yaml });
  await startFlow(ctx.a, ctx.b);
});

test.after(async (ctx) => {
  for (const f of [ctx.a, ctx.b]) {
    await f?.stop();
    f?.cleanup();
  }
  await ctx.ejabberd?.stop();
});

function arrived(b: Fedgate, series: string): Array<{ time: number; value: number }> {
  return queryStore(b, 'SELECT p.time, p.value FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.identifier = ? ORDER BY p.time', series);
}

test('a backup taken during a transfer, restored into the stopped sender: every record arrives exactly once', async ({ a, b }) => {
  await importSeries(a, S1, N);
  await until(() => arrived(b, S1).length > 0, 20_000, () => 'nothing arrived');
  const copy = join(a.dir, 'backups', 'nightly.sqlite');
  const out = JSON.parse(await a.must('backup', copy, '--json')) as { files: Array<{ name: string; source: string; copy: string; bytes: number }> };
  const atBackup = arrived(b, S1).length;
  assert.ok(atBackup < N, `the transfer was over before the backup (${atBackup}): the test proves nothing`);
  assert.equal(out.files.map((f) => [f.name, f.copy]), [['fedgate', copy], ['store', join(a.dir, 'backups', 'nightly-store.sqlite')]]);
  // Self-contained copies: no write-ahead log beside them, and sound.
  assert.equal(readdirSync(join(a.dir, 'backups')).sort(), ['nightly-store.sqlite', 'nightly.sqlite']);
  for (const f of out.files) {
    // As private as the database, never open to other users whatever the CLI's umask (022 here).
    assert.is(statSync(f.copy).mode & 0o777, statSync(f.source).mode & 0o770, `${f.copy}'s mode`);
    assert.is(statSync(f.copy).mode & 0o007, 0);
    const db = new Database(f.copy, { readonly: true });
    assert.is(db.pragma('quick_check', { simple: true }), 'ok');
    db.close();
  }
  // An existing copy is not overwritten without --force.
  const again = await a.cli('backup', copy);
  assert.is(again.code, 1);
  assert.match(again.stderr, 'exists already');

  await until(() => arrived(b, S1).length === N && scalar(a, 'SELECT count(*) FROM outbox') === 0, 60_000, () => `arrived ${arrived(b, S1).length}`);
  await importSeries(a, S2, 100);
  await until(() => arrived(b, S2).length === 100, 20_000, () => 'S2 not arrived');

  const refused = await a.cli('restore', copy);
  assert.is(refused.code, 1, 'no restore under a running gateway');
  assert.match(refused.stderr, 'stop it first');
  // Hung, stopped or unable to write, its heartbeat goes stale; its process still holds the files.
  a.proc!.kill('SIGSTOP');
  try {
    await until(async () => (await a.cli('status')).code === 4, 20_000, () => 'the heartbeat never went stale');
    assert.match((await a.cli('status')).stdout, 'not responding: its process');
    const stale = await a.cli('restore', copy);
    assert.is(stale.code, 1, 'no restore under a gateway that does not respond');
    assert.match(stale.stderr, 'heartbeat stale');
  } finally {
    a.proc!.kill('SIGCONT');
  }

  const instance = scalar<string>(a, "SELECT value FROM settings WHERE name = 'instance'");
  assert.is(await a.stop(), 0);
  // A backup cut short over an older one leaves copies of two backups side by side: refused, not restored.
  const mixed = join(a.dir, 'mixed', 'set.sqlite');
  await a.must('backup', mixed);
  // Replaced with --force, a backup takes away the companion copies of an older one it has not made.
  copyFileSync(join(a.dir, 'backups', 'nightly-store.sqlite'), join(a.dir, 'mixed', 'set-gone.sqlite'));
  await a.must('backup', mixed, '--force');
  assert.not.ok(existsSync(join(a.dir, 'mixed', 'set-gone.sqlite')));
  copyFileSync(join(a.dir, 'backups', 'nightly-store.sqlite'), join(a.dir, 'mixed', 'set-store.sqlite'));
  const refusedMix = await a.cli('restore', mixed);
  assert.is(refusedMix.code, 1);
  assert.match(refusedMix.stderr, 'come from different backups');
  // A restore killed once it had begun (its marker written, as the first thing it does): nothing opens
  // the half-replaced files — neither the gateway nor a command — until the same restore is run again.
  writeFileSync(join(a.dir, 'fedgate.sqlite.restoring'), `${copy}\n`);
  const status = await a.cli('status');
  assert.is(status.code, 2);
  assert.match(status.stderr, `was cut short: its files are half replaced; run fedgate restore ${copy} again`);
  a.start();
  assert.is.not(await a.waitExit(20_000), 0, 'the gateway started on half-restored files');
  assert.match(a.stderr, `run fedgate restore ${copy} again`);
  const restored = JSON.parse(await a.must('restore', copy, '--json')) as { files: Array<{ name: string; keptAs: string | null }> };
  assert.equal(restored.files.map((f) => f.name).sort(), ['fedgate', 'store']);
  for (const f of restored.files) assert.ok(f.keptAs && existsSync(f.keptAs), 'the replaced file is kept');
  assert.is.not(scalar<string>(a, "SELECT value FROM settings WHERE name = 'instance'"), instance, 'new stanza ids after a restore');
  assert.not.ok(existsSync(join(a.dir, 'fedgate.sqlite.restoring')), 'the marker is gone once every file is in place');
  assert.equal(readdirSync(a.dir).filter((f) => f.includes('partial')), [], 'no copy left aside');

  a.start();
  await a.waitOnline();
  // The restored sender sends again what followed its backup; the receiver keeps each record once.
  await until(() => scalar(a, 'SELECT count(*) FROM outbox') === 0, 60_000, () => `outbox ${scalar(a, 'SELECT count(*) FROM outbox')}`);
  const rows = arrived(b, S1);
  assert.is(rows.length, N);
  rows.forEach((r, i) => assert.is(r.value, i, `record ${i}`));
  assert.is(arrived(b, S2).length, 100, 'what arrived after the backup stays');
  for (const fg of [a, b]) assert.is(scalar(fg, 'SELECT count(*) FROM dead_letters'), 0, 'no dead letter');
  assert.is(scalar(b, "SELECT count(*) FROM inbox WHERE state = 'pending'"), 0);
});

test.run();
