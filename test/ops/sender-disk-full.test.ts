/**
 * A sending gateway whose disk fills while its messages are on their way, on real servers: A's whole
 * folder is a small tmpfs, filled to the last byte with 100 messages queued for B (stopped), then B
 * starts. A cannot delete what B confirms nor write its log: its send thread says so, remembers the
 * deliveries (sends none again) and keeps running — it used to end in a loop, each time logged
 * "worker failed" without a cause. When space comes back, every record is at B once, the outbox is
 * empty, and A's log lists every message sent, and verifies.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { fillDisk, newSmallDisk, unmountSmallDisk } from '../helpers/small-disk.js';
import { SERIES, arrivedAtSink, storeFlow } from '../helpers/store-flow.js';
import { query, scalar, until } from '../helpers/db.js';

const TOTAL = 1000;
const YAML = 'delivery:\n  retry_initial_ms: 100\n  retry_max_seconds: 1\n  receipt_timeout_seconds: 5\n  window: 16\ntrace:\n  enabled: true\n';

interface Ctx {
  ejabberd: Ejabberd;
  disk: string;
  a: Fedgate;
  b: Fedgate;
}
const test = suite<Ctx>('a full disk at the sender');

test.before(async (ctx) => {
  ctx.disk = newSmallDisk('32m');
  Object.assign(ctx, await storeFlow({ yaml: YAML, dirA: ctx.disk }));
  const { a } = ctx;
  a.start();
  await a.waitOnline();
});

test.after(async (ctx) => {
  await ctx.b?.stop();
  ctx.b?.cleanup();
  await ctx.a?.stop();
  await ctx.ejabberd?.stop();
  if (ctx.disk) unmountSmallDisk(ctx.disk, { remove: true });
});

test('A keeps running, sends nothing twice, and empties its outbox once space is back', async ({ a, b, disk }) => {
  const file = join(a.dir, 'records.csv');
  writeFileSync(file, `identifier,time,value,unit\n${Array.from({ length: TOTAL }, (_, i) => `${SERIES},${1704063600 + i * 1800},${i},W`).join('\n')}\n`);
  await a.must('store', 'import', 'meters', file);
  await until(() => scalar(a, 'SELECT count(*) FROM outbox') === TOTAL / 10, 20_000, () => a.stderr.slice(-1500));
  await fillDisk(disk, join(disk, 'fedgate.sqlite'));
  b.start();
  await b.waitOnline();
  // Deleting what B confirmed, or saving the lanes: one line every 10 s for both.
  const said = /"name":"send"[^\n]*"err":"the disk holding [^"]* is full[^\n]*failed; will try again/;
  await until(() => said.test(a.stderr), 30_000, () => `A: ${a.stderr.slice(-1500)}`);
  assert.match(a.stderr, `the disk holding ${join(disk, 'fedgate.sqlite')} is full`, 'the log names the file');
  await until(() => arrivedAtSink(b).length === TOTAL, 30_000, () => `B has ${arrivedAtSink(b).length}`);
  await until(() => a.stderr.includes('deleting delivered messages failed'), 30_000, () => `A: ${a.stderr.slice(-1500)}`);
  assert.not.match(a.stderr, 'worker failed', 'no thread ended');
  assert.ok(a.proc !== null, 'A still runs');

  rmSync(join(disk, 'filler'));
  await until(() => scalar(a, 'SELECT count(*) FROM outbox') === 0, 30_000, () => `A's outbox: ${scalar(a, 'SELECT count(*) FROM outbox')}\n${a.stderr.slice(-1500)}`);
  assert.equal(arrivedAtSink(b).map((r) => r.value), Array.from({ length: TOTAL }, (_, i) => i), 'every record, once, with its value');
  assert.is(scalar(b, "SELECT count(*) FROM trace_entries WHERE kind = 'transfer.received' AND entry LIKE '%\"duplicate\":true%'"), 0, 'nothing sent twice');
  const sent = query<{ entry: string }>(a, "SELECT entry FROM trace_entries WHERE kind = 'transfer.sent'").flatMap((r) => (JSON.parse(r.entry) as { messages: unknown[] }).messages);
  assert.is(sent.length, TOTAL / 10, "A's log lists every message delivered, once");
  assert.is(scalar(a, 'SELECT count(*) FROM dead_letters'), 0);
  for (const fg of [a, b]) {
    const verified = await fg.cli('audit', 'verify');
    assert.is(verified.code, 0, `${fg.opts.domain}: ${verified.stdout}${verified.stderr}`);
  }
});

test.run();
