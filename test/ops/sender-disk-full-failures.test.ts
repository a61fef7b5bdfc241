/**
 * A sending gateway whose disk is full while its deliveries fail, on real servers: B stops answering
 * (SIGSTOP) with A's messages in flight, then A's folder, a small tmpfs, is filled to the last byte.
 * The confirmations time out: A's send thread counts each failure on its row and, past max_attempts,
 * moves the row to the dead letters — writes the full disk refuses. The thread says so and keeps
 * running (it used to end at the first, then restart in a loop, each time sending its windows again:
 * fifth crash campaign); a row it gave up on is not sent again while its move waits. When space comes
 * back the dead letters are written; retried, every record reaches B once, and both logs verify.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { fillDisk, newSmallDisk, unmountSmallDisk } from '../helpers/small-disk.js';
import { SERIES, arrivedAtSink, storeFlow } from '../helpers/store-flow.js';
import { scalar, until } from '../helpers/db.js';

const FIRST = 10;
const TOTAL = 400;
const YAML = 'delivery:\n  retry_initial_ms: 100\n  retry_max_seconds: 1\n  receipt_timeout_seconds: 2\n  max_attempts: 2\n  window: 16\ntrace:\n  enabled: true\n';

interface Ctx {
  ejabberd: Ejabberd;
  disk: string;
  a: Fedgate;
  b: Fedgate;
}
const test = suite<Ctx>('failed deliveries on a full disk at the sender');

test.before(async (ctx) => {
  ctx.disk = newSmallDisk('32m');
  Object.assign(ctx, await storeFlow({ yaml: YAML, dirA: ctx.disk }));
  const { a, b } = ctx;
  a.start();
  b.start();
  await Promise.all([a.waitOnline(), b.waitOnline()]);
});

test.after(async (ctx) => {
  ctx.b?.signal('SIGCONT');
  await ctx.b?.stop();
  ctx.b?.cleanup();
  await ctx.a?.stop();
  await ctx.ejabberd?.stop();
  if (ctx.disk) unmountSmallDisk(ctx.disk, { remove: true });
});

function records(a: Fedgate, from: number, n: number): string {
  const file = join(a.dir, `records-${from}.csv`);
  writeFileSync(file, `identifier,time,value,unit\n${Array.from({ length: n }, (_, i) => `${SERIES},${1704063600 + (from + i) * 1800},${from + i},W`).join('\n')}\n`);
  return file;
}

test('the send thread counts failures and dead-letters when it can, without ending', async ({ a, b, disk }) => {
  // A first message: A knows B confirms (its lane sends), then B stops answering.
  await a.must('store', 'import', 'meters', records(a, 0, FIRST));
  await until(() => arrivedAtSink(b).length === FIRST, 20_000, () => `B has ${arrivedAtSink(b).length}`);
  b.signal('SIGSTOP');
  await a.must('store', 'import', 'meters', records(a, FIRST, TOTAL - FIRST));
  await until(() => scalar(a, 'SELECT count(*) FROM outbox') === (TOTAL - FIRST) / 10, 20_000, () => a.stderr.slice(-1500));
  await fillDisk(disk, join(disk, 'fedgate.sqlite'));
  // The confirmations time out: a failure counted, then (max_attempts 2) a move to the dead letters, each refused.
  const refused = /moving a message to the dead letters failed; will try again|worker failed/;
  await until(() => refused.test(a.stderr), 30_000, () => `A: ${a.stderr.slice(-1500)}`);
  assert.match(a.stderr, 'counting a failed delivery failed; will try again');
  assert.not.match(a.stderr, 'worker failed', 'the send thread did not end');
  assert.not.match(a.stderr, 'send worker exited');
  assert.is(scalar(a, 'SELECT count(*) FROM dead_letters'), 0, 'nothing could be moved yet');

  rmSync(join(disk, 'filler'));
  await until(() => scalar(a, 'SELECT count(*) FROM dead_letters') > 0, 20_000, () => `A: ${a.stderr.slice(-1500)}`);
  b.signal('SIGCONT');
  // Whatever the lane gave up on meanwhile goes back, as the same messages.
  await until(
    async () => {
      if (scalar(a, 'SELECT count(*) FROM dead_letters') > 0) await a.must('dead-letter', 'retry', '--all');
      return arrivedAtSink(b).length === TOTAL && scalar(a, 'SELECT count(*) FROM outbox') === 0 && scalar(a, 'SELECT count(*) FROM dead_letters') === 0;
    },
    60_000,
    () => `B has ${arrivedAtSink(b).length}; A's outbox ${scalar(a, 'SELECT count(*) FROM outbox')}, dead letters ${scalar(a, 'SELECT count(*) FROM dead_letters')}`,
  );
  assert.equal(arrivedAtSink(b).map((r) => r.value), Array.from({ length: TOTAL }, (_, i) => i), 'every record, once, with its value');
  assert.not.match(a.stderr, 'worker failed', 'no thread ended');
  for (const fg of [a, b]) {
    const verified = await fg.cli('audit', 'verify');
    assert.is(verified.code, 0, `${fg.opts.domain}: ${verified.stdout}${verified.stderr}`);
  }
});

test.run();
