/**
 * Another process holds the store file's write lock (an admin's sqlite3 shell, a tool) while data
 * arrives, and the gateway is told to stop. Its adapter thread waits for the lock less long than the
 * stop's grace: it is never ended inside SQLite's wait, which aborted the whole process (a native V8
 * error, exit by signal). The gateway exits 0; the message, acknowledged, waits in the inbox and is
 * applied once the lock is gone.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer, xml, type Element } from '../helpers/peer.js';
import { queryStore, scalar, until } from '../helpers/db.js';

const B = 'b.localhost';
const SERIES = 'urn:dev:prm:30000000000001_consumption/power/active/raw';

test('a store locked by another process: SIGTERM while the adapter waits for the lock exits 0, and nothing is lost', async () => {
  const ejabberd = await Ejabberd.start({ components: [{ domain: B, secret: 'b' }, { domain: 'peer.localhost', secret: 'p' }] });
  const fg = new Fedgate({ port: ejabberd.componentPort(B), domain: B, secret: 'b' });
  let peer: Peer | null = null;
  let locker: Database.Database | null = null;
  try {
    await fg.must('app', 'add', 'sink', '--kind', 'store');
    await fg.must('consumer', 'add', '--source', 'meters@peer.localhost', '--destination', 'sink', '--series', '*', '--schedule', 'none');
    fg.start();
    await fg.waitOnline();
    peer = (await Peer.connect(ejabberd.componentPort('peer.localhost'), 'peer.localhost', 'p')).answerDisco();
    const send = (id: string, t: number) =>
      peer!.send(
        xml('message', { to: `sink@${B}`, from: 'meters@peer.localhost/r', id },
          xml('quoalise', { xmlns: 'urn:quoalise:0' }, xml('data', {}, xml('meta'), xml('sensml', { xmlns: 'urn:ietf:params:xml:ns:senml' }, xml('senml', { bn: SERIES, bt: String(t), v: '1', bu: 'W' })))),
          xml('request', { xmlns: 'urn:xmpp:receipts' })),
      );
    const received = (id: string) => (el: Element) => el.name === 'message' && el.getChild('received', 'urn:xmpp:receipts')?.attrs.id === id;
    // The store file exists once a first record is applied.
    send('m1', 1704063600);
    await peer.waitFor(received('m1'));
    await until(() => scalar(fg, "SELECT count(*) FROM inbox WHERE state = 'pending'") === 0, 10_000, () => 'm1 not applied');
    locker = new Database(join(fg.dir, 'fedgate-store.sqlite'));
    locker.prepare('BEGIN IMMEDIATE').run();
    send('m2', 1704065400);
    await peer.waitFor(received('m2'));
    // The adapter is now waiting for the lock: stop.
    assert.is(await fg.stop(), 0, `exit code (stderr: ${fg.stderr.slice(-800)})`);
    assert.not.match(fg.stderr, 'FATAL ERROR');
    locker.prepare('COMMIT').run();
    locker.close();
    locker = null;
    fg.start();
    await fg.waitOnline();
    await until(() => queryStore<{ n: number }>(fg, 'SELECT count(*) AS n FROM store_points')[0]!.n === 2, 15_000, () => 'm2 never applied');
  } finally {
    if (locker?.inTransaction) locker.prepare('ROLLBACK').run();
    locker?.close();
    await peer?.close();
    await fg.stop();
    fg.cleanup();
    await ejabberd.stop();
  }
});

test.run();
