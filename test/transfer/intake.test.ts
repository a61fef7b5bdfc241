/**
 * Data sent to an app: accepted only from entitled senders, committed before the receipt,
 * deduplicated, applied by the receive job with retries, dead letters and back-pressure.
 * The app's system is an HTTP API (webhook adapter) played by a local HTTP server.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer, xml, type Element } from '../helpers/peer.js';
import { errorCondition, errorText } from '../helpers/inbox.js';
import { HttpSink } from '../helpers/http-sink.js';
import { scalar, until } from '../helpers/db.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const B = 'b.localhost';
const SINK = `sink@${B}`;
const SERIES = 'urn:dev:prm:30001234567890_consumption/power/active/raw';

interface Ctx {
  ejabberd: Ejabberd;
  fedgate: Fedgate;
  peer: Peer;
  http: HttpSink;
}
const test = suite<Ctx>('intake');

test.before(async (ctx) => {
  ctx.ejabberd = await Ejabberd.start({ components: [{ domain: B, secret: 'b-secret' }, { domain: 'peer.localhost', secret: 'peer-secret' }] });
  ctx.http = await HttpSink.start();
  ctx.fedgate = new Fedgate({
    port: ctx.ejabberd.componentPort(B),
    domain: B,
    secret: 'b-secret',
    logLevel: 'info',
    extraYaml: 'delivery:\n  retry_initial_ms: 200\n  max_attempts: 6\ninbox:\n  max_pending_per_app: 3\n  max_pending_per_source: 2\n  repeats_burst: 3\n  repeats_per_second: 0.001\n',
  });
  const fg = ctx.fedgate;
  assert.is((await fg.cli('app', 'add', 'sink', '--kind', 'webhook', '--option', `url=${ctx.http.url}`)).code, 0);
  assert.is((await fg.cli('app', 'add', 'chat', '--kind', 'echo')).code, 0);
  // An app whose worker can never start (its store file is a folder): it is never "ready".
  mkdirSync(join(fg.dir, 'fedgate-store.sqlite'));
  assert.is((await fg.cli('app', 'add', 'broken', '--kind', 'store')).code, 0);
  assert.is((await fg.cli('consumer', 'add', '--source', 'meters@peer.localhost', '--destination', 'broken', '--series', '*', '--schedule', 'none')).code, 0);
  // A second app of the same gateway, to which the same sender may send too.
  assert.is((await fg.cli('app', 'add', 'sink2', '--kind', 'webhook', '--option', `url=${ctx.http.url}`)).code, 0);
  assert.is((await fg.cli('consumer', 'add', '--source', 'meters@peer.localhost', '--destination', 'sink2', '--series', '*', '--schedule', 'none')).code, 0);
  // The entitlement: meters@peer.localhost may send consumption series to sink; the 2019 proxy may send anything.
  for (const [source, series] of [['meters@peer.localhost', 'urn:dev:prm:*_consumption/*'], ['proxy2019@peer.localhost', '*'], ['repeater@peer.localhost', '*']]) {
    const r = await fg.cli('consumer', 'add', '--source', source!, '--destination', 'sink', '--series', series!, '--schedule', 'none');
    assert.is(r.code, 0, r.stderr);
  }
  fg.start();
  await fg.waitOnline();
  // It answers disco#info as any XMPP entity must: a gateway that keeps a log asks a sender's domain whether it signs.
  ctx.peer = (await Peer.connect(ctx.ejabberd.componentPort('peer.localhost'), 'peer.localhost', 'peer-secret')).answerDisco();
  // The app answers once its worker is up.
  for (let t0 = Date.now(); ; ) {
    const r = await ctx.peer.iq(SINK, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
    if (r.attrs.type === 'result') break;
    assert.ok(Date.now() - t0 < 5000, 'sink never came up');
  }
});

test.after(async (ctx) => {
  await ctx.peer?.close();
  await ctx.fedgate?.stop();
  ctx.fedgate?.cleanup();
  await ctx.http?.stop();
  await ctx.ejabberd?.stop();
});

function data(id: string, from: string, records: string, series = SERIES, to = SINK): Element {
  const payload = records === '' ? '<quoalise xmlns="urn:quoalise:0"/>' : `<quoalise xmlns="urn:quoalise:0"><data><meta/><sensml xmlns="urn:ietf:params:xml:ns:senml">${records.replace(/BN/g, series)}</sensml></data></quoalise>`;
  const el = xml('message', { to, from, id }, xml('request', { xmlns: 'urn:xmpp:receipts' }));
  el.children.unshift(parseFragment(payload));
  return el;
}

function parseFragment(s: string): Element {
  const { Parser } = xml;
  const p = new Parser();
  let out: Element | undefined;
  p.on('element', (e: Element) => (out ??= e));
  p.write(`<r>${s}</r>`);
  out!.parent = null;
  return out!;
}

const receiptFor = (id: string) => (el: Element) => el.name === 'message' && el.getChild('received', 'urn:xmpp:receipts')?.attrs.id === id;
const errorFor = (id: string) => (el: Element) => el.name === 'message' && el.attrs.id === id && el.attrs.type === 'error';

async function inboxRows(fg: Fedgate, state: string): Promise<Array<{ stanzaId: string; sender: string }>> {
  return fg.rows<{ stanzaId: string; sender: string }>('inbox', 'list', '--state', state);
}

test('entitled data is committed, acknowledged, and applied once — zero readings included', async ({ peer, http }) => {
  const before = http.accepted;
  peer.send(data('m1', 'meters@peer.localhost/proxy', '<senml bn="BN" bt="1704063600" bu="W" v="0"/><senml t="1800" v="351"/>'));
  await peer.waitFor(receiptFor('m1'));
  await http.waitAccepted(before + 1);
  const got = http.received.at(-1)!;
  assert.is(got.key, 'meters@peer.localhost/m1');
  assert.equal(got.body.blocks[0]!.records, [
    { name: SERIES, time: 1704063600, value: 0, unit: 'W' },
    { name: SERIES, time: 1704065400, value: 351, unit: 'W' },
  ]);
});

test('a duplicate is acknowledged again and not applied twice', async ({ peer, http }) => {
  peer.send(data('m1', 'meters@peer.localhost/other-resource', '<senml bn="BN" bt="1704063600" bu="W" v="0"/><senml t="1800" v="351"/>'));
  await peer.waitFor(receiptFor('m1'));
  const before = http.accepted;
  peer.send(data('m2', 'meters@peer.localhost/proxy', '<senml bn="BN" bt="1704067200" v="5" u="W"/>'));
  await peer.waitFor(receiptFor('m2'));
  await http.waitAccepted(before + 1);
  assert.is(http.received.filter((r) => r.key === 'meters@peer.localhost/m1').length, 1);
});

test('a source sending one message again and again: acknowledged and logged up to its repeat budget, then refused (wait), not logged', async ({ peer, fedgate }) => {
  const logged = async () =>
    (JSON.parse(await fedgate.must('audit', 'list', '--json', '--kind', 'transfer.received', '--limit', '1000')) as Array<{ fields: { messages: Array<{ id: string }> } }>)
      .flatMap((e) => e.fields.messages)
      .filter((m) => m.id === 'again').length;
  const once = () => data('again', 'repeater@peer.localhost/r', '<senml bn="BN" bt="1704300000" v="8" u="W"/>');
  // The message, then three repeats (the budget: repeats_burst 3): each acknowledged again.
  for (let i = 0; i < 4; i++) {
    peer.send(once());
    await peer.waitFor(receiptFor('again'));
  }
  peer.send(once());
  const refused = await peer.waitFor(errorFor('again'));
  assert.is(errorCondition(refused), 'resource-constraint');
  assert.match(errorText(refused), 'repeater@peer.localhost has sent again too many messages that sink@b.localhost already has; retry in');
  await until(async () => (await logged()) === 4, 10_000, () => 'the message and its three repeats not logged');
  // Another source's repeats have their own budget.
  peer.send(data('m1', 'meters@peer.localhost/r', '<senml bn="BN" bt="1704063600" bu="W" v="0"/><senml t="1800" v="351"/>'));
  await peer.waitFor(receiptFor('m1'));
  assert.is(await logged(), 4, 'the refused repeat was logged');
});

test('a sender that no consumer names is refused and nothing is stored', async ({ peer, fedgate }) => {
  peer.send(data('x1', 'intruder@peer.localhost/r', '<senml bn="BN" bt="1704063600" v="1" u="W"/>'));
  const err = await peer.waitFor(errorFor('x1'));
  assert.is(errorCondition(err), 'not-authorized');
  // An entitled sender, but a series it is not entitled to.
  peer.send(data('x2', 'meters@peer.localhost/r', '<senml bn="BN" bt="1704063600" v="1" u="W"/>', 'urn:dev:prm:30001234567890_production/power/active/raw'));
  assert.is(errorCondition(await peer.waitFor(errorFor('x2'))), 'not-authorized');
  for (const state of ['pending', 'done', 'dead']) {
    assert.not.ok((await inboxRows(fedgate, state)).some((r) => r.stanzaId.startsWith('x')), `stored as ${state}`);
  }
});

test('the same id sent to two apps of the gateway is two messages: each app gets it', async ({ peer, http }) => {
  const before = http.accepted;
  const rec = '<senml bn="BN" bt="1704200000" v="3" u="W"/>';
  peer.send(data('twice', 'meters@peer.localhost/r', rec));
  await peer.waitFor(receiptFor('twice'));
  peer.send(data('twice', 'meters@peer.localhost/r', rec, SERIES, `sink2@${B}`));
  await peer.waitFor(receiptFor('twice'));
  await http.waitAccepted(before + 2);
  assert.is(http.received.filter((r) => r.key === 'meters@peer.localhost/twice').length, 2);
});

test('a data message without records is refused (bad-request) and nothing is stored', async ({ peer, fedgate }) => {
  peer.send(data('empty1', 'meters@peer.localhost/r', ''));
  const err = await peer.waitFor(errorFor('empty1'));
  assert.is(errorCondition(err), 'bad-request');
  assert.match(errorText(err), 'no record');
  // Only unknown children in the data: no records either.
  const el = data('empty2', 'meters@peer.localhost/r', '<senml bn="BN" bt="1704063600" v="1" u="W"/>');
  el.getChild('quoalise')!.getChild('data')!.children = [parseFragment('<gossip xmlns="urn:example"/>')];
  peer.send(el);
  assert.is(errorCondition(await peer.waitFor(errorFor('empty2'))), 'bad-request');
  for (const state of ['pending', 'done', 'dead']) assert.not.ok((await inboxRows(fedgate, state)).some((r) => r.stanzaId.startsWith('empty')), `stored as ${state}`);
});

test('an id or a series identifier longer than any real one is refused (bad-request) before anything is logged or stored', async ({ peer, fedgate }) => {
  const longId = `long-${'x'.repeat(300)}`;
  peer.send(data(longId, 'meters@peer.localhost/r', '<senml bn="BN" bt="1704063600" v="1" u="W"/>'));
  const err = await peer.waitFor(errorFor(longId));
  assert.is(errorCondition(err), 'bad-request');
  assert.match(errorText(err), 'message id is longer than 256 characters');
  const longSeries = `urn:dev:prm:30001234567890_consumption/${'p'.repeat(600)}`;
  peer.send(data('long-series', 'proxy2019@peer.localhost/r', '<senml bn="BN" bt="1704063600" v="1" u="W"/>', longSeries));
  const err2 = await peer.waitFor(errorFor('long-series'));
  assert.is(errorCondition(err2), 'bad-request');
  assert.match(errorText(err2), 'longer than 512 characters');
  for (const state of ['pending', 'done', 'dead']) assert.not.ok((await inboxRows(fedgate, state)).some((r) => r.stanzaId.startsWith('long')), `stored as ${state}`);
});

test('refused data is logged at a bounded rate, never one line per message', async ({ peer, fedgate }) => {
  const logged = () => (fedgate.stderr.match(/is not entitled to send/g) ?? []).length;
  const before = logged();
  const ids = Array.from({ length: 60 }, (_, i) => `flood${i}`);
  for (const id of ids) peer.send(data(id, 'intruder@peer.localhost/r', '<senml bn="BN" bt="1704063600" v="1" u="W"/>'));
  await peer.waitFor(errorFor(ids.at(-1)!));
  assert.ok(logged() - before >= 1, 'refusals are logged');
  assert.ok(logged() - before <= 10, `${logged() - before} log lines for 60 refusals`);
});

test('an app that accepts data says so (delivery protocol, receipts) even while its worker is not ready, and stores what it is sent', async ({ peer, fedgate }) => {
  const info = await peer.iq(`broken@${B}`, 'get', xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }));
  const features = info.getChild('query')?.getChildren('feature').map((f) => f.attrs.var) ?? [];
  assert.ok(features.includes('urn:fedgate:delivery:0'), features.join(' '));
  assert.ok(features.includes('urn:xmpp:receipts'));
  peer.send(data('early', 'meters@peer.localhost/r', '<senml bn="BN" bt="1704063600" v="1" u="W"/>', SERIES, `broken@${B}`));
  await peer.waitFor(receiptFor('early'));
  assert.ok((await inboxRows(fedgate, 'pending')).some((r) => r.stanzaId === 'early'), 'kept in the inbox until the app can apply it');
});

test('retention terms of series the message does not carry are not kept', async ({ peer, fedgate, http }) => {
  const before = http.accepted;
  const el = data('r1', 'meters@peer.localhost/proxy', '<senml bn="BN" bt="1704070800" bu="W" v="7"/>');
  const terms = Array.from({ length: 3 }, (_, i) => `<series identifier="urn:dev:prm:3000000000000${i}_other/x" max-age="P1D"/>`).join('');
  el.children.push(parseFragment(`<retention xmlns="urn:fedgate:gdpr:0"><series identifier="${SERIES}" max-age="P1Y"/>${terms}</retention>`));
  peer.send(el);
  await peer.waitFor(receiptFor('r1'));
  await http.waitAccepted(before + 1); // applied before the next test counts deliveries
  assert.equal(JSON.parse(scalar<string>(fedgate, "SELECT retention FROM inbox WHERE stanza_id = 'r1' AND app = 'sink'")), [[SERIES, { maxAge: 'P1Y' }]]);
});

test('malformed data gets bad-request', async ({ peer }) => {
  peer.send(data('bad1', 'meters@peer.localhost/r', '<senml bn="BN" bt="soon" v="1"/>'));
  const err = await peer.waitFor(errorFor('bad1'));
  assert.is(errorCondition(err), 'bad-request');
  assert.is(err.getChild('error')?.attrs.type, 'modify');
  // A time no date can show: refused before the acknowledgement (it was acknowledged, then dead-lettered).
  peer.send(data('bad2', 'meters@peer.localhost/r', '<senml bn="BN" bt="1704063600" v="1"/><senml t="1e300" v="2"/>'));
  const far = await peer.waitFor(errorFor('bad2'));
  assert.is(errorCondition(far), 'bad-request');
  assert.match(errorText(far), "a record's time (1e+300) is outside 1970-01-01 to 9999-12-31");
});

test('a failing application is retried with growing delays, then succeeds', async ({ peer, http }) => {
  let failures = 0;
  http.respond = (r) => (r.key.endsWith('/t1') && failures++ < 3 ? 503 : 200);
  const before = http.accepted;
  peer.send(data('t1', 'meters@peer.localhost/r', '<senml bn="BN" bt="1704070800" v="7" u="W"/>'));
  await peer.waitFor(receiptFor('t1'));
  await http.waitAccepted(before + 1, 15_000);
  const attempts = http.received.filter((r) => r.key.endsWith('/t1')).map((r) => r.at);
  assert.is(attempts.length, 4);
  const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
  // Backoff with jitter: each delay's ceiling doubles, so the third gap exceeds the first.
  assert.ok(gaps[2]! > gaps[0]!, `gaps ${gaps}`);
  http.respond = () => 200;
});

test('a poison message becomes a dead letter with its reason; dead-letter retry applies it', async ({ peer, http, fedgate }) => {
  http.respond = (r) => (r.key.endsWith('/p1') ? 422 : 200);
  peer.send(data('p1', 'meters@peer.localhost/r', '<senml bn="BN" bt="1704074400" v="9" u="W"/>'));
  await peer.waitFor(receiptFor('p1'));
  let dead: Array<{ id: number; reason: string; peer: string }> = [];
  for (const t0 = Date.now(); dead.length === 0; ) {
    dead = await fedgate.rows<(typeof dead)[number]>('dead-letter', 'list');
    assert.ok(Date.now() - t0 < 10_000, 'no dead letter');
  }
  assert.is(dead[0]!.peer, 'meters@peer.localhost');
  assert.match(dead[0]!.reason, 'HTTP 422');
  http.respond = () => 200;
  const before = http.accepted;
  const r = await fedgate.cli('dead-letter', 'retry', String(dead[0]!.id));
  assert.is(r.code, 0, r.stderr);
  // The running gateway is not told; the receive job finds the row at its next wake: send another message.
  peer.send(data('p2', 'meters@peer.localhost/r', '<senml bn="BN" bt="1704078000" v="10" u="W"/>'));
  await http.waitAccepted(before + 2);
  assert.ok(http.received.filter((x) => x.key.endsWith('/p1')).length >= 2);
  assert.equal(await fedgate.rows('dead-letter', 'list'), []);
});

test('back-pressure: past the backlog limit of a source, then of the app, new data is refused with wait/resource-constraint', async ({ peer, http, fedgate }) => {
  const before = http.accepted;
  http.respond = () => 'hang';
  const ids = ['bp1', 'bp2', 'bp3', 'bp4', 'bp5', 'bp6'];
  ids.forEach((id, i) => peer.send(data(id, 'meters@peer.localhost/r', `<senml bn="BN" bt="${1704081600 + i * 1800}" v="${i}" u="W"/>`)));
  const outcomes = await Promise.all(ids.map((id) => peer.waitFor((el) => receiptFor(id)(el) || errorFor(id)(el))));
  // The hung application delays only itself: another app of the same gateway answers at once.
  peer.send(xml('message', { to: `chat@${B}`, from: 'bob@peer.localhost/r', type: 'chat', id: 'during-hang' }, xml('body', {}, 'still there?')));
  assert.is((await peer.waitFor((el) => el.attrs.id === 'during-hang-r')).getChildText('body'), 'still there?');
  const refused = outcomes.filter((el) => el.attrs.type === 'error');
  assert.ok(refused.length >= 4, `refused ${refused.length}`);
  for (const el of refused) {
    assert.is(errorCondition(el), 'resource-constraint');
    assert.is(el.getChild('error')?.attrs.type, 'wait');
    assert.match(errorText(el), 'of meters@peer.localhost are waiting to be applied (at most 2 per source)');
  }
  // The flooding source holds 2 of the app's 3: another source still gets in, up to the app's limit.
  const other = (id: string, i: number) => data(id, 'proxy2019@peer.localhost/p', `<senml bn="BN" bt="${1704171600 + i * 1800}" v="${i}" u="W"/>`);
  peer.send(other('bp-other1', 0));
  await peer.waitFor(receiptFor('bp-other1'));
  peer.send(other('bp-other2', 1));
  const full = await peer.waitFor(errorFor('bp-other2'));
  assert.is(errorCondition(full), 'resource-constraint');
  assert.match(errorText(full), '3 messages are waiting to be applied');
  http.respond = () => 200;
  http.release();
  // Everything that was accepted is applied once the application answers again, and the backlog empties.
  await http.waitAccepted(before + ids.length - refused.length + 1);
  await until(async () => !(await inboxRows(fedgate, 'pending')).some((r) => r.stanzaId.startsWith('bp')), 10_000, () => 'backlog not drained');
});

test('a 2019 Sen1Message from an entitled proxy is accepted, zero included', async ({ peer, http }) => {
  const before = http.accepted;
  const sen1 = parseFragment(`<Sen1Message xmlns="http://xmpp.rocks"><username>alice</username><name>compteur-1</name><metaname>x</metaname>
    <metavalue>y</metavalue><unite>kWh</unite><type>dt_numeric</type><applicationSrc>app1</applicationSrc><applicationDst>app2</applicationDst>
    <Sen1Datas><Sen1Data><value>0</value><timestamp>2024-01-15T10:00:00</timestamp></Sen1Data></Sen1Datas></Sen1Message>`);
  peer.send(xml('message', { to: SINK, from: 'proxy2019@peer.localhost/p', id: 's1', type: 'chat' }, sen1, xml('request', { xmlns: 'urn:xmpp:receipts' })));
  await peer.waitFor(receiptFor('s1'));
  await http.waitAccepted(before + 1);
  const rec = http.received.at(-1)!.body.blocks[0]!.records[0]!;
  assert.is(rec.value, 0);
  assert.is(rec.time, Date.parse('2024-01-15T09:00:00Z') / 1000);
});

test.run();
