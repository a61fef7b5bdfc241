/**
 * Delivery that no peer can fool, end to end on a real ejabberd: confirmations and bounces count only
 * from the destination; a destination is treated as "confirms nothing" only on stable evidence; lanes
 * live in SQLite and the CLI acts on a running gateway; queued data whose consumer, subscription or
 * grant ended is not sent; the receiver keeps the newest value whatever the arrival order.
 * Peers played by bare xmpp.js components (not our code): a destination under the test's control
 * (`victim.localhost`), a third party (`mallory.localhost`), a subscriber (`sub.localhost`).
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer, xml, type Element } from '../helpers/peer.js';
import { query, queryStore, scalar, until } from '../helpers/db.js';

const A = 'a.localhost';
const A2 = 'a2.localhost';
const B = 'b.localhost';
const V = 'victim.localhost';
const M = 'mallory.localhost';
const SUB = 'sub.localhost';
const Q = 'quiet.localhost';
const DELIVERY = 'urn:fedgate:delivery:0';
const T0 = 1704063600;
const series = (n: string) => `urn:dev:prm:300000000000${n}_consumption/power/active/raw`;

interface Ctx {
  ejabberd: Ejabberd;
  a: Fedgate;
  /** A second sender, with quick retries. */
  a2: Fedgate;
  b: Fedgate;
  victim: Peer;
  mallory: Peer;
  sub: Peer;
  /** A destination whose domain answers disco#info with an error (as a server does for a component that is away). */
  quiet: Peer;
}
const test = suite<Ctx>('delivery integrity');

/** Answers disco#info for any JID of the peer's domain with `features(jid, n)` (n: how many times that JID was asked). */
function answerDisco(peer: Peer, features: (jid: string, n: number) => string[]): void {
  const asked = new Map<string, number>();
  peer.conn.on('stanza', (el: Element) => {
    if (el.name !== 'iq' || el.attrs.type !== 'get' || !el.getChild('query', 'http://jabber.org/protocol/disco#info')) return;
    const to = el.attrs.to ?? '';
    const n = (asked.get(to) ?? 0) + 1;
    asked.set(to, n);
    const q = xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }, xml('identity', { category: 'client', type: 'bot' }));
    for (const f of features(to, n)) q.append(xml('feature', { var: f }));
    peer.send(xml('iq', { type: 'result', id: el.attrs.id, from: to, to: el.attrs.from }, q));
  });
}

const dataTo = (to: string) => (el: Element) => el.name === 'message' && el.attrs.to === to && !!el.getChild('quoalise', 'urn:quoalise:0');

let files = 0;
async function importRecords(fg: Fedgate, app: string, rows: Array<[string, number, number]>): Promise<void> {
  const file = join(fg.dir, `i${files++}.csv`);
  writeFileSync(file, `identifier,time,value,unit\n${rows.map(([s, t, v]) => `${s},${t},${v},W`).join('\n')}\n`);
  await fg.must('store', 'import', app, file);
}

function outboxIds(fg: Fedgate, destination: string): number[] {
  return query<{ id: number }>(fg, 'SELECT id FROM outbox WHERE destination = ? ORDER BY id', destination).map((r) => r.id);
}

interface LaneJson {
  destination: string;
  mode: string;
  /** ISO 8601 (--json times), null when not held. */
  heldUntil: string | null;
  lastError: string | null;
  queued: number;
}
async function lanes(fg: Fedgate): Promise<LaneJson[]> {
  return fg.rows<LaneJson>('outbox', 'lanes');
}

