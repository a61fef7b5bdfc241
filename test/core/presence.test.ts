/**
 * Presence of app JIDs with a real user account on ejabberd: subscription, the server's probes at
 * login, "unavailable" when fedgate stops and "available" when it is back.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { User } from '../helpers/client.js';
import type { Element } from '../helpers/peer.js';
import Database from 'better-sqlite3';
import { join } from 'node:path';

const DOMAIN = 'energy.localhost';
const APP = `alpha@${DOMAIN}`;

interface Ctx {
  ejabberd: Ejabberd;
  fedgate: Fedgate;
}
const test = suite<Ctx>('presence');

test.before(async (ctx) => {
  ctx.ejabberd = await Ejabberd.start({ components: [{ domain: DOMAIN, secret: 'fg-secret' }] });
  await ctx.ejabberd.register('alice', 'alice-pw');
  ctx.fedgate = new Fedgate({ port: ctx.ejabberd.componentPort(DOMAIN), domain: DOMAIN, secret: 'fg-secret' });
  assert.is((await ctx.fedgate.cli('app', 'add', 'alpha', '--kind', 'echo')).code, 0);
  ctx.fedgate.start();
  await ctx.fedgate.waitOnline();
});
test.after(async (ctx) => {
  await ctx.fedgate?.stop();
  ctx.fedgate?.cleanup();
  await ctx.ejabberd?.stop();
});

const fromApp = (type?: string) => (el: Element) =>
  el.name === 'presence' && el.attrs.from?.split('/')[0] === APP && el.attrs.type === type;

test('subscribe, probe at login, unavailable on stop, available after restart', async ({ ejabberd, fedgate }) => {
  let alice = await User.connect(ejabberd.c2sPort, 'alice', 'alice-pw');
  try {
    alice.send(alice.xml('presence'));
    alice.send(alice.xml('presence', { to: APP, type: 'subscribe' }));
    await alice.waitFor(fromApp('subscribed'));
    await alice.waitFor(fromApp(undefined));
    await alice.close();

    // At login the server probes the contacts alice is subscribed to: fedgate must answer for alpha.
    alice = await User.connect(ejabberd.c2sPort, 'alice', 'alice-pw');
    alice.send(alice.xml('presence'));
    await alice.waitFor(fromApp(undefined));

    assert.is(await fedgate.stop(), 0);
    await alice.waitFor(fromApp('unavailable'));

    fedgate.start();
    await alice.waitFor(fromApp(undefined), 10_000);
  } finally {
    await alice.close();
  }
});

function subscribers(fedgate: Fedgate): string[] {
  const db = new Database(join(fedgate.dir, 'fedgate.sqlite'), { readonly: true });
  try {
    return db.prepare("SELECT jid FROM presence_subscribers WHERE app = 'alpha'").pluck().all() as string[];
  } finally {
    db.close();
  }
}

test('unsubscribe makes fedgate forget the subscriber', async ({ ejabberd, fedgate }) => {
  await fedgate.waitOnline();
  assert.equal(subscribers(fedgate), ['alice@localhost']);
  const alice = await User.connect(ejabberd.c2sPort, 'alice', 'alice-pw');
  try {
    alice.send(alice.xml('presence'));
    await alice.waitFor(fromApp(undefined));
    alice.send(alice.xml('presence', { to: APP, type: 'unsubscribe' }));
    const t0 = Date.now();
    while (subscribers(fedgate).length > 0) {
      assert.ok(Date.now() - t0 < 5000, 'subscriber still remembered');
      await new Promise((res) => setTimeout(res, 50));
    }
  } finally {
    await alice.close();
  }
});

test.run();
