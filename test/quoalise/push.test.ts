/**
 * Subscriptions end to end, with a real client account: subscribe → records written afterwards arrive
 * as <message><quoalise><data> pushed to the subscriber's bare JID through the durable outbox, at most
 * 1000 records per message → unsubscribe → nothing more arrives. A removed grant stops the subscription too.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { User } from '../helpers/client.js';
import { query, until } from '../helpers/db.js';
import { decodeQuoalise } from '../../component/quoalise/payload.js';
import type { Element } from '../../component/xmpp/xml.js';
import type { DataBlock } from '../../component/quoalise/types.js';

const DOMAIN = 'energy.localhost';
const METERS = `meters@${DOMAIN}`;
const S = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const T = 'urn:dev:prm:30000000000002_consumption/power/active/raw';
const T0 = 1704063600;

interface Ctx {
  ejabberd: Ejabberd;
  fg: Fedgate;
  alice: User;
}
const test = suite<Ctx>('quoalise-push');

let files = 0;
/** Writes records through the CLI (another process): the running gateway notices and pushes them. */
async function write(fg: Fedgate, rows: Array<[string, number, number]>): Promise<void> {
  const file = join(fg.dir, `w${files++}.csv`);
  writeFileSync(file, `identifier,time,value,unit\n${rows.map(([s, t, v]) => `${s},${t},${v},W`).join('\n')}\n`);
  await fg.must('store', 'import', 'meters', file);
}

function command(user: User, node: string, identifier: string): Promise<Element> {
  const form = user.xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, user.xml('field', { var: 'identifier' }, user.xml('value', {}, identifier)));
  return user.iq(`${METERS}/proxy`, 'set', user.xml('command', { xmlns: 'http://jabber.org/protocol/commands', node, action: 'execute' }, form));
}

const pushed = (el: Element) => el.name === 'message' && !!el.getChild('quoalise', 'urn:quoalise:0');
const blocksOf = (el: Element): DataBlock[] => decodeQuoalise(el.getChild('quoalise', 'urn:quoalise:0')!);

test.before(async (ctx) => {
  ctx.ejabberd = await Ejabberd.start({ components: [{ domain: DOMAIN, secret: 'fg-secret' }] });
  await ctx.ejabberd.register('alice', 'pw');
  const fg = (ctx.fg = new Fedgate({ port: ctx.ejabberd.componentPort(DOMAIN), domain: DOMAIN, secret: 'fg-secret', extraYaml: 'delivery:\n  push_messages_per_second: 1000\n' }));
  await fg.must('app', 'add', 'meters', '--kind', 'store');
  await write(fg, [[S, T0, 1], [T, T0, 1]]);
  await fg.must('grant', 'add', 'meters', 'alice@localhost', 'urn:dev:prm:*');
  fg.start();
  await fg.waitOnline();
  ctx.alice = await User.connect(ctx.ejabberd.c2sPort, 'alice', 'pw');
  ctx.alice.send(ctx.alice.xml('presence'));
  await until(async () => (await command(ctx.alice, 'subscribe', S)).attrs.type === 'result', 10_000, () => 'meters not ready');
});

test.after(async (ctx) => {
  await ctx.alice?.close();
  await ctx.fg?.stop();
  ctx.fg?.cleanup();
  await ctx.ejabberd?.stop();
});

test('records written after subscribe are pushed, exactly as stored, in messages of at most 1000 records', async ({ fg, alice }) => {
  const rows: Array<[string, number, number]> = Array.from({ length: 2500 }, (_, i) => [S, T0 + 1800 * (i + 1), i % 7 === 0 ? 0 : i]);
  await write(fg, rows);
  const received: Array<{ name: string; time: number; value?: number }> = [];
  // A plain client's lane waits ~5 s for stable disco#info evidence before its first message
  // (delivery/lane.ts): 30 s leaves room for a loaded CI machine.
  while (received.length < rows.length) {
    const m = await alice.waitFor(pushed, 30_000);
    assert.is(m.attrs.from, METERS);
    const records = blocksOf(m).flatMap((b) => b.records);
    assert.ok(records.length <= 1000, `${records.length} records in one message`);
    received.push(...records);
  }
  // Only what came after the subscription (the record at T0 was there before), each once, in order.
  assert.equal(received, rows.map(([name, time, value]) => ({ name, time, value, unit: 'W' })));
});

test('unsubscribe stops the pushes', async ({ fg, alice }) => {
  const since = Date.now();
  assert.is((await command(alice, 'unsubscribe', S)).attrs.type, 'result');
  assert.is((await command(alice, 'subscribe', T)).attrs.type, 'result');
  assert.equal(query(fg, "SELECT series FROM consumers WHERE kind = 'subscription'"), [{ series: T }]);
  await write(fg, [[S, T0 + 10_000_000, 5]]);
  await write(fg, [[T, T0 + 10_000_000, 6]]);
  // T's record arriving shows the writes were extracted; S's, written first, never comes.
  const m = await alice.waitFor(pushed, 30_000);
  assert.equal(blocksOf(m).flatMap((b) => b.records.map((r) => r.name)), [T]);
  assert.is(alice.inbox.matching(pushed).length, 0);
  assert.is(query(fg, "SELECT count(*) AS n FROM outbox WHERE payload LIKE '%30000000000001%' AND created_at >= ?", since)[0]!.n, 0);
});

test('a removed grant stops the subscription; the subscriber is told', async ({ fg, alice }) => {
  const since = Date.now();
  const grants = await fg.rows<{ id: number }>('grant', 'list');
  for (const g of grants) await fg.must('grant', 'remove', String(g.id));
  const told = await alice.waitFor((el) => el.name === 'message' && !!el.getChild('consent', 'urn:fedgate:consent:0'), 10_000);
  assert.is(told.getChild('consent', 'urn:fedgate:consent:0')!.attrs.event, 'withdrawn');
  assert.match(told.getChildText('body') ?? '', `Your subscriptions to ${T} were stopped`);
  assert.equal(query(fg, "SELECT id FROM consumers WHERE kind = 'subscription'"), [], 'the subscription is gone');
  await write(fg, [[T, T0 + 20_000_000, 7]]);
  assert.is(alice.inbox.matching(pushed).length, 0);
  assert.is(query(fg, "SELECT count(*) AS n FROM outbox WHERE payload LIKE '%30000000000002%' AND created_at >= ?", since)[0]!.n, 0);
});

test.run();
