/**
 * Quoalise commands on a real ejabberd and on a real Prosody, asked by real client accounts:
 * get_history (form in the first execute, and the two-step flow), subscribe/unsubscribe, the
 * list_series catalogue, disco filtered by grants, and every error by condition and type. Data come from a `store` app filled by the CLI.
 */
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type XmppServer } from '../helpers/xmpp-server.js';
import { perServer, type ServerContext } from '../helpers/per-server.js';
import { Fedgate } from '../helpers/fedgate.js';
import { User } from '../helpers/client.js';
import { errorCondition, errorText } from '../helpers/inbox.js';
import { query, storeScalar, until } from '../helpers/db.js';
import { decodeQuoalise } from '../../component/quoalise/payload.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';
import type { Element } from '../../component/xmpp/xml.js';

const DOMAIN = 'energy.localhost';
const SLOW = 'slow.localhost';
const METERS = `meters@${DOMAIN}`;
const NS_COMMANDS = 'http://jabber.org/protocol/commands';
const NS_DATA = 'jabber:x:data';
const NS_QUOALISE = 'urn:quoalise:0';
const NS_SENML = 'urn:ietf:params:xml:ns:senml';
const NS_INFO = 'http://jabber.org/protocol/disco#info';
const NS_ITEMS = 'http://jabber.org/protocol/disco#items';

const A = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const Z = 'urn:dev:org:60060-lyon:12345';
const DENSE = 'urn:dev:prm:30000000000001_consumption/energy/active/index';
const C = 'urn:dev:prm:30000000000002_production/power/active/raw';
const META_A = {
  device: { type: 'electricity-meter', identifier: { authority: 'enedis', type: 'prm', value: '30000000000001' } },
  measurement: { name: 'active-power', direction: 'consumption', quantity: 'power', type: 'electrical', unit: 'W', aggregation: 'mean', 'sampling-interval': 'PT30M' },
};
const META_C = { device: { type: 'electricity-meter' }, measurement: { name: 'active-power', direction: 'production', unit: 'W' } };
const T0 = 1704063600; // 2024-01-01T00:00:00+01:00
/** The consent commands every data app offers anyone (component/consent/commands/). */
const ASK = [['request_access', 'Request access'], ['my_consents', 'My consents'], ['renew', 'Renew a consent'], ['withdraw', 'Withdraw a consent']];

interface Ctx extends ServerContext {
  server: XmppServer;
  fg: Fedgate;
  slow: Fedgate;
  alice: User;
  bob: User;
  mallory: User;
}
const test = perServer<Ctx>('quoalise-commands');

test.before(async (ctx) => {
  ctx.server = await startServer(ctx.kind, { components: [{ domain: DOMAIN, secret: 'fg-secret' }, { domain: SLOW, secret: 'slow-secret' }] });
  for (const u of ['alice', 'bob', 'mallory']) await ctx.server.register(u, 'pw');

  const fg = (ctx.fg = new Fedgate({ port: ctx.server.componentPort(DOMAIN), domain: DOMAIN, secret: 'fg-secret', extraYaml: 'quoalise:\n  max_records: 10\n  requests_per_second: 1000\n' }));
  await fg.must('app', 'add', 'meters', '--kind', 'store');
  await fg.must('app', 'add', 'down', '--kind', 'store', '--option', 'maintenance=restoring a backup');
  await fg.must('app', 'add', 'chat', '--kind', 'echo');
  const rows = [
    `${A},2024-01-01T00:00:00+01:00,342,W`,
    `${A},2024-01-01T00:30:00+01:00,0,W`,
    `${A},2024-01-01T01:00:00+01:00,351.5,W`,
    `${A},2024-01-01T01:30:00+01:00,360,W`,
    `${Z},${T0 + 0.5},"door open",`,
    `${Z},${T0 + 60},7.25,Cel`,
    ...Array.from({ length: 20 }, (_, i) => `${DENSE},${T0 + i * 1800},${1000 + i},Wh`),
    `${C},2024-06-01T12:00:00+02:00,12000,W`,
    `${C},2024-06-01T12:30:00+02:00,12500,W`,
  ];
  writeFileSync(join(fg.dir, 'data.csv'), `identifier,time,value,unit\n${rows.join('\n')}\n`);
  writeFileSync(join(fg.dir, 'data.meta.json'), JSON.stringify({ [A]: META_A, [C]: META_C }));
  await fg.must('store', 'import', 'meters', join(fg.dir, 'data.csv'));
  await fg.must('grant', 'add', 'meters', 'alice@localhost', 'urn:dev:prm:30000000000001_*', '--purpose', 'energy coaching');
  await fg.must('grant', 'add', 'meters', 'alice@localhost', 'urn:dev:org:60060-lyon:*');
  await fg.must('grant', 'add', 'meters', 'bob@localhost', 'urn:dev:prm:30000000000002_*');
  await fg.must('grant', 'add', 'down', 'localhost', '*');
  await fg.must('grant', 'add', 'chat', 'localhost', '*');

  const slow = (ctx.slow = new Fedgate({ port: ctx.server.componentPort(SLOW), domain: SLOW, secret: 'slow-secret', extraYaml: 'quoalise:\n  requests_per_second: 1\n  request_burst: 1\n' }));
  await slow.must('app', 'add', 'meters', '--kind', 'store');
  await slow.must('grant', 'add', 'meters', 'alice@localhost', '*');

  fg.start();
  slow.start();
  await Promise.all([fg.waitOnline(), slow.waitOnline()]);
  ctx.alice = await User.connect(ctx.server.c2sPort, 'alice', 'pw');
  ctx.bob = await User.connect(ctx.server.c2sPort, 'bob', 'pw');
  ctx.mallory = await User.connect(ctx.server.c2sPort, 'mallory', 'pw');
  // Commands exist once the app's worker is ready: wait for the data apps to say so in disco.
  for (const jid of [METERS, `down@${DOMAIN}`, `meters@${SLOW}`]) {
    await until(async () => features(await ctx.alice.iq(jid, 'get', ctx.alice.xml('query', { xmlns: NS_INFO }))).includes(NS_QUOALISE), 10_000, () => `${jid} not ready`);
  }
});

