/**
 * Inbox rows that stop their app's thread (transfer/poison.ts), against a real SQLite inbox and a fake
 * clock: each stop holds the row with backoff and counts an attempt; the third makes it a dead letter;
 * a row applied meanwhile is left alone.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../component/store/database.js';
import { Inbox, type InboundMessage } from '../../component/transfer/inbox.js';
import { MAX_THREAD_STOPS, PoisonRows } from '../../component/transfer/poison.js';
import { createLogger } from '../../component/log/logger.js';

const message = (i: number): InboundMessage => ({
  app: 'sink', sender: 'meters@source.example', stanzaId: `m${i}`, format: 'quoalise', payload: '<quoalise xmlns="urn:quoalise:0"/>', records: 1,
  origin: null, version: null, retention: null, expiresAt: null,
});

test('each stop holds the row and counts an attempt; the third makes it a dead letter; an applied row is left alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-poison-'));
  const db = openDatabase(join(dir, 'fedgate.sqlite'));
  try {
    const inbox = new Inbox(db);
    inbox.commit([message(1), message(2)]);
    const [poisoned, applied] = inbox.head('sink', 0, 2).map((r) => r.id) as [number, number];
    inbox.markDone([applied]);
    const dead: string[] = [];
    const now = 1_000_000;
    const rows = new PoisonRows({ inbox, retry: { initialMs: 1000, maxMs: 60_000 }, log: createLogger({ level: 'silent', format: 'json' }), dead: (app) => dead.push(app), now: () => now });
    const row = () => inbox.get(poisoned)!;
    rows.lostWhileApplying('sink', poisoned);
    assert.is(row().state, 'pending');
    assert.is(row().attempts, 1);
    assert.ok(row().nextAttemptAt > now, 'held');
    assert.match(row().lastError!, "the application's thread stopped while applying it (1 time)");
    for (let n = 2; n < MAX_THREAD_STOPS; n++) rows.lostWhileApplying('sink', poisoned);
    assert.is(row().attempts, MAX_THREAD_STOPS - 1);
    assert.equal(dead, []);
    rows.lostWhileApplying('sink', poisoned);
    assert.is(row().state, 'dead');
    assert.equal(dead, ['sink']);
    const letter = db.prepare("SELECT reason FROM dead_letters WHERE direction = 'inbound' AND stanza_id = 'm1'").pluck().get() as string;
    assert.match(letter, `stopped while applying it (${MAX_THREAD_STOPS} times)`);
    // Applied before the thread stopped: nothing to hold, nothing to bury.
    for (let n = 0; n < MAX_THREAD_STOPS; n++) rows.lostWhileApplying('sink', applied);
    assert.is(inbox.get(applied)!.state, 'done');
    assert.is(inbox.get(applied)!.attempts, 0);
    assert.equal(dead, ['sink']);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
