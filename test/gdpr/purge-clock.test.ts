/**
 * The hourly purge and a wall clock that moved on by more than a day since the last one (a clock ahead,
 * or a long stop): it deletes nothing and says so, until an operator's `fedgate retention purge`
 * accepts the clock (gdpr/purge-clock.ts). A gateway started two days ahead used to delete every record
 * of a one-day retention still within it (fifth crash campaign). The verdict is a pure function of two
 * times; the job's wiring is run as the gateway runs it (its worker file, on a real database).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { DIST_ROOT } from '../../component/paths.js';
import { judgePurgeClock, PURGE_HOLD_GAP_MS } from '../../component/gdpr/purge-clock.js';
import type { PurgeJobData } from '../../component/jobs/purge-job.js';
import { Fedgate } from '../helpers/fedgate.js';
import { storeScalar } from '../helpers/db.js';

const HOUR = 3_600_000;
const T = Date.UTC(2026, 10, 28, 1);
const SERIES = 'urn:dev:prm:30000000000001_consumption/power/active/raw';

test('the verdict: the first run and hourly ones run; more than two hours is said; more than a day holds; a clock back runs', () => {
  assert.equal(judgePurgeClock(null, T), { run: true, gapMs: null, unusual: false });
  assert.equal(judgePurgeClock(T - HOUR, T), { run: true, gapMs: HOUR, unusual: false });
  assert.equal(judgePurgeClock(T - 3 * HOUR, T), { run: true, gapMs: 3 * HOUR, unusual: true });
  assert.equal(judgePurgeClock(T - PURGE_HOLD_GAP_MS, T), { run: true, gapMs: PURGE_HOLD_GAP_MS, unusual: true });
  assert.equal(judgePurgeClock(T - PURGE_HOLD_GAP_MS - 1, T), { run: false, gapMs: PURGE_HOLD_GAP_MS + 1 });
  assert.equal(judgePurgeClock(T + 48 * HOUR, T), { run: true, gapMs: -48 * HOUR, unusual: false });
});

async function runJob(fg: Fedgate): Promise<{ t: string }> {
  const data: PurgeJobData = { dbPath: join(fg.dir, 'fedgate.sqlite'), domain: fg.opts.domain, logLevel: 'silent' };
  const worker = new Worker(join(DIST_ROOT, 'component/jobs/purge-job.js'), { workerData: data });
  const messages: Array<{ t: string }> = [];
  worker.on('message', (m: { t: string } | 'done') => void (m !== 'done' && messages.push(m)));
  await once(worker, 'exit');
  assert.is(messages.length, 1, JSON.stringify(messages));
  return messages[0]!;
}

test('the job holds on a clock a day past the last purge, and runs again once an operator purged', async () => {
  const fg = new Fedgate({ port: 1, domain: 'gw.localhost', secret: 's' });
  try {
    await fg.must('app', 'add', 'meters', '--kind', 'store');
    await fg.must('retention', 'set', 'meters', '*', 'P1D');
    // Dated 25 hours before the wall clock: past a day's retention by it — if it is right.
    const t0 = Math.floor(Date.now() / 1000) - 25 * 3600;
    const file = join(fg.dir, 'records.csv');
    writeFileSync(file, `identifier,time,value,unit\n${Array.from({ length: 10 }, (_, i) => `${SERIES},${t0 + i},${i},W`).join('\n')}\n`);
    await fg.must('store', 'import', 'meters', file);
    const records = () => storeScalar(fg, 'SELECT count(*) FROM store_points');

    // The last purge two days ago by this clock: ahead by two days, or stopped that long.
    const db = new Database(join(fg.dir, 'fedgate.sqlite'));
    db.prepare("INSERT OR REPLACE INTO settings (name, value) VALUES ('purge.last_at', ?)").run(String(Date.now() - 2 * 24 * HOUR));
    db.close();
    assert.is((await runJob(fg)).t, 'held', 'two days since the last purge: held');
    assert.is(records(), 10, 'nothing deleted');
    assert.is((await runJob(fg)).t, 'held', 'held again an hour later: the clock was not vouched for');

    await fg.must('retention', 'purge');
    assert.is(records(), 0, "the operator's purge deletes by the clock as it is");
    assert.is((await runJob(fg)).t, 'purged', 'the hourly purge goes by the clock again');
  } finally {
    fg.cleanup();
  }
});

test.run();