test.after(async (ctx) => {
  for (const u of [ctx.alice, ctx.bob, ctx.mallory]) await u?.close();
  for (const f of [ctx.fg, ctx.slow]) {
    await f?.stop();
    f?.cleanup();
  }
  await ctx.server?.stop();
});

function features(iq: Element): string[] {
  return iq.getChild('query', NS_INFO)?.getChildren('feature').map((f) => f.attrs.var ?? '') ?? [];
}

interface Request {
  action?: string;
  sessionid?: string;
  fields?: Record<string, string>;
}

/** One command IQ; `fields` puts a submitted form in the command element. */
function command(user: User, to: string, node: string, r: Request = {}): Promise<Element> {
  return user.command(to, node, r);
}

/** Re-parsed with fedgate's own parser, so the codec reads the answer exactly as it came over the wire. */
function commandOf(iq: Element): Element {
  assert.is(iq.attrs.type, 'result', iq.toString());
  return parseXml(iq.toString()).getChild('command', NS_COMMANDS)!;
}

function assertSuccess(cmd: Element, title: string): void {
  assert.is(cmd.attrs.status, 'completed');
  assert.ok(cmd.attrs.sessionid);
  const x = cmd.getChild('x', NS_DATA)!;
  assert.is(x.attrs.type, 'result');
  assert.is(x.getChildText('title'), title);
  const result = x.getChildren('field').find((f) => f.attrs.var === 'result')!;
  assert.is(result.attrs.type, 'fixed');
  assert.is(result.getChildText('value'), 'Success');
}

function assertError(iq: Element, condition: string, type: string, text?: string | RegExp): void {
  assert.is(iq.attrs.type, 'error', iq.toString());
  assert.is(errorCondition(iq), condition, iq.toString());
  assert.is(iq.getChild('error')!.attrs.type, type, iq.toString());
  assert.ok(errorText(iq).length > 0, 'every error carries a human text');
  if (text !== undefined) assert.match(errorText(iq), text);
}

async function history(user: User, fields: Record<string, string>, to = `${METERS}/proxy`) {
  const iq = await command(user, to, 'get_history', { fields });
  const cmd = commandOf(iq);
  assertSuccess(cmd, 'Get history');
  return { iq, cmd, blocks: decodeQuoalise(cmd.getChild('quoalise', NS_QUOALISE)!) };
}

