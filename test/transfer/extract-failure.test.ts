/**
 * An extract that fails is retried even when noting why fails too — as on a full disk, where the
 * note's UPDATE fails like the extract did. That throw used to end the app's whole thread (every app
 * sharing it restarted in a loop while the disk stayed full). The note's failure is simulated with a
 * trigger: the same SQLite error path as ENOSPC, without a disk to fill.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import { openDatabase } from '../../component/store/database.js';
import { AppRegistry } from '../../component/registry/apps.js';
import { ConsumerStore } from '../../component/transfer/consumers.js';
import { Outbox } from '../../component/delivery/outbox.js';
import { ConsentStore } from '../../component/consent/consent-store.js';
import { ExtractJobs } from '../../component/jobs/extract.js';
import { createLogger } from '../../component/log/logger.js';
import type { Adapter } from '../../adapters/contract.js';
import { until } from '../helpers/db.js';

test('an extract failure whose note cannot be written: warned, retried, nothing thrown', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-extract-'));
  const db = openDatabase(join(dir, 'fedgate.sqlite'));
  const channel = new BroadcastChannel(`extract-failure-${process.pid}-${Math.random()}`);
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => void unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  let jobs: ExtractJobs | null = null;
  try {
    new AppRegistry(db).add({ name: 'meters', kind: 'store' });
    const consumers = new ConsumerStore(db);
    consumers.add({ source: 'meters@gw.example', series: '*', destination: 'city@other.example', schedule: 'on-change', cursor: null });
    db.exec("CREATE TRIGGER no_note BEFORE UPDATE OF last_error ON consumers BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    const warnings: string[] = [];
    const log = createLogger({ level: 'silent', format: 'json' });
    log.warn = ((_: unknown, msg: string) => void warnings.push(msg)) as typeof log.warn;
    let calls = 0;
    const adapter: Adapter = {
      extract: async () => {
        calls++;
        throw new Error('the source is away');
      },
    };
    jobs = new ExtractJobs({ db, appJid: 'meters@gw.example', adapter, log, timeoutMs: 5000, consumers, outbox: new Outbox(db), outboxChannel: channel, consents: new ConsentStore(db) });
    jobs.start();
    // The first retry comes 1 s after the failure (RETRY.initialMs).
    await until(() => calls >= 2, 10_000, () => `${calls} extract call(s); warnings ${JSON.stringify(warnings)}; unhandled ${String(unhandled[0])}`);
    assert.equal(unhandled, [], 'nothing thrown out of the job');
    assert.ok(warnings.includes('extract failed'));
    assert.ok(warnings.includes('could not note why the extract failed'), JSON.stringify(warnings));
  } finally {
    await jobs?.stop();
    process.off('unhandledRejection', onUnhandled);
    channel.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
