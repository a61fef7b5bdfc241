/**
 * The consent expiry and a wall clock ahead: an 'expired' event is recorded for ever and ends the
 * recipient's subscriptions, so the job holds, as the purge does, on a clock that moved on by more than
 * a day since the last purge (gdpr/purge-clock.ts), and is planned again an hour later rather than at
 * once in a loop. It expired, at a start two days ahead, consents given until tomorrow (fifth crash
 * campaign, by reading). The job's wiring is run as the gateway runs it (its worker file, real SQLite);
 * the planning with a recording pool and fixed times.
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
import { AppRegistry } from '../../component/registry/apps.js';
import { ConsentService, consentPolicy, xmppActor } from '../../component/consent/service.js';
import { ConsentExpiry } from '../../component/consent/expiry.js';
import type { ConsentExpiryData } from '../../component/jobs/consent-expiry.js';
import type { WorkerPool } from '../../component/workers/pool.js';
import type { Logger } from '../../component/log/logger.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const HOUSE = 'urn:dev:prm:30001442769830_consumption/power/active/raw';

test('the job expires nothing while the purge does not trust the clock, and expires once it does', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-expiry-clock-'));
  const dbPath = join(dir, 'fedgate.sqlite');
  const db = openDatabase(dbPath);
  try {
    new AppRegistry(db).add({ name: 'meters', kind: 'store' });
    const svc = new ConsentService(db, consentPolicy({ max_validity: 'P3Y', max_pending_per_requester: 3, max_pending_per_app: 5, max_pending_per_domain: 4, max_requests_per_day: 6, max_requests_per_domain_per_day: 9 }));
    svc.parties.addSubject('household-1', ['urn:dev:prm:30001442769830_*'], 'alice@example.org');
    const t0 = Date.now() - 2 * DAY;
    const bob = xmppActor('bob@example.net', 'requester', { id: 'b1', from: 'bob@example.net/phone' });
    const alice = xmppActor('alice@example.org', 'subject', { id: 'a1', from: 'alice@example.org/laptop' });
    // Given until a day ago by this clock: due, if the clock is right.
    const r = svc.request('bob@example.net', { app: 'meters', series: HOUSE, purpose: 'coaching', processing: ['read', 'subscribe'], until: t0 + DAY }, bob, t0);
    svc.decide(r.id, { approve: true }, alice, t0 + 1);
    const lastPurge = db.prepare("INSERT OR REPLACE INTO settings (name, value) VALUES ('purge.last_at', ?)");
    const run = async () => {
      const worker = new Worker(join(DIST_ROOT, 'component/jobs/consent-expiry.js'), { workerData: { dbPath } satisfies ConsentExpiryData });
      const exited = once(worker, 'exit');
      const [report] = (await once(worker, 'message')) as [{ expired: number[]; held?: boolean }];
      await exited;
      return report;
    };
    // The last purge two days ago by this clock: ahead by two days, or stopped that long.
    lastPurge.run(String(Date.now() - 2 * DAY));
    assert.equal(await run(), { t: 'consent-expiry', expired: [], held: true });
    assert.is(svc.store.get(r.id)!.state, 'given', 'nothing recorded');
    lastPurge.run(String(Date.now()));
    assert.equal(await run(), { t: 'consent-expiry', expired: [r.id] });
    assert.is(svc.store.get(r.id)!.state, 'expired');
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a held job is planned again an hour later, not at once', async () => {
  const T = Date.UTC(2026, 10, 28, 1);
  const runs: number[] = [];
  const pool = { runAt: async (_name: string, _path: string, at: number) => void runs.push(at), stop: async () => {} } as unknown as WorkerPool;
  const log = { error: () => {} } as unknown as Logger;
  const expiry = new ConsentExpiry(pool, { dbPath: 'unused' }, log);
  const end = T - DAY;
  expiry.plan(end, T);
  expiry.held(T);
  expiry.ran();
  expiry.plan(end, T);
  await expiry.stop();
  assert.equal(runs, [end, T + HOUR]);
});

test.run();