test('disco: data apps advertise Quoalise; its commands are listed only to requesters with a grant', async ({ alice, mallory }) => {
  const info = await alice.iq(METERS, 'get', alice.xml('query', { xmlns: NS_INFO }));
  for (const f of [NS_COMMANDS, NS_QUOALISE]) assert.ok(features(info).includes(f), f);
  const items = async (user: User, jid: string) =>
    (await user.iq(jid, 'get', user.xml('query', { xmlns: NS_ITEMS, node: NS_COMMANDS }))).getChild('query', NS_ITEMS)!.getChildren('item').map((i) => [i.attrs.jid, i.attrs.node, i.attrs.name]);
  assert.equal(await items(alice, `${METERS}/proxy`), [
    [`${METERS}/proxy`, 'get_history', 'Get history'],
    [`${METERS}/proxy`, 'subscribe', 'Subscribe'],
    [`${METERS}/proxy`, 'unsubscribe', 'Unsubscribe'],
    [`${METERS}/proxy`, 'list_series', 'List series'],
    ...ASK.map(([node, name]) => [`${METERS}/proxy`, node, name]),
  ]);
  assert.equal(await items(mallory, METERS), ASK.map(([node, name]) => [METERS, node, name]), 'no grant: only the commands to ask for one');
  assert.equal(await items(alice, `chat@${DOMAIN}`), [], 'an app that serves no data offers no command');
  assert.not.ok(features(await alice.iq(`chat@${DOMAIN}`, 'get', alice.xml('query', { xmlns: NS_INFO }))).includes(NS_QUOALISE));
  const node = (await alice.iq(METERS, 'get', alice.xml('query', { xmlns: NS_INFO, node: 'get_history' }))).getChild('query', NS_INFO)!;
  assert.equal([node.getChild('identity')?.attrs.category, node.getChild('identity')?.attrs.type], ['automation', 'command-node']);
});

test('get_history with the form in the first execute: the data exactly as stored', async ({ alice }) => {
  const { iq, cmd, blocks } = await history(alice, { identifier: A, start_time: '2024-01-01T00:00:00+01:00', end_time: '2024-01-01T02:00:00+01:00' });
  assert.is(iq.attrs.from, `${METERS}/proxy`, 'answered from the exact JID addressed');
  assert.is(cmd.attrs.node, 'get_history');
  const w = (time: number, value: number) => ({ name: A, time, value, unit: 'W' });
  assert.equal(blocks, [{ meta: META_A, records: [w(T0, 342), w(T0 + 1800, 0), w(T0 + 3600, 351.5), w(T0 + 5400, 360)] }]);
  // The writer habit of quoalise.md, byte for byte on the first records.
  const senml = cmd.getChild('quoalise', NS_QUOALISE)!.getChild('data')!.getChild('sensml', NS_SENML)!.getChildren('senml');
  assert.equal(senml[0]!.attrs, { bn: A, bt: String(T0), bu: 'W', v: '342' });
  assert.equal(senml[1]!.attrs, { t: '1800', v: '0' });

  // A string value, a fractional time, units per record, no metadata (an empty meta).
  const z = await history(alice, { identifier: Z, start_time: '2024-01-01T00:00:00+01:00', end_time: '2024-01-02T00:00:00+01:00' });
  assert.equal(z.blocks, [{ meta: {}, records: [{ name: Z, time: T0 + 0.5, stringValue: 'door open' }, { name: Z, time: T0 + 60, value: 7.25, unit: 'Cel' }] }]);
});

test('ranges are half-open [start, end); older clients may give days', async ({ alice }) => {
  const times = async (fields: Record<string, string>) => (await history(alice, { identifier: A, ...fields })).blocks[0]!.records.map((r) => r.time - T0);
  assert.equal(await times({ start_time: '2024-01-01T00:30:00+01:00', end_time: '2024-01-01T01:30:00+01:00' }), [1800, 3600]);
  assert.equal(await times({ start_time: '2023-12-31T23:30:00Z', end_time: '2024-01-01T00:30:00Z' }), [1800, 3600], 'the same instants with another offset');
  assert.equal(await times({ start_date: '2024-01-01', end_date: '2024-01-02' }), [0, 1800, 3600, 5400], 'days in French local time');
  assert.equal(await times({ end_time: '2024-01-01T01:00:00+01:00' }), [0, 1800], 'no start: from the first record');
  // A range without records still carries one data with its meta (the reference client requires it).
  const empty = await history(alice, { identifier: A, start_time: '2025-01-01T00:00:00Z', end_time: '2025-01-02T00:00:00Z' });
  assert.equal(empty.blocks, [{ meta: META_A, records: [] }]);
});

