/**
 * The status view's flow list on a real SQLite file: bounded for the page and /status.json (remote
 * subscribers could grow it without end), complete for the metrics, and it says what it left out. The
 * housekeeping job forgets the counters of idle flows, except those with messages still queued.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../component/store/database.js';
import { readStatus } from '../../component/observe/status-view.js';
import { forgetIdleFlows } from '../../component/observe/flow-counters.js';
import { recordPurgeAt } from '../../component/gdpr/purge-clock.js';

const DOMAIN = 'energy.example.org';

test('flows: at most maxFlows listed, the configured flow first, the rest counted in flowsNotShown; all of them when unbounded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-status-'));
  const db = openDatabase(join(dir, 'fedgate.sqlite'));
  try {
    db.prepare("INSERT INTO apps (name, kind, created_at, updated_at) VALUES ('meters', 'store', 0, 0)").run();
    db.prepare("INSERT INTO consumers (source, destination, series, schedule, created_at, updated_at) VALUES (?, 'sink@b.example', '*', 'none', 0, 0)").run(`meters@${DOMAIN}`);
    // Five subscribers' traffic, the busiest last.
    const counted = db.prepare("INSERT INTO flow_counters (direction, app, peer, messages, records, last_at) VALUES ('out', ?, ?, ?, ?, ?)");
    for (let i = 0; i < 5; i++) counted.run(`meters@${DOMAIN}`, `s${i}@x.example`, i + 1, i + 1, 1000 + i);
    const shown = readStatus(db, { domain: DOMAIN, maxFlows: 3 });
    assert.is(shown.flows.length, 3);
    assert.is(shown.flowsNotShown, 3);
    assert.ok(shown.flows.some((f) => f.to === 'sink@b.example' && f.kind === 'flow'), 'the configured flow is kept');
    assert.equal(shown.flows.filter((f) => f.kind !== 'flow').map((f) => f.to), ['s3@x.example', 's4@x.example'], 'then the latest, in the list order');
    const all = readStatus(db, { domain: DOMAIN, maxFlows: Infinity });
    assert.is(all.flows.length, 6);
    assert.is(all.flowsNotShown, 0);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a retention purge the wall clock holds is in the status, with the hours since the last purge', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-status-'));
  const db = openDatabase(join(dir, 'fedgate.sqlite'));
  try {
    const now = Date.UTC(2026, 10, 28, 12);
    assert.is(readStatus(db, { domain: DOMAIN, now }).purgeHeld, null, 'no purge yet: nothing held');
    recordPurgeAt(db, now - 3_600_000);
    assert.is(readStatus(db, { domain: DOMAIN, now }).purgeHeld, null, 'an hour ago: the hourly run goes');
    recordPurgeAt(db, now - 50 * 3_600_000);
    assert.equal(readStatus(db, { domain: DOMAIN, now }).purgeHeld, { lastPurgeAt: new Date(now - 50 * 3_600_000).toISOString(), hoursSince: 50 });
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('idle flows are forgotten by the housekeeping, except those with messages still queued', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-status-'));
  const db = openDatabase(join(dir, 'fedgate.sqlite'));
  try {
    const counted = db.prepare('INSERT INTO flow_counters (direction, app, peer, messages, records, last_at) VALUES (?, ?, ?, 1, 1, ?)');
    counted.run('out', `meters@${DOMAIN}`, 'gone@x.example', 1000);
    counted.run('in', 'meters', 'gone@x.example', 1000);
    counted.run('out', `meters@${DOMAIN}`, 'recent@x.example', 5000);
    // Queued long ago and still there (a lane held for days): the trigger counts it at its creation.
    db.prepare("INSERT INTO outbox (sender, destination, payload, records, created_at) VALUES (?, 'stuck@x.example', '<quoalise/>', 1, 1000)").run(`meters@${DOMAIN}`);
    assert.is(forgetIdleFlows(db, 4000), 2);
    const left = db.prepare('SELECT direction, peer FROM flow_counters ORDER BY peer').all();
    assert.equal(left, [
      { direction: 'out', peer: 'recent@x.example' },
      { direction: 'out', peer: 'stuck@x.example' },
    ]);
    assert.ok(readStatus(db, { domain: DOMAIN, maxFlows: Infinity }).flows.some((f) => f.to === 'stuck@x.example' && f.queued === 1), 'the queued flow is still shown');
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
