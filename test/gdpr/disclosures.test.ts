/**
 * Who received a person's series (component/gdpr/disclosures.ts), as `my_data` reads it on the XMPP
 * thread: only the rows of the app whose series start as the person's globs do are read (the whole
 * app's rows were, and a million held the thread 8–13 s), and `my_data` lists the most recent
 * MAX_DISCLOSURE_ROWS recipients, saying there are more. On a real SQLite file, rows counted as SQLite
 * returns them (no timing).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../component/store/database.js';
import { Disclosures } from '../../component/gdpr/disclosures.js';
import { MAX_DISCLOSURE_ROWS, myDataCommand } from '../../component/gdpr/my-data.js';
import type { ConsentCaller } from '../../component/consent/commands/consent-commands.js';
import type { Element } from '../../component/xmpp/xml.js';

const MINE = 'urn:dev:prm:30000000000011_consumption/power/active/raw';
const GLOB = 'urn:dev:prm:30000000000011_*';

function withDb(fn: (db: Db, rowsRead: () => number) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedgate-disclosures-'));
    const db = openDatabase(join(dir, 'fedgate.sqlite'));
    // Rows SQLite hands back to every statement's all(), counted.
    let read = 0;
    const prepare = db.prepare.bind(db);
    (db as { prepare: unknown }).prepare = (sql: string) => {
      const st = prepare(sql);
      const all = st.all.bind(st);
      (st as { all: unknown }).all = (...args: unknown[]) => {
        const rows = all(...args) as unknown[];
        read += rows.length;
        return rows;
      };
      return st;
    };
    try {
      await fn(db, () => read);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function seed(db: Db, rows: Array<{ app?: string; series: string; recipient: string; at: number }>): void {
  const ins = db.prepare("INSERT INTO gdpr_disclosures VALUES (?, ?, ?, 'access', ?, ?, 1, 48, 1, 1)");
  db.transaction(() => {
    for (const r of rows) ins.run(r.app ?? 'meters', r.series, r.recipient, r.at, r.at);
  })();
}

test(
  'only the rows whose series start as the globs do are read; what matches is all found, each once',
  withDb((db, rowsRead) => {
    const others = Array.from({ length: 5000 }, (_, i) => ({ series: `urn:dev:prm:${20000000000000 + i}_consumption/power/active/raw`, recipient: `u${i}@partner.example`, at: i }));
    seed(db, [...others, { series: MINE, recipient: 'a@partner.example', at: 10 }, { series: `${MINE}x`, recipient: 'b@partner.example', at: 5 }, { app: 'other', series: MINE, recipient: 'c@partner.example', at: 1 }]);
    const before = rowsRead();
    const found = new Disclosures(db).of([GLOB, MINE, 'urn:dev:prm:30000000000011_consumption/*'], 'meters');
    assert.equal(found.map((d) => d.recipient), ['b@partner.example', 'a@partner.example'], 'oldest first, of this app only');
    assert.ok(rowsRead() - before <= 2, `${rowsRead() - before} rows read for 2 found`);
    // A glob with no literal start reads the app's rows, as before.
    assert.is(new Disclosures(db).of(['*'], 'meters').length, 5002);
  }),
);

test(
  'my_data lists the most recent recipients up to its limit, and says there are more',
  withDb(async (db) => {
    const n = MAX_DISCLOSURE_ROWS + 5;
    seed(db, Array.from({ length: n }, (_, i) => ({ series: MINE, recipient: `r${i}@partner.example`, at: 1000 + i })));
    const cmd = myDataCommand({
      parties: { subjectsOf: () => ['household-1'], subjects: () => [{ name: 'household-1', series: [GLOB] }] } as never,
      consents: { list: () => [] } as never,
      disclosures: new Disclosures(db),
    });
    const c = { requester: 'alice@people.example', app: 'meters', appJid: 'meters@gw.example', at: Date.now(), host: { capabilities: new Set<string>() } } as unknown as ConsentCaller;
    const [form, note] = (await cmd.run(c, new Map())) as Element[];
    const readBy = form!.getChildren('item').filter((it) => it.getChildren('field').some((f) => f.attrs.var === 'what' && f.getChildText('value') === 'read by'));
    assert.is(readBy.length, MAX_DISCLOSURE_ROWS);
    const who = new Set(readBy.map((it) => it.getChildren('field').find((f) => f.attrs.var === 'who')!.getChildText('value')));
    assert.ok(who.has(`r${n - 1}@partner.example`), 'the most recent is listed');
    assert.not.ok(who.has('r0@partner.example'), 'the least recent is not');
    assert.match(note!.text(), `Only the ${MAX_DISCLOSURE_ROWS} most recent recipients are listed`);
  }),
);

test.run();
