/**
 * The hourly housekeeping job, run as the gateway runs it (its worker file, on a real SQLite file):
 * what a peer left behind long ago — its lane, its flow counters — is forgotten, what is recent or
 * still queued is kept, and the job reports what it did.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DIST_ROOT } from '../../component/paths.js';
import { openDatabase } from '../../component/store/database.js';
import type { HousekeepingData } from '../../component/jobs/housekeeping.js';

const DAY = 86_400_000;
const APP = 'meters@gw.example';

test('peers idle for 30 days: their lanes and flow counters are forgotten, unless something of theirs is queued', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-housekeeping-'));
  const dbPath = join(dir, 'fedgate.sqlite');
  const db = openDatabase(dbPath);
  try {
    const old = Date.now() - 40 * DAY;
    const recent = Date.now() - DAY;
    const lane = db.prepare('INSERT INTO lanes (destination, updated_at) VALUES (?, ?)');
    const flow = db.prepare("INSERT INTO flow_counters (direction, app, peer, messages, records, last_at) VALUES ('out', ?, ?, 1, 1, ?)");
    for (const [peer, at] of [['gone@x.example', old], ['recent@x.example', recent]] as const) {
      lane.run(peer, at);
      flow.run(APP, peer, at);
    }
    // Queued 40 days ago and still there: the trigger counts it at its creation, and the lane has rows.
    lane.run('stuck@x.example', old);
    db.prepare("INSERT INTO outbox (sender, destination, payload, records, created_at) VALUES (?, 'stuck@x.example', '<quoalise/>', 1, ?)").run(APP, old);

    const data: HousekeepingData = { dbPath, keepDoneMs: 7 * DAY };
    const worker = new Worker(join(DIST_ROOT, 'component/jobs/housekeeping.js'), { workerData: data });
    // Listened for before the report is awaited: a worker that has exited by then would leave nothing to wait on.
    const exited = once(worker, 'exit');
    const [report] = (await once(worker, 'message')) as [{ t: string; lanes: number; flows: number }];
    await exited;
    assert.equal([report.t, report.lanes, report.flows], ['housekeeping', 1, 1]);
    assert.equal(db.prepare('SELECT destination FROM lanes ORDER BY destination').pluck().all(), ['recent@x.example', 'stuck@x.example']);
    assert.equal(db.prepare('SELECT peer FROM flow_counters ORDER BY peer').pluck().all(), ['recent@x.example', 'stuck@x.example']);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('applied inbox rows are kept while the purge does not trust the wall clock, forgotten once it does again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-housekeeping-'));
  const dbPath = join(dir, 'fedgate.sqlite');
  const db = openDatabase(dbPath);
  const run = async () => {
    const worker = new Worker(join(DIST_ROOT, 'component/jobs/housekeeping.js'), { workerData: { dbPath, keepDoneMs: 7 * DAY } satisfies HousekeepingData });
    const exited = once(worker, 'exit');
    const [report] = (await once(worker, 'message')) as [{ purged: number; clockHeld: boolean }];
    await exited;
    return [report.purged, report.clockHeld];
  };
  try {
    // Applied "eight days ago" by this clock: past keep_done_days, if the clock is right.
    db.prepare("INSERT INTO inbox (app, sender, stanza_id, format, payload, records, state, next_attempt_at, received_at, done_at) VALUES ('sink', ?, 'x1', 'quoalise', '', 1, 'done', 0, ?, ?)").run(APP, Date.now() - 8 * DAY, Date.now() - 8 * DAY);
    const lastPurge = db.prepare("INSERT OR REPLACE INTO settings (name, value) VALUES ('purge.last_at', ?)");
    // The last purge two days ago by this clock: ahead by two days, or stopped that long.
    lastPurge.run(String(Date.now() - 2 * DAY));
    assert.equal(await run(), [0, true]);
    assert.is(db.prepare('SELECT count(*) FROM inbox').pluck().get(), 1, 'the id that recognises a repeat is kept');
    lastPurge.run(String(Date.now()));
    assert.equal(await run(), [1, false]);
    assert.is(db.prepare('SELECT count(*) FROM inbox').pluck().get(), 0);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