test('get_history in two steps; cancel; unknown or foreign sessions', async ({ alice, bob }) => {
  const first = commandOf(await command(alice, METERS, 'get_history'));
  assert.is(first.attrs.status, 'executing');
  const sessionid = first.attrs.sessionid!;
  assert.ok(sessionid);
  assert.is(first.getChild('actions')?.attrs.execute, 'complete');
  const form = first.getChild('x', NS_DATA)!;
  assert.is(form.attrs.type, 'form');
  const fields = new Map(form.getChildren('field').map((f) => [f.attrs.var, f]));
  assert.equal([...fields.keys()], ['identifier', 'start_time', 'end_time']);
  assert.ok(fields.get('identifier')!.getChild('required'));
  assert.match(fields.get('start_time')!.getChildText('desc') ?? '', 'half-open [start, end)');
  assert.match(fields.get('end_time')!.getChildText('value') ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, 'defaults carry an offset');

  const done = commandOf(await command(alice, METERS, 'get_history', { action: 'complete', sessionid, fields: { identifier: A, start_time: '2024-01-01T00:00:00+01:00', end_time: '2024-01-01T01:00:00+01:00' } }));
  assertSuccess(done, 'Get history');
  assert.is(done.attrs.sessionid, sessionid);
  assert.is(decodeQuoalise(done.getChild('quoalise', NS_QUOALISE)!)[0]!.records.length, 2);
  // The session ended with its answer.
  assertError(await command(alice, METERS, 'get_history', { sessionid, fields: { identifier: A } }), 'bad-request', 'modify', sessionid);

  const second = commandOf(await command(alice, METERS, 'get_history')).attrs.sessionid!;
  assertError(await command(bob, METERS, 'get_history', { sessionid: second, fields: { identifier: C } }), 'bad-request', 'modify', 'no open session');
  const canceled = commandOf(await command(alice, METERS, 'get_history', { action: 'cancel', sessionid: second }));
  assert.equal([canceled.attrs.status, canceled.attrs.sessionid], ['canceled', second]);
  assertError(await command(alice, METERS, 'get_history', { sessionid: second, fields: { identifier: A } }), 'bad-request', 'modify');
  const unknown = await command(alice, METERS, 'get_history', { sessionid: 'no-such-session', fields: { identifier: A } });
  assertError(unknown, 'bad-request', 'modify');
  assert.ok(unknown.getChild('error')!.getChild('bad-sessionid', NS_COMMANDS), 'XEP-0050 bad-sessionid');
});

test('subscribe / unsubscribe: result form only, idempotent, the subscription stored as a consumer', async ({ alice, fg }) => {
  const subscriptions = () => query<{ id: number; source: string; series: string; destination: string; kind: string; schedule: string; cursor: string }>(fg, "SELECT * FROM consumers WHERE kind = 'subscription'");
  const sub = commandOf(await command(alice, `${METERS}/proxy`, 'subscribe', { fields: { identifier: A } }));
  assertSuccess(sub, 'Subscribe');
  assert.is(sub.getChild('quoalise', NS_QUOALISE), undefined, 'no data in a subscribe answer');
  const [row] = subscriptions();
  assert.equal([row?.source, row?.series, row?.destination, row?.kind, row?.schedule], [METERS, A, 'alice@localhost', 'subscription', 'on-change']);
  assert.is(row!.cursor, String(storeScalar(fg, 'SELECT seq FROM store_sequence')), 'starts at the current end: only new records are pushed');

  assertSuccess(commandOf(await command(alice, METERS, 'subscribe', { fields: { identifier: A } })), 'Subscribe');
  assert.equal(subscriptions().map((r) => r.id), [row!.id], 'subscribing twice keeps one subscription');

  // The two-step flow works for subscribe too.
  const step = commandOf(await command(alice, METERS, 'subscribe'));
  assert.is(step.attrs.status, 'executing');
  assertSuccess(commandOf(await command(alice, METERS, 'subscribe', { sessionid: step.attrs.sessionid!, fields: { identifier: Z } })), 'Subscribe');
  assert.is(subscriptions().length, 2);

  for (const series of [A, Z]) {
    const unsub = commandOf(await command(alice, METERS, 'unsubscribe', { fields: { identifier: series } }));
    assertSuccess(unsub, 'Unsubscribe');
  }
  assert.equal(subscriptions(), []);
  assertSuccess(commandOf(await command(alice, METERS, 'unsubscribe', { fields: { identifier: A } })), 'Unsubscribe');
});

