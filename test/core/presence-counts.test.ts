/**
 * The presence service's count of subscribers per remote domain, on a real SQLite file (no server):
 * exact through subscribes, unsubscribes and a restart, and kept without counting the app's
 * subscribers again (a stranger alternating subscribe and unsubscribe made every subscribe count them
 * all: 2,000 pairs held the XMPP thread 6.8 s against 20,000 subscribers). The work is counted, not timed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../component/store/database.js';
import { PresenceService } from '../../component/router/presence.js';
import { xml, type Element } from '../../component/xmpp/xml.js';

const DOMAIN = 'gw.example';
const APP = `echo@${DOMAIN}`;

function scratch(subscribers: string[]): { db: Db; done(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-presence-'));
  const db = openDatabase(join(dir, 'fedgate.sqlite'));
  db.prepare("INSERT INTO apps (name, kind, created_at, updated_at) VALUES ('echo', 'echo', 0, 0)").run();
  const add = db.prepare("INSERT INTO presence_subscribers (app, jid, since) VALUES ('echo', ?, 0)");
  db.transaction(() => subscribers.forEach((jid) => add.run(jid)))();
  return { db, done: () => (db.close(), rmSync(dir, { recursive: true, force: true })) };
}

/** A service on `db`, and the replies it sends, each awaitable. */
function service(db: Db, maxPerDomain: number) {
  const sent: Element[] = [];
  const waiting: Array<{ match: (el: Element) => boolean; resolve: (el: Element) => void }> = [];
  const presence = new PresenceService({
    db,
    domain: DOMAIN,
    maxPerDomain,
    send: (el) => {
      sent.push(el);
      for (const w of waiting.splice(0)) (w.match(el) ? w.resolve(el) : waiting.push(w));
      return true;
    },
  });
  const reply = (to: string, type: string) =>
    new Promise<Element>((resolve) => {
      const match = (el: Element) => el.attrs.to === to && (el.attrs.type === type || (type === 'refused' && el.attrs.type === 'error'));
      const already = sent.find(match);
      if (already) resolve(already);
      else waiting.push({ match, resolve });
    });
  const send = (from: string, type: string) => presence.handle('echo', xml('presence', { to: APP, from, type }));
  return { send, reply };
}

/** String searches made while `fn` runs (reading a JID's domain is two). */
function searches(fn: () => void): number {
  const { indexOf } = String.prototype;
  let n = 0;
  String.prototype.indexOf = function (this: string, ...a: Parameters<typeof indexOf>) {
    n++;
    return indexOf.apply(this, a);
  };
  try {
    fn();
  } finally {
    String.prototype.indexOf = indexOf;
  }
  return n;
}

test("a subscribe after an unsubscribe costs the same whatever the app's number of subscribers", () => {
  const work = (others: number) => {
    const s = scratch(Array.from({ length: others }, (_, i) => `u${i}@d${i % 20}.example`));
    try {
      const { send } = service(s.db, 1000);
      send('eve@crowd.example', 'subscribe');
      send('eve@crowd.example', 'unsubscribe');
      return searches(() => send('eve@crowd.example', 'subscribe'));
    } finally {
      s.done();
    }
  };
  assert.is(work(20_000), work(10));
});

test('the per-domain limit holds through unsubscribes and a restart', async () => {
  const s = scratch([]);
  try {
    let p = service(s.db, 3);
    for (const who of ['a', 'b', 'c']) p.send(`${who}@x.example`, 'subscribe');
    p.send('d@x.example', 'subscribe');
    await Promise.all(['a', 'b', 'c'].map((who) => p.reply(`${who}@x.example`, 'subscribed')));
    assert.is((await p.reply('d@x.example', 'refused')).getChild('error')?.getChildElements()[0]?.name, 'policy-violation');
    p.send('a@x.example', 'unsubscribe');
    p.send('d@x.example', 'subscribe');
    p.send('e@x.example', 'subscribe');
    await p.reply('d@x.example', 'subscribed');
    assert.is((await p.reply('e@x.example', 'refused')).attrs.type, 'error');
    // Another domain is counted apart.
    p.send('a@y.example', 'subscribe');
    await p.reply('a@y.example', 'subscribed');
    // After a restart the counts come from the database: b, c and d of x.example.
    p = service(s.db, 3);
    p.send('f@x.example', 'subscribe');
    assert.is((await p.reply('f@x.example', 'refused')).attrs.type, 'error');
    p.send('b@y.example', 'subscribe');
    await p.reply('b@y.example', 'subscribed');
  } finally {
    s.done();
  }
});

test.run();
