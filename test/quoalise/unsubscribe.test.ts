/**
 * `unsubscribe` on the XMPP thread (component/quoalise/commands/subscriptions.ts), on a real SQLite
 * file: whether it ends the last subscription to a series (the app is then told `unsubscribed`) is one
 * step of an index, not a read of every consumer of the app — at 5,000 subscriptions that read took
 * 21 ms, and one domain's subscribe/unsubscribe churn held every stanza ~400 ms. Rows counted as
 * SQLite returns them (no timing).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../component/store/database.js';
import { ConsumerStore } from '../../component/transfer/consumers.js';
import { unsubscribeCommand } from '../../component/quoalise/commands/subscriptions.js';
import type { CommandRequest } from '../../component/quoalise/commands/command.js';
import { xml } from '../../component/xmpp/xml.js';

const APP = 'meters@gw.example';
const S = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const id = (i: number) => `urn:dev:prm:${20000000000000 + i}_consumption/power/active/raw`;

test('unsubscribe reads no other subscription; the app hears of the last one to a series only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-unsubscribe-'));
  const db: Db = openDatabase(join(dir, 'fedgate.sqlite'));
  try {
    const consumers = new ConsumerStore(db);
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) consumers.subscribe(APP, id(i), `u${i % 10}@partner.example`, null);
      consumers.subscribe(APP, S, 'a@partner.example', null);
      consumers.subscribe(APP, S, 'b@partner.example', null);
    })();
    // Rows SQLite hands back from here on, to any statement.
    let rows = 0;
    const prepare = db.prepare.bind(db);
    (db as { prepare: unknown }).prepare = (sql: string) => {
      const st = prepare(sql);
      const all = st.all.bind(st);
      const get = st.get.bind(st);
      (st as { all: unknown }).all = (...a: unknown[]) => {
        const r = all(...a) as unknown[];
        rows += r.length;
        return r;
      };
      (st as { get: unknown }).get = (...a: unknown[]) => {
        const r = get(...a);
        if (r !== undefined) rows++;
        return r;
      };
      return st;
    };
    const told: string[] = [];
    const host = { jid: APP, app: { name: 'meters' }, capabilities: new Set(['currentCursor', 'unsubscribed']), call: async (op: string, args: { series: string }) => void told.push(`${op} ${args.series}`) };
    const cmd = unsubscribeCommand({ authz: {} as never, consumers, maxPerRequester: 1000, maxPerDomain: 10_000 });
    const req = (requester: string): CommandRequest => ({ host: host as never, requester, fields: new Map([['identifier', S]]), command: xml('command'), at: Date.now(), access: {} });

    await cmd.run(req('a@partner.example'));
    assert.equal(told, [], 'b still subscribes to it');
    assert.ok(rows <= 10, `${rows} rows read to end one subscription among 2,002`);
    await cmd.run(req('b@partner.example'));
    assert.equal(told, [`unsubscribed ${S}`], 'the last one');
    assert.is(consumers.find(APP, S, 'b@partner.example'), undefined);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
