/**
 * `fedgate dead-letter retry --all` on a running gateway that is busy sending on another lane. The CLI's
 * transaction reads the dead letter, then writes: begun DEFERRED, it failed at once with
 * SQLITE_BUSY_SNAPSHOT whenever the gateway committed in between (4 runs out of 4 in our crash
 * campaign). Begun IMMEDIATE, it waits for the lock like any other writer, and every row goes back.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { scalar, until } from '../helpers/db.js';
import { importSeries } from '../helpers/flow.js';

const A = 'a.localhost';
const B = 'b.localhost';
const REFUSED = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const SENT = 'urn:dev:prm:30000000000002_consumption/power/active/raw';

test('dead-letter retry --all re-queues every row while the gateway commits on another lane', async () => {
  const ejabberd = await Ejabberd.start({ components: [A, B].map((domain) => ({ domain, secret: `${domain}-secret` })) });
  const a = new Fedgate({ port: ejabberd.componentPort(A), domain: A, secret: `${A}-secret`, extraYaml: 'delivery:\n  window: 16\n' });
  const b = new Fedgate({ port: ejabberd.componentPort(B), domain: B, secret: `${B}-secret` });
  try {
    await a.must('app', 'add', 'meters', '--kind', 'store');
    await b.must('app', 'add', 'sink', '--kind', 'store');
    await b.must('app', 'add', 'closed', '--kind', 'store');
    // closed@B names no source: what A sends it is refused for good, and dead-lettered.
    await a.must('consumer', 'add', '--source', 'meters', '--destination', `closed@${B}`, '--series', REFUSED, '--batch', '10');
    await a.must('consumer', 'add', '--source', 'meters', '--destination', `sink@${B}`, '--series', SENT, '--batch', '10');
    await b.must('consumer', 'add', '--source', `meters@${A}`, '--destination', 'sink', '--series', '*', '--schedule', 'none');
    a.start();
    b.start();
    await Promise.all([a.waitOnline(), b.waitOnline()]);
    await importSeries(a, REFUSED, 3000);
    await until(() => scalar(a, 'SELECT count(*) FROM dead_letters') === 300, 60_000, () => `${scalar(a, 'SELECT count(*) FROM dead_letters')} dead letters`);
    // Traffic on the other lane: the gateway commits several times a second while the CLI works.
    await importSeries(a, SENT, 20_000);
    await until(() => scalar(a, 'SELECT count(*) FROM outbox WHERE destination = ?', `sink@${B}`) < 1900, 30_000, () => 'the other lane is not sending');
    const r = await a.cli('dead-letter', 'retry', '--all');
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.split('\n').filter((l) => l.includes('queued again as')).length, 300, r.stdout.slice(-500));
  } finally {
    for (const f of [a, b]) {
      await f.stop();
      f.cleanup();
    }
    await ejabberd.stop();
  }
});

test.run();
