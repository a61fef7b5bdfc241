/**
 * Data sent to an app: accepted only from entitled senders, committed before the receipt,
 * deduplicated, applied by the receive job with retries, dead letters and back-pressure.
 * The app's system is an HTTP API (webhook adapter) played by a local HTTP server.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer, xml, type Element } from '../helpers/peer.js';
import { errorCondition } from '../helpers/inbox.js';
import { HttpSink } from '../helpers/http-sink.js';
import { until } from '../helpers/db.js';

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
    port: ctx.ejabberd.componentPort,
    domain: B,
    secret: 'b-secret',
    extraYaml: 'delivery:\n  retry_initial_ms: 200\n  max_attempts: 6\ninbox:\n  max_pending_per_app: 3\n',
  });
  const fg = ctx.fedgate;
  assert.is((await fg.cli('app', 'add', 'sink', '--kind', 'webhook', '--option', `url=${ctx.http.url}`)).code, 0);
  assert.is((await fg.cli('app', 'add', 'chat', '--kind', 'echo')).code, 0);
  // The entitlement: meters@peer.localhost may send consumption series to sink; the 2019 proxy may send anything.
  for (const [source, series] of [['meters@peer.localhost', 'urn:dev:prm:*_consumption/*'], ['proxy2019@peer.localhost', '*']]) {
    const r = await fg.cli('consumer', 'add', '--source', source!, '--destination', 'sink', '--series', series!, '--schedule', 'none');
    assert.is(r.code, 0, r.stderr);
  }
  fg.start();
  await fg.waitOnline();
  ctx.peer = await Peer.connect(ctx.ejabberd.componentPort, 'peer.localhost', 'peer-secret');
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

function data(id: string, from: string, records: string, series = SERIES): Element {
  const payload = `<quoalise xmlns="urn:quoalise:0"><data><meta/><sensml xmlns="urn:ietf:params:xml:ns:senml">${records.replace(/BN/g, series)}</sensml></data></quoalise>`;
  const el = xml('message', { to: SINK, from, id }, xml('request', { xmlns: 'urn:xmpp:receipts' }));
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
  return JSON.parse((await fg.cli('inbox', 'list', '--state', state, '--json')).stdout) as Array<{ stanzaId: string; sender: string }>;
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

test('malformed data gets bad-request', async ({ peer }) => {
  peer.send(data('bad1', 'meters@peer.localhost/r', '<senml bn="BN" bt="soon" v="1"/>'));
  const err = await peer.waitFor(errorFor('bad1'));
  assert.is(errorCondition(err), 'bad-request');
  assert.is(err.getChild('error')?.attrs.type, 'modify');
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
    dead = JSON.parse((await fedgate.cli('dead-letter', 'list', '--json')).stdout) as typeof dead;
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
  assert.equal(JSON.parse((await fedgate.cli('dead-letter', 'list', '--json')).stdout), []);
});

test('back-pressure: past the backlog limit new data is refused with wait/resource-constraint', async ({ peer, http, fedgate }) => {
  const before = http.accepted;
  http.respond = () => 'hang';
  const ids = ['bp1', 'bp2', 'bp3', 'bp4', 'bp5', 'bp6'];
  ids.forEach((id, i) => peer.send(data(id, 'meters@peer.localhost/r', `<senml bn="BN" bt="${1704081600 + i * 1800}" v="${i}" u="W"/>`)));
  const outcomes = await Promise.all(ids.map((id) => peer.waitFor((el) => receiptFor(id)(el) || errorFor(id)(el))));
  // The hung application delays only itself: another app of the same gateway answers at once.
  peer.send(xml('message', { to: `chat@${B}`, from: 'bob@peer.localhost/r', type: 'chat', id: 'during-hang' }, xml('body', {}, 'still there?')));
  assert.is((await peer.waitFor((el) => el.attrs.id === 'during-hang-r')).getChildText('body'), 'still there?');
  const refused = outcomes.filter((el) => el.attrs.type === 'error');
  assert.ok(refused.length >= 2, `refused ${refused.length}`);
  for (const el of refused) {
    assert.is(errorCondition(el), 'resource-constraint');
    assert.is(el.getChild('error')?.attrs.type, 'wait');
  }
  http.respond = () => 200;
  http.release();
  // Everything that was accepted is applied once the application answers again, and the backlog empties.
  await http.waitAccepted(before + ids.length - refused.length);
  await until(async () => (await inboxRows(fedgate, 'pending')).length === 0, 10_000, () => 'backlog not drained');
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