test('list_series: the series the requester may read, with metadata and time span', async ({ alice, bob }) => {
  const catalogue = async (user: User) => {
    const cmd = commandOf(await command(user, METERS, 'list_series'));
    assertSuccess(cmd, 'List series');
    return cmd
      .getChild('quoalise', NS_QUOALISE)!
      .getChildren('series')
      .map((s) => ({ identifier: s.attrs.identifier, first: s.attrs.first, last: s.attrs.last, count: s.attrs.count, meta: s.getChild('meta')?.toString() }));
  };
  // Attribute order carries no meaning in XML, and servers do not keep it (Prosody reorders them).
  const canonical = (el: Element, root = true): string => {
    const attrs = Object.entries(el.attrs)
      .filter(([k]) => !(root && k === 'xmlns'))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => ` ${k}="${v}"`)
      .join('');
    const children = el.getChildElements().map((c) => canonical(c, false)).join('');
    return `<${el.name}${attrs}${children ? `>${children}</${el.name}>` : '/>'}`;
  };
  const meta = (m: string) => canonical(parseXml(m));
  const forAlice = await catalogue(alice);
  assert.equal(forAlice.map((s) => [s.identifier, s.first, s.last, s.count]), [
    [Z, '2023-12-31T23:00:00.5Z', '2023-12-31T23:01:00Z', '2'],
    [DENSE, '2023-12-31T23:00:00Z', '2024-01-01T08:30:00Z', '20'],
    [A, '2023-12-31T23:00:00Z', '2024-01-01T00:30:00Z', '4'],
  ]);
  assert.is(
    meta(forAlice[2]!.meta!),
    meta('<meta><device type="electricity-meter"><identifier authority="enedis" type="prm" value="30000000000001"/></device><measurement name="active-power" direction="consumption" quantity="power" type="electrical" unit="W" aggregation="mean" sampling-interval="PT30M"/></meta>'),
  );
  assert.equal((await catalogue(bob)).map((s) => [s.identifier, s.count]), [[C, '2']]);
});

test('errors, by condition and type, each with a text', async ({ alice }) => {
  const h = (fields: Record<string, string>, to = METERS) => command(alice, to, 'get_history', { fields });
  const range = { start_time: '2024-01-01T00:00:00+01:00', end_time: '2024-01-02T00:00:00+01:00' };
  assertError(await h({ identifier: 'urn:dev:prm:123_consumption/power/active/raw' }), 'bad-request', 'modify', '14 digits');
  assertError(await h({ start_time: range.start_time }), 'bad-request', 'modify', 'identifier field is required');
  assertError(await h({ identifier: A, start_time: '2024-01-01T00:00:00', end_time: range.end_time }), 'bad-request', 'modify', 'no UTC offset');
  assertError(await h({ identifier: A, start_time: range.end_time, end_time: range.start_time }), 'bad-request', 'modify', 'the range is empty');
  assertError(await h({ identifier: DENSE, ...range }), 'bad-request', 'modify', 'narrow the range: at most 10 records per request; this range holds more');
  assertError(await h({ identifier: 'urn:dev:prm:30000000000001_production/power/active/raw', ...range }), 'item-not-found', 'cancel');
  assertError(await h({ identifier: C, ...range }), 'not-authorized', 'cancel', 'no grant covers this series');
  assertError(await command(alice, METERS, 'subscribe', { fields: { identifier: C } }), 'not-authorized', 'cancel');
  assertError(await command(alice, METERS, 'frobnicate'), 'item-not-found', 'cancel');
  assertError(await h({ identifier: A }, `chat@${DOMAIN}`), 'feature-not-implemented', 'cancel');

  const upstream = await h({ identifier: A, ...range }, `down@${DOMAIN}`);
  assertError(upstream, 'undefined-condition', 'cancel', 'restoring a backup');
  const detail = upstream.getChild('error')!.getChild('upstream-error', NS_QUOALISE);
  assert.equal([detail?.attrs.issuer, detail?.attrs.code], ['down', 'maintenance']);
});

test('a requester without any grant gets not-authorized for all four commands', async ({ mallory }) => {
  for (const node of ['get_history', 'subscribe', 'unsubscribe', 'list_series']) {
    assertError(await command(mallory, METERS, node, { fields: { identifier: A } }), 'not-authorized', 'cancel');
    assertError(await command(mallory, METERS, node), 'not-authorized', 'cancel', 'mallory@localhost');
  }
});

test('past requests_per_second a requester gets resource-constraint (wait)', async ({ alice }) => {
  const answers = await Promise.all(Array.from({ length: 5 }, () => command(alice, `meters@${SLOW}`, 'list_series')));
  assert.is(answers[0]!.attrs.type, 'result', answers[0]!.toString());
  const refused = answers.filter((a) => a.attrs.type === 'error');
  assert.ok(refused.length > 0, 'five requests at once, one allowed per second');
  for (const r of refused) assertError(r, 'resource-constraint', 'wait', 'at most 1 per second');
});

test.run();
