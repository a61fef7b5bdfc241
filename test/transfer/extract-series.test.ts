/**
 * The extract job against a real SQLite outbox: only the consumer's series leave, whatever the adapter
 * returns (an operator's extract query that ignores the series, an adapter's bug). The rest is skipped
 * with the cursor — not queued, not sent — and said at warn.
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
import { decodeQuoalise } from '../../component/quoalise/payload.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';
import type { Adapter } from '../../adapters/contract.js';
import { until } from '../helpers/db.js';

const OURS = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const ALSO_OURS = 'urn:dev:prm:30000000000001_production/power/active/raw';
const OTHER = 'urn:dev:prm:30000000000002_consumption/power/active/raw';

for (const [what, series] of [['an exact series', OURS], ['a glob', 'urn:dev:prm:30000000000001_*']] as const) {
  test(`extract returning other series than ${what}'s: only the consumer's are queued, the cursor moves past all`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedgate-extract-'));
    const db = openDatabase(join(dir, 'fedgate.sqlite'));
    const channel = new BroadcastChannel(`extract-series-${process.pid}-${Math.random()}`);
    let jobs: ExtractJobs | null = null;
    try {
      new AppRegistry(db).add({ name: 'meters', kind: 'store' });
      const consumers = new ConsumerStore(db);
      const c = consumers.add({ source: 'meters@gw.example', series, destination: 'city@other.example', schedule: 'on-change', cursor: null });
      const outbox = new Outbox(db);
      const warnings: string[] = [];
      const log = createLogger({ level: 'silent', format: 'json' });
      log.warn = ((_: unknown, msg: string) => void warnings.push(msg)) as typeof log.warn;
      const adapter: Adapter = {
        extract: async (q) => {
          if (q.cursor !== null) return { blocks: [], cursor: q.cursor, more: false };
          const records = [OURS, OTHER, ALSO_OURS].map((name, i) => ({ name, time: 1704063600 + i, value: i, unit: 'W' }));
          return { blocks: [{ meta: {}, records }, { meta: {}, records: [{ name: OTHER, time: 1704063700, value: 666, unit: 'W' }] }], cursor: '4', more: false };
        },
      };
      jobs = new ExtractJobs({ db, appJid: 'meters@gw.example', adapter, log, timeoutMs: 5000, consumers, outbox, outboxChannel: channel, consents: new ConsentStore(db) });
      jobs.start();
      await until(() => consumers.get(c.id)!.cursor === '4', 5000, () => `cursor ${consumers.get(c.id)!.cursor}`);
      const sent = outbox.list().flatMap((m) => decodeQuoalise(parseXml(m.payload)).flatMap((b) => b.records.map((r) => r.name)));
      assert.equal(sent.sort(), (series === OURS ? [OURS] : [OURS, ALSO_OURS]).sort());
      assert.equal(warnings, ['extract returned records of series the consumer does not take: not sent (said once a minute)']);
    } finally {
      await jobs?.stop();
      channel.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