test.before(async (ctx) => {
  ctx.ejabberd = await Ejabberd.start({
    components: [A, A2, B, V, M, SUB, Q].map((domain) => ({ domain, secret: `${domain}-secret` })),
  });
  const port = (domain: string) => ctx.ejabberd.componentPort(domain);
  // Retries slow enough that only an operator's retry can explain a quick delivery.
  ctx.a = new Fedgate({
    port: port(A),
    domain: A,
    secret: `${A}-secret`,
    extraYaml: 'delivery:\n  retry_initial_ms: 20000\n  retry_max_seconds: 60\n  bounce_window_ms: 500\n  push_messages_per_second: 1\n',
  });
  ctx.a2 = new Fedgate({ port: port(A2), domain: A2, secret: `${A2}-secret`, extraYaml: 'delivery:\n  retry_initial_ms: 50\n  retry_max_seconds: 1\n' });
  await ctx.a2.must('app', 'add', 'meters', '--kind', 'store');
  ctx.b = new Fedgate({ port: port(B), domain: B, secret: `${B}-secret`, logLevel: 'info', extraYaml: 'inbox:\n  max_pending_per_app: 1\n' });
  await ctx.a.must('app', 'add', 'meters', '--kind', 'store');
  await ctx.b.must('app', 'add', 'sink', '--kind', 'store');
  for (const source of [`meters@${A}`, `meters@${A2}`]) await ctx.b.must('consumer', 'add', '--source', source, '--destination', 'sink', '--series', '*', '--schedule', 'none');
  ctx.victim = await Peer.connect(port(V), V, `${V}-secret`);
  ctx.mallory = await Peer.connect(port(M), M, `${M}-secret`);
  ctx.sub = await Peer.connect(port(SUB), SUB, `${SUB}-secret`);
  answerDisco(ctx.victim, (jid, n) => (jid.startsWith('late@') && n === 1 ? [] : jid.startsWith('plain@') ? [] : [DELIVERY]));
  answerDisco(ctx.sub, () => []);
  ctx.quiet = await Peer.connect(port(Q), Q, `${Q}-secret`);
  ctx.quiet.conn.on('stanza', (el: Element) => {
    if (el.name !== 'iq' || el.attrs.type !== 'get' || !el.getChild('query', 'http://jabber.org/protocol/disco#info')) return;
    const q = xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }, xml('feature', { var: DELIVERY }));
    ctx.quiet.send(
      el.attrs.to === Q
        ? xml('iq', { type: 'error', id: el.attrs.id, from: Q, to: el.attrs.from }, xml('error', { type: 'cancel' }, xml('service-unavailable', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' })))
        : xml('iq', { type: 'result', id: el.attrs.id, from: el.attrs.to, to: el.attrs.from }, q),
    );
  });
  ctx.a.start();
  await ctx.a.waitOnline();
});

test.after(async (ctx) => {
  for (const p of [ctx.victim, ctx.mallory, ctx.sub, ctx.quiet]) await p?.close();
  for (const fg of [ctx.a, ctx.a2, ctx.b]) {
    await fg?.stop();
    fg?.cleanup();
  }
  await ctx.ejabberd?.stop();
});

test('confirmations and bounces from a third party change nothing; the destination’s own confirmation does', async ({ a, victim, mallory }) => {
  const to = `sink@${V}`;
  await a.must('consumer', 'add', '--source', 'meters', '--destination', to, '--series', series('01'), '--batch', '10');
  await importRecords(a, 'meters', [[series('01'), T0, 1], [series('01'), T0 + 1800, 2]]);
  const msg = await victim.waitFor(dataTo(to), 15_000);
  const id = msg.attrs.id!;
  assert.ok(msg.getChild('request', DELIVERY), 'a fedgate peer is asked for batched acks');
  const [row] = outboxIds(a, to);
  assert.ok(row !== undefined);
  // Mallory has seen the id (every subscriber of the app sees ids of this shape) and tries everything.
  mallory.send(xml('message', { from: `x@${M}`, to: `meters@${A}` }, xml('acks', { xmlns: DELIVERY }, xml('ack', { id }))));
  mallory.send(xml('message', { from: `x@${M}`, to: `meters@${A}` }, xml('received', { xmlns: 'urn:xmpp:receipts', id })));
  mallory.send(
    xml('message', { from: `x@${M}`, to: `meters@${A}`, id, type: 'error' }, xml('error', { type: 'cancel' }, xml('not-authorized', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }))),
  );
  await until(() => a.stderr.includes(`from x@${M}`), 10_000, () => `forgeries not noticed: ${a.stderr.slice(-2000)}`);
  assert.equal(outboxIds(a, to), [row], 'the row waits for its own destination');
  assert.is(scalar(a, 'SELECT count(*) FROM dead_letters'), 0, 'a forged bounce dead-letters nothing');
  victim.send(xml('message', { from: to, to: `meters@${A}` }, xml('acks', { xmlns: DELIVERY }, xml('ack', { id }))));
  await until(() => outboxIds(a, to).length === 0, 10_000, () => 'the real confirmation was not honoured');
});

