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
import { openDatabase, type Db } from '../../component/store/database.js';
import { Inbox, type InboundMessage } from '../../component/transfer/inbox.js';
import { Entitlements } from '../../component/transfer/entitlements.js';
import { ReceiveJob, type ReceiveJobOptions } from '../../component/jobs/receive.js';
import { oneAtATime } from '../../component/workers/one-at-a-time.js';
import { createLogger } from '../../component/log/logger.js';
import { encodeQuoalise } from '../../component/quoalise/payload.js';
import type { Adapter, Delivery } from '../../adapters/contract.js';
import { until } from '../helpers/db.js';

const SENDER = 'meters@source.example';
const SERIES = 'urn:dev:prm:30000000000001_consumption/power/active/raw';

function message(i: number, app = 'sink'): InboundMessage {
  const payload = encodeQuoalise([{ meta: {}, records: [{ name: SERIES, time: 1704063600 + i, value: i, unit: 'W' }] }]);
  return { app, sender: SENDER, stanzaId: `m${i}`, format: 'quoalise', payload, records: 1, origin: null, version: null, retention: null, expiresAt: null, series: SERIES };
}



/** A fresh database and inbox for `run`; the jobs it pushes into `jobs` are stopped, then everything removed. */
async function withInbox(run: (db: Db, inbox: Inbox, jobs: ReceiveJob[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-receive-'));
  const db = openDatabase(join(dir, 'fedgate.sqlite'));
  const jobs: ReceiveJob[] = [];
  try {
    await run(db, new Inbox(db), jobs);
  } finally {
    for (const job of jobs) await job.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A receive job of app `sink` on the thread's inbox, with what a test does not care about filled in. */
function receiveJob(db: Db, inbox: Inbox, opts: Partial<ReceiveJobOptions> & Pick<ReceiveJobOptions, 'adapter'>): ReceiveJob {
  const app = opts.app ?? 'sink';
  return new ReceiveJob({
    inbox,
    entitlements: new Entitlements(db, 'gw.example'),
    app,
    appJid: `${app}@gw.example`,
    log: createLogger({ level: 'silent', format: 'json' }),
    timeoutMs: 5000,
    retry: { initialMs: 100, maxMs: 1000, maxAttempts: 5 },
    onSettled: () => {},
    senders: new Set([SENDER]),
    ...opts,
  });
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
    job = receiveJob(db, inbox, { adapter, log, onSettled: (done) => (settled += done) });
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

test('a row that stopped the thread before is applied alone, announced first; the rows after it follow in one batch', () =>
  withInbox(async (db, inbox, jobs) => {
    inbox.commit([message(1), message(2), message(3)]);
    const first = inbox.head('sink', 0, 1)[0]!.id;
    // As transfer/poison.ts leaves it after a stop: an attempt counted, due now.
    assert.is(inbox.fail(first, 'the thread stopped', 0), 1);
    const applied: string[][] = [];
    const announced: number[] = [];
    const job = receiveJob(db, inbox, {
      adapter: { deliver: async (batch: readonly Delivery[]) => void applied.push(batch.map((d) => d.key)) },
      onApplying: (id) => announced.push(id),
    });
    jobs.push(job);
    job.wake();
    await until(() => inbox.head('sink', 0, 10).length === 0, 5000, () => JSON.stringify(applied));
    assert.equal(applied, [[`${SENDER}/m1`], [`${SENDER}/m2`, `${SENDER}/m3`]]);
    assert.equal(announced, [first, first + 1]);
  }));

test("the apps of one thread apply one batch at a time: a thread stopping mid-batch can blame only one app's row", () =>
  withInbox(async (db, inbox, jobs) => {
    inbox.commit([message(1, 'a'), message(2, 'a'), message(3, 'b'), message(4, 'b')]);
    // What the main thread hears, in order: each batch announced, then settled.
    const heard: string[] = [];
    const serial = oneAtATime();
    for (const app of ['a', 'b']) {
      jobs.push(
        receiveJob(db, inbox, {
          app,
          // Each delivery yields to the event loop, as a real adapter's does: the other app could run meanwhile.
          adapter: { deliver: async () => void (await new Promise((r) => setImmediate(r))) },
          onSettled: (done) => void heard.push(`${app} settled ${done}`),
          onApplying: () => void heard.push(`${app} applying`),
          serial,
        }),
      );
    }
    // Woken together, as a thread's apps are by one batch of the intake.
    for (const job of jobs) job.wake();
    await until(() => inbox.head('a', 0, 10).length + inbox.head('b', 0, 10).length === 0, 5000, () => heard.join(', '));
    assert.equal(heard, ['a applying', 'a settled 2', 'b applying', 'b settled 2']);
  }));

test('a row held far past the longest retry delay (written while the clock was ahead) is tried again after that delay, not then', () =>
  withInbox(async (db, inbox, jobs) => {
    inbox.commit([message(1), message(2)]);
    const first = inbox.head('sink', 0, 1)[0]!.id;
    assert.is(inbox.fail(first, 'failed once', Date.now() + 30 * 86_400_000), 1);
    const applied: string[] = [];
    const warnings: string[] = [];
    const log = createLogger({ level: 'silent', format: 'json' });
    log.warn = ((_: unknown, msg: string) => void warnings.push(msg)) as typeof log.warn;
    const job = receiveJob(db, inbox, {
      adapter: { deliver: async (batch: readonly Delivery[]) => void applied.push(...batch.map((d) => d.key)) },
      log,
      retry: { initialMs: 50, maxMs: 200, maxAttempts: 5 },
    });
    jobs.push(job);
    job.wake();
    await until(() => inbox.head('sink', 0, 10).length === 0, 5000, () => `held: ${JSON.stringify(applied)}`);
    assert.equal(applied, [`${SENDER}/m1`, `${SENDER}/m2`]);
    assert.match(warnings.join('\n'), 'held past the longest retry delay');
  }));

test('rows that never failed are applied at once, though the clock stepped back after they arrived', () =>
  withInbox(async (db, inbox, jobs) => {
    // Received two hours "later" than now: the wall clock was stepped back by two hours since.
    inbox.commit([message(1), message(2)], Date.now() + 2 * 3_600_000);
    const applied: string[] = [];
    const job = receiveJob(db, inbox, {
      adapter: { deliver: async (batch: readonly Delivery[]) => void applied.push(...batch.map((d) => d.key)) },
      // Longer than the wait below: the clamp of held rows is not what applies them.
      retry: { initialMs: 100, maxMs: 600_000, maxAttempts: 5 },
    });
    jobs.push(job);
    job.wake();
    await until(() => inbox.head('sink', 0, 10).length === 0, 5000, () => `held: ${JSON.stringify(applied)}`);
    assert.equal(applied, [`${SENDER}/m1`, `${SENDER}/m2`]);
  }));

test("a full disk under the app's store: retried past max attempts, never a dead letter, applied once there is room", () =>
  withInbox(async (db, inbox, jobs) => {
    inbox.commit([message(1)]);
    let full = 5;
    const applied: string[] = [];
    const job = receiveJob(db, inbox, {
      adapter: {
        deliver: async (batch: readonly Delivery[]) => {
          if (full-- > 0) throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
          applied.push(...batch.map((d) => d.key));
        },
      },
      retry: { initialMs: 10, maxMs: 20, maxAttempts: 2 },
    });
    jobs.push(job);
    job.wake();
    await until(() => applied.length === 1, 5000, () => `attempts ${JSON.stringify(db.prepare('SELECT state, attempts FROM inbox').all())}`);
    assert.equal(applied, [`${SENDER}/m1`]);
    assert.is(db.prepare('SELECT count(*) FROM dead_letters').pluck().get(), 0);
  }));

test('one at a time: in order, and a failure does not stop the next', async () => {
  const serial = oneAtATime();
  const order: string[] = [];
  const slow = serial(async () => {
    await new Promise((r) => setTimeout(r, 5));
    order.push('first');
  });
  const failing = serial(async () => {
    order.push('second');
    throw new Error('boom');
  });
  const third = serial(async () => void order.push('third'));
  await slow;
  assert.is(await failing.then(() => 'resolved', (e: Error) => e.message), 'boom');
  await third;
  assert.equal(order, ['first', 'second', 'third']);
});

test.run();
