/**
 * A receiving gateway whose disk fills while a fedgate sender is transferring to it, on real servers:
 * B's whole folder is a small tmpfs, filled to the last byte mid-transfer. B refuses what it cannot
 * store with `resource-constraint` and keeps running; A holds the lane and never dead-letters; when
 * space comes back, every record arrives exactly once and both logs verify.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { fillDisk, newSmallDisk, unmountSmallDisk } from '../helpers/small-disk.js';
import { B, SERIES, arrivedAtSink, storeFlow } from '../helpers/store-flow.js';
import { scalar, until } from '../helpers/db.js';

const FIRST = 10;
const TOTAL = 1000;
const YAML = 'delivery:\n  retry_initial_ms: 100\n  retry_max_seconds: 1\n  receipt_timeout_seconds: 5\n  window: 16\n';

interface Ctx {
  ejabberd: Ejabberd;
  disk: string;
  a: Fedgate;
  b: Fedgate;
}
const test = suite<Ctx>('a full disk at the receiver');

test.before(async (ctx) => {
  ctx.disk = newSmallDisk('32m');
  Object.assign(ctx, await storeFlow({ yaml: YAML, dirB: ctx.disk }));
  const { a, b } = ctx;
  b.start();
  a.start();
  await Promise.all([a.waitOnline(), b.waitOnline()]);
});

test.after(async (ctx) => {
  await ctx.a?.stop();
  ctx.a?.cleanup();
  await ctx.b?.stop();
  await ctx.ejabberd?.stop();
  if (ctx.disk) unmountSmallDisk(ctx.disk, { remove: true });
});

/** Records `from`..`to`-1 of SERIES (value = index), imported into A's meters. */
async function importRecords(a: Fedgate, from: number, to: number): Promise<void> {
  const file = join(a.dir, `records-${from}.csv`);
  const lines = Array.from({ length: to - from }, (_, k) => `${SERIES},${1704063600 + (from + k) * 1800},${from + k},W`);
  writeFileSync(file, `identifier,time,value,unit\n${lines.join('\n')}\n`);
  await a.must('store', 'import', 'meters', file);
}

test('B refuses with resource-constraint and keeps running; A holds, never dead-letters; all arrive once space is back', async ({ a, b, disk }) => {
  await importRecords(a, 0, FIRST);
  await until(() => arrivedAtSink(b).length === FIRST, 20_000, () => b.stderr.slice(-1500));
  await fillDisk(disk, join(disk, 'fedgate.sqlite'));
  await importRecords(a, FIRST, TOTAL);
  await until(
    () => b.stderr.includes('inbox commit failed') && String(scalar(a, `SELECT last_error FROM lanes WHERE destination = 'sink@${B}'`) ?? '').includes('cannot store data now'),
    30_000,
    () => `B: ${b.stderr.slice(-1500)}\nA: ${a.stderr.slice(-800)}`,
  );
  assert.match(b.stderr, `the disk holding ${join(disk, 'fedgate.sqlite')} is full`, 'the log names the file');
  assert.ok(b.proc !== null, 'B still runs');
  assert.is(scalar(a, 'SELECT count(*) FROM dead_letters'), 0, 'a full receiver is never a reason to give up');

  rmSync(join(disk, 'filler'));
  await until(() => arrivedAtSink(b).length === TOTAL && scalar(a, 'SELECT count(*) FROM outbox') === 0, 60_000, () => `B has ${arrivedAtSink(b).length}\n${b.stderr.slice(-1500)}`);
  assert.equal(arrivedAtSink(b).map((r) => r.value), Array.from({ length: TOTAL }, (_, i) => i), 'every record, once, with its value');
  assert.is(scalar(a, 'SELECT count(*) FROM dead_letters'), 0);
  assert.is(scalar(b, 'SELECT count(*) FROM dead_letters'), 0);
  assert.is(scalar(b, "SELECT count(*) FROM inbox WHERE state <> 'done'"), 0, 'nothing left unapplied');
  for (const fg of [a, b]) {
    const verified = await fg.cli('audit', 'verify');
    assert.is(verified.code, 0, `${fg.opts.domain}: ${verified.stdout}${verified.stderr}`);
  }
});

test.run();