test("a confirmation from a destination whose domain's key cannot be looked up is ignored, never taken as unsigned", async ({ a, quiet }) => {
  // Whoever can forge the from of a receiver that is away (its server answers for it with an error)
  // would otherwise confirm what the receiver never got; a fresh gateway knows no receiver's key.
  const to = `sink@${Q}`;
  await a.must('consumer', 'add', '--source', 'meters', '--destination', to, '--series', series('09'), '--batch', '10');
  await importRecords(a, 'meters', [[series('09'), T0, 1]]);
  const msg = await quiet.waitFor(dataTo(to), 15_000);
  quiet.send(xml('message', { from: to, to: `meters@${A}` }, xml('acks', { xmlns: DELIVERY }, xml('ack', { id: msg.attrs.id! }))));
  await until(() => a.stderr.includes(`ignored confirmations from ${Q}`), 20_000, () => a.stderr.slice(-2000));
  assert.is(outboxIds(a, to).length, 1, 'still waiting for a confirmation that can be judged');
});

test('one answer without the delivery features is not enough to send blind: asked again, the destination confirms', async ({ a, victim }) => {
  const to = `late@${V}`;
  await a.must('consumer', 'add', '--source', 'meters', '--destination', to, '--series', series('02'));
  await importRecords(a, 'meters', [[series('02'), T0, 1]]);
  const msg = await victim.waitFor(dataTo(to), 15_000);
  assert.ok(msg.getChild('request', DELIVERY), 'sent as to a peer that confirms');
  assert.is((await lanes(a)).find((l) => l.destination === to)?.mode, 'acks');
  assert.not.match(a.stderr, `${to} confirms nothing`);
});

test('a destination that confirms nothing is recognised on stable evidence, and said so at warn', async ({ a, victim }) => {
  const to = `plain@${V}`;
  await a.must('consumer', 'add', '--source', 'meters', '--destination', to, '--series', series('03'));
  await importRecords(a, 'meters', [[series('03'), T0, 1]]);
  const msg = await victim.waitFor(dataTo(to), 15_000);
  assert.not.ok(msg.getChild('request', DELIVERY));
  assert.match(a.stderr, `${to} confirms nothing`);
  assert.match(a.stderr, '"level":40');
  // No bounce within the window: delivered.
  await until(() => outboxIds(a, to).length === 0, 10_000, () => 'not counted as delivered after the bounce window');
});

test('a held lane is in SQLite for the CLI; outbox retry acts on the running gateway at once', async ({ a, b }) => {
  const to = `sink@${B}`;
  await a.must('consumer', 'add', '--source', 'meters', '--destination', to, '--series', series('04'), '--batch', '10');
  // One message (B refuses a second one while the first waits to be applied: see its max_pending_per_app).
  await importRecords(a, 'meters', Array.from({ length: 10 }, (_, i): [string, number, number] => [series('04'), T0 + i * 1800, i]));
  // B is not running: its server answers remote-server-not-found and the lane waits (20 s and more).
  let lane: LaneJson | undefined;
  await until(
    async () => (lane = (await lanes(a)).find((l) => l.destination === to))?.lastError?.includes('remote-server-not-found') === true,
    15_000,
    () => JSON.stringify(lane),
  );
  assert.ok(Date.parse(lane!.heldUntil ?? '') > Date.now() + 5000, 'held for a while');
  assert.is(lane!.queued, 1);
  b.start();
  await b.waitOnline();
  assert.match(await a.must('outbox', 'retry', '--destination', to), '1 lane(s)');
  await until(() => outboxIds(a, to).length === 0, 8000, () => `not sent after the retry request: ${a.stderr.slice(-1000)}`);
  assert.is(queryStore<{ n: number }>(b, "SELECT count(*) AS n FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.identifier = ?", series('04'))[0]!.n, 10);
});

