/**
 * Removing an app never leaves acknowledged data waiting unseen: what its inbox still held goes to the
 * dead letters with the reason, and comes back through `dead-letter retry` once the app is added again.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../component/store/database.js';
import { AppRegistry } from '../../component/registry/apps.js';
import { Inbox } from '../../component/transfer/inbox.js';
import { DeadLetters, deadLetterOrphanedInbox } from '../../component/transfer/dead-letters.js';
import { encodeQuoalise } from '../../component/quoalise/payload.js';

const S = 'urn:dev:prm:30000000000001_consumption/power/active/raw';

test("an app's unapplied inbox rows go to the dead letters when it is removed, and back when it returns", () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-removal-'));
  const db = openDatabase(join(dir, 'fedgate.sqlite'));
  try {
    const apps = new AppRegistry(db);
    apps.add({ name: 'sink', kind: 'store' });
    apps.add({ name: 'other', kind: 'store' });
    const inbox = new Inbox(db);
    const payload = encodeQuoalise([{ meta: {}, records: [{ name: S, time: 1704063600, value: 1, unit: 'W' }] }]);
    const m = (app: string, id: string) => ({ app, sender: 'meters@a.example', stanzaId: id, format: 'quoalise' as const, payload, records: 1, origin: null, version: null, retention: null, expiresAt: null, series: S });
    inbox.commit([m('sink', 'x1'), m('sink', 'x2'), m('other', 'y1')]);
    apps.remove('sink');
    assert.is(inbox.head('sink', 0, 10).length, 0, 'nothing left pending for an app that is gone');
    assert.is(inbox.head('other', 0, 10).length, 1, "another app's rows stay");
    const dead = new DeadLetters(db);
    const rows = dead.list({ direction: 'inbound' });
    assert.equal(rows.map((r) => [r.app, r.reason]), [
      ['sink', 'not applied: application sink was removed (add it again, then fedgate dead-letter retry)'],
      ['sink', 'not applied: application sink was removed (add it again, then fedgate dead-letter retry)'],
    ]);
    apps.add({ name: 'sink', kind: 'store' });
    for (const id of dead.ids({ direction: 'inbound', app: 'sink' })) dead.retry(id);
    assert.equal(inbox.head('sink', 0, 10).map((r) => r.stanzaId), ['x1', 'x2']);
    // A removal cut short (its app row gone, its inbox not yet moved): the housekeeping job's sweep finishes it.
    inbox.commit(Array.from({ length: 1200 }, (_, i) => m('gone', `g${i}`)));
    const pages: number[] = [];
    for (let n; (n = deadLetterOrphanedInbox(db)) > 0; ) pages.push(n);
    assert.equal(pages, [500, 500, 200], 'a page per transaction');
    assert.is(inbox.head('gone', 0, 10).length, 0);
    assert.is(inbox.head('sink', 0, 10).length, 2, 'rows of an app that exists stay');
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
