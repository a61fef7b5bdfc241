/**
 * The receive job against a real SQLite inbox: rows are marked done only after the adapter applied
 * them, in the job's own transaction. When that mark fails (another connection holds the write lock),
 * the job rewinds: the rows stay pending, are applied again after the job's back-off (the adapter is
 * idempotent on each key), then marked — none lost, none counted twice.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase } from '../../component/store/database.js';
import { Inbox, type InboundMessage } from '../../component/transfer/inbox.js';
import { Entitlements } from '../../component/transfer/entitlements.js';
import { ReceiveJob } from '../../component/jobs/receive.js';
import { createLogger } from '../../component/log/logger.js';
import { encodeQuoalise } from '../../component/quoalise/payload.js';
import type { Adapter, Delivery } from '../../adapters/contract.js';
import { until } from '../helpers/db.js';

const SENDER = 'meters@source.example';
const SERIES = 'urn:dev:prm:30000000000001_consumption/power/active/raw';

function message(i: number): InboundMessage {
  const payload = encodeQuoalise([{ meta: {}, records: [{ name: SERIES, time: 1704063600 + i, value: i, unit: 'W' }] }]);
  return { app: 'sink', sender: SENDER, stanzaId: `m${i}`, format: 'quoalise', payload, records: 1, origin: null, version: null, retention: null, expiresAt: null, series: SERIES };
}

test('a failed "done" mark rewinds: the rows are applied again after the back-off, then marked once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-receive-'));
  const path = join(dir, 'fedgate.sqlite');
  const db = openDatabase(path);
  const blocker = new Database(path);
  let job: ReceiveJob | null = null;
  try {
    const inbox = new Inbox(db);
    inbox.commit([message(1), message(2), message(3)]);
    const applied: string[][] = [];
    let settled = 0;
    const errors: string[] = [];
    const log = createLogger({ level: 'silent', format: 'json' });
    log.error = ((obj: { err?: string }) => void errors.push(String(obj.err ?? ''))) as typeof log.error;
    const adapter: Adapter = {
      deliver: async (batch: readonly Delivery[]) => {
        applied.push(batch.map((d) => d.key));
        // The first time, another connection takes the write lock right after the adapter applied the
        // rows and before the job marks them: the mark fails with SQLITE_BUSY.
        if (applied.length === 1) blocker.prepare('BEGIN IMMEDIATE').run();
      },
    };
    db.pragma('busy_timeout = 0');
    job = new ReceiveJob({
      inbox,
      entitlements: new Entitlements(db, 'gw.example'),
      app: 'sink',
      appJid: 'sink@gw.example',
      adapter,
      log,
      timeoutMs: 5000,
      retry: { initialMs: 100, maxMs: 1000, maxAttempts: 5 },
      onSettled: (done) => (settled += done),
      senders: new Set([SENDER]),
    });
    job.wake();
    await until(() => errors.length > 0, 5000, () => 'the mark did not fail');
    assert.match(errors[0]!, 'database is locked');
    assert.is(inbox.head('sink', 0, 10).length, 3, 'still pending: nothing was marked');
    assert.is(settled, 0);
    blocker.prepare('COMMIT').run();
    await until(() => inbox.head('sink', 0, 10).length === 0, 10_000, () => `${applied.length} deliveries`);
    const keys = [`${SENDER}/m1`, `${SENDER}/m2`, `${SENDER}/m3`];
    assert.equal(applied, [keys, keys], 'applied again, in order, after the back-off');
    assert.is(settled, 3, 'counted once');
  } finally {
    await job?.stop();
    if (blocker.inTransaction) blocker.prepare('ROLLBACK').run();
    blocker.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a row that stopped the thread before is applied alone, announced first; the rows after it follow in one batch', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-receive-'));
  const db = openDatabase(join(dir, 'fedgate.sqlite'));
  let job: ReceiveJob | null = null;
  try {
    const inbox = new Inbox(db);
    inbox.commit([message(1), message(2), message(3)]);
    const first = inbox.head('sink', 0, 1)[0]!.id;
    // As transfer/poison.ts leaves it after a stop: an attempt counted, due now.
    assert.is(inbox.fail(first, 'the thread stopped', 0), 1);
    const applied: string[][] = [];
    const announced: number[] = [];
    job = new ReceiveJob({
      inbox,
      entitlements: new Entitlements(db, 'gw.example'),
      app: 'sink',
      appJid: 'sink@gw.example',
      adapter: { deliver: async (batch: readonly Delivery[]) => void applied.push(batch.map((d) => d.key)) },
      log: createLogger({ level: 'silent', format: 'json' }),
      timeoutMs: 5000,
      retry: { initialMs: 100, maxMs: 1000, maxAttempts: 5 },
      onSettled: () => {},
      onApplying: (id) => announced.push(id),
      senders: new Set([SENDER]),
    });
    job.wake();
    await until(() => inbox.head('sink', 0, 10).length === 0, 5000, () => JSON.stringify(applied));
    assert.equal(applied, [[`${SENDER}/m1`], [`${SENDER}/m2`, `${SENDER}/m3`]]);
    assert.equal(announced, [first, first + 1]);
  } finally {
    await job?.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