test('queued pushes are not sent once the grant is gone; a removed subscription or consumer takes its queue along', async ({ a, sub }) => {
  const requester = `tester@${SUB}`;
  const S = series('05');
  await a.must('grant', 'add', 'meters', requester, S);
  await importRecords(a, 'meters', [[S, T0, 0]]);
  const form = xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, xml('field', { var: 'identifier' }, xml('value', {}, S)));
  const subscribe = () => sub.iq(`meters@${A}`, 'set', xml('command', { xmlns: 'http://jabber.org/protocol/commands', node: 'subscribe', action: 'execute' }, form), { from: `${requester}/r` });
  await until(async () => (await subscribe()).attrs.type === 'result', 10_000, () => 'subscribe failed');
  // 5,000 readings: five pushes of 1,000, throttled to one a second.
  await importRecords(a, 'meters', Array.from({ length: 5000 }, (_, i): [string, number, number] => [S, T0 + (i + 1) * 1800, i]));
  await sub.waitFor(dataTo(requester), 20_000);
  const grants = await a.rows<{ id: number; series: string }>('grant', 'list');
  await a.must('grant', 'remove', String(grants.find((g) => g.series === S)!.id));
  const removedAt = Date.now();
  await until(() => outboxIds(a, requester).length === 0, 10_000, () => 'queued pushes still there');
  const notSent = query<{ reason: string; records: number }>(a, "SELECT reason, records FROM dead_letters WHERE peer = ? AND reason LIKE 'not sent:%'", requester);
  assert.ok(notSent.length >= 3, `dead letters ${JSON.stringify(notSent)}`);
  assert.match(notSent[0]!.reason, 'may not subscribe to');
  // At most the one push already in flight when the grant went; nothing after.
  const after = sub.inbox.take(dataTo(requester));
  assert.ok(after.length <= 1, `${after.length} pushes after the grant was removed`);
  assert.ok(Date.now() - removedAt < 10_000);
  // The grant's end also ended the subscription (issue 8). A subscription that ends takes its queued
  // pushes along (here: a consumer removed by the operator).
  // (Polled: the send job's own check may have moved the pushes aside before the consent's effects ran.)
  await until(() => query(a, "SELECT id FROM consumers WHERE destination = ? AND kind = 'subscription'", requester).length === 0, 10_000, () => 'the subscription is still there');
  await a.must('grant', 'add', 'meters', requester, S);
  await until(async () => (await subscribe()).attrs.type === 'result', 10_000, () => 'subscribe failed');
  const consumer = query<{ id: number }>(a, "SELECT id FROM consumers WHERE destination = ? AND kind = 'subscription'", requester)[0]!;
  await importRecords(a, 'meters', Array.from({ length: 3000 }, (_, i): [string, number, number] => [S, T0 + (i + 10_000) * 1800, i]));
  await until(() => outboxIds(a, requester).length > 0, 10_000, () => 'nothing queued');
  await a.must('consumer', 'remove', String(consumer.id));
  assert.equal(outboxIds(a, requester), []);
  assert.ok(scalar(a, "SELECT count(*) FROM dead_letters WHERE peer = ? AND reason = 'not sent: the subscription ended'", requester) >= 1);
});

test('refusals forced (a busy receiver): the receiver keeps the newest value of every record whatever the arrival order', async ({ a2: a, b }) => {
  const S = series('06');
  const to = `sink@${B}`;
  a.start();
  await a.waitOnline();
  await a.must('consumer', 'add', '--source', 'meters', '--destination', to, '--series', S, '--batch', '5');
  const n = 600;
  await importRecords(a, 'meters', Array.from({ length: n }, (_, i): [string, number, number] => [S, T0 + i * 1800, i]));
  // Corrections of every record, queued behind the originals: a refused original retried late must not win.
  await importRecords(a, 'meters', Array.from({ length: n }, (_, i): [string, number, number] => [S, T0 + i * 1800, 1_000_000 + i]));
  const values = () =>
    queryStore<{ time: number; value: number }>(b, 'SELECT p.time, p.value FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.identifier = ? ORDER BY p.time', S);
  await until(() => outboxIds(a, to).length === 0 && values().length === n, 60_000, () => `${outboxIds(a, to).length} left, ${values().length} stored`);
  assert.ok((b.stderr.match(/waiting to be applied/g) ?? []).length > 0, 'the receiver never refused anything: the test proves nothing');
  const wrong = values().filter((r, i) => r.value !== 1_000_000 + i);
  assert.equal(wrong.slice(0, 5), [], `${wrong.length} records kept an older value`);
  assert.is(scalar(a, 'SELECT count(*) FROM dead_letters WHERE peer = ?', to), 0);
});

test.run();
