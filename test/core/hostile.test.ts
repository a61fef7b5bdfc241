/**
 * Hostile peers on a real ejabberd: every table, queue or session a remote party can grow has a limit
 * per party, each refusal a clear XMPP error; an app never answers its own domain; an honest client
 * reading series one after the other never meets the rate limit, a flood from one domain does.
 * The remote parties are bare xmpp.js components (not our code) that may use any JID of their domain.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer, xml, type Element } from '../helpers/peer.js';
import { errorCondition, errorText } from '../helpers/inbox.js';
import { query, scalar, until } from '../helpers/db.js';
import { MAX_HELD_CALLS, MAX_HELD_CALLS_PER_PARTY } from '../../component/apps/app-host.js';
import { MAX_REQUESTS_PER_SOURCE_PER_DAY, REPEATS_BURST } from '../../component/gdpr/control-intake.js';

const GW = 'gw.localhost';
const CROWD = 'crowd.localhost';
const HONEST = 'honest.localhost';
/** A server that checks what its users send, but reads their names with its own nameprep. */
const EVIL = 'evil.localhost';
const METERS = `meters@${GW}`;
const S = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
/** Two more series of meters: its catalogue is three series, two to a page. */
const S2 = 'urn:dev:prm:30000000000002_consumption/power/active/raw';
const S3 = 'urn:dev:prm:30000000000003_consumption/power/active/raw';
/** A series whose whole history is an answer larger than the server accepts (link.max_stanza_bytes here). */
const LONG = 'urn:dev:prm:30000000000004_consumption/power/active/raw';
const NS_COMMANDS = 'http://jabber.org/protocol/commands';

interface Ctx {
  ejabberd: Ejabberd;
  fg: Fedgate;
  crowd: Peer;
  honest: Peer;
  evil: Peer;
}
const test = suite<Ctx>('hostile peers');

test.before(async (ctx) => {
  // The crowd's server does not check what it sends: it can forge addresses, our own domain's included.
  ctx.ejabberd = await Ejabberd.start({ components: [GW, CROWD, HONEST, EVIL].map((domain) => ({ domain, secret: `${domain}-secret`, checkFrom: domain !== CROWD })) });
  const port = (domain: string) => ctx.ejabberd.componentPort(domain);
  ctx.fg = new Fedgate({
    port: port(GW),
    domain: GW,
    secret: `${GW}-secret`,
    logLevel: 'debug',
    link: { max_inbound_stanza_bytes: 1_048_576, max_stanza_bytes: 65_536 },
    extraYaml:
      'presence:\n  max_subscribers_per_domain: 3\n' +
      'quoalise:\n  max_catalogue_series: 2\n  domain_requests_per_second: 5\n  domain_request_burst: 60\n  max_subscriptions_per_requester: 2\n  max_subscriptions_per_domain: 3\n  max_sessions_per_requester: 2\n',
  });
  const fg = ctx.fg;
  await fg.must('app', 'add', 'meters', '--kind', 'store');
  await fg.must('app', 'add', 'echo', '--kind', 'echo');
  // An app whose adapter cannot start: its secret file is gone (it retries with backoff meanwhile).
  const secret = join(fg.dir, 'pg-password');
  writeFileSync(secret, 'pw\n');
  await fg.must('app', 'add', 'down', '--kind', 'sql', '--option', 'port=1', '--option', 'database=x', '--option', 'user=x', '--option', `password_file=${secret}`, '--option', 'history_query=SELECT 1');
  rmSync(secret);
  const csv = join(fg.dir, 'd.csv');
  writeFileSync(csv, `identifier,time,value,unit\n${Array.from({ length: 48 }, (_, i) => `${S},${1704063600 + i * 1800},${i},W`).join('\n')}\n${S2},1704063600,1,W\n${S3},1704063600,1,W\n${Array.from({ length: 3000 }, (_, i) => `${LONG},${1704063600 + i * 60},${i},W`).join('\n')}\n`);
  await fg.must('store', 'import', 'meters', csv);
  for (const who of [`*@${CROWD}`, `*@${HONEST}`]) await fg.must('grant', 'add', 'meters', who, 'urn:dev:prm:*');
  // A source of meters' data in the crowd's domain: it may ask for the erasure of what it sent.
  await fg.must('consumer', 'add', '--source', `feeder@${CROWD}`, '--destination', 'meters', '--series', '*', '--schedule', 'none');
  fg.start();
  await fg.waitOnline();
  // It answers disco#info as any XMPP entity must (a gateway keeping a log asks a sender's domain whether it signs).
  ctx.crowd = (await Peer.connect(port(CROWD), CROWD, `${CROWD}-secret`)).answerDisco();
  ctx.honest = await Peer.connect(port(HONEST), HONEST, `${HONEST}-secret`);
  ctx.evil = await Peer.connect(port(EVIL), EVIL, `${EVIL}-secret`);
  await until(async () => (await command(ctx.honest, 'list_series', {}, `alice@${HONEST}/r`)).attrs.type === 'result', 10_000, () => 'meters not ready');
});

test.after(async (ctx) => {
  await ctx.crowd?.close();
  await ctx.honest?.close();
  await ctx.evil?.close();
  await ctx.fg?.stop();
  ctx.fg?.cleanup();
  await ctx.ejabberd?.stop();
});

function command(peer: Peer, node: string, fields: Record<string, string>, from: string, opts: { sessionid?: string; action?: string } = {}): Promise<Element> {
  const cmd = xml('command', { xmlns: NS_COMMANDS, node, action: opts.action ?? 'execute', sessionid: opts.sessionid });
  if (Object.keys(fields).length) {
    cmd.append(xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, ...Object.entries(fields).map(([k, v]) => xml('field', { var: k }, xml('value', {}, v)))));
  }
  return peer.iq(METERS, 'set', cmd, { from });
}

test('a sender spelled so that its string ends in a granted domain is judged by the JID the server read; one we cannot read is nobody', async ({ fg, crowd, evil }) => {
  const history = (peer: Peer, from: string) => command(peer, 'get_history', { identifier: S, start_time: '2024-01-01T00:00:00Z', end_time: '2024-01-02T00:00:00Z' }, from);
  // evil.localhost's server reads `evil\u2024localhost` (a one dot leader) as its own name and forwards it
  // as written. evil.localhost has no grant; its resource, ending in @honest.localhost, makes it nobody else.
  const dotLeader = await history(evil, `eve@evil\u2024localhost/x@${HONEST}`);
  assert.is(dotLeader.attrs.type, 'error');
  assert.is(errorCondition(dotLeader), 'not-authorized');
  assert.match(errorText(dotLeader), 'eve@evil.localhost');
  assert.is((await history(evil, `eve@${EVIL}/x@${HONEST}`)).attrs.type, 'error', 'evil.localhost under its own name');
  // Not a JID for us (a label opening with a combining mark): nobody at all — not stored as a presence
  // subscriber, where its raw string would be one more party. The unsubscribe behind it is answered
  // in order: once its answer is here, the first presence was handled.
  crowd.send(xml('presence', { to: `echo@${GW}`, from: `u@\u0301x.example/x@${HONEST}`, type: 'subscribe' }));
  crowd.send(xml('presence', { to: `echo@${GW}`, from: `sentinel@${CROWD}`, type: 'unsubscribe' }));
  await crowd.waitFor((el) => el.name === 'presence' && el.attrs.to === `sentinel@${CROWD}` && el.attrs.type === 'unsubscribed');
  assert.is(scalar(fg, 'SELECT count(*) FROM presence_subscribers'), 0);
});

test('presence subscriptions: at most max_subscribers_per_domain per remote domain, however it spells its name, refused with policy-violation', async ({ fg, crowd, honest }) => {
  // A server maps a soft hyphen, full-width or capital letters back to its own name, and forwards the
  // string as written: the same domain, the same party.
  const spellings = [CROWD, `c\u00ad${CROWD.slice(1)}`, CROWD.toUpperCase(), `ｃｒｏｗｄ${CROWD.slice(5)}`, `c\u200browd${CROWD.slice(5)}`];
  for (let i = 0; i < 5; i++) crowd.send(xml('presence', { to: `echo@${GW}`, from: `u${i}@${spellings[i]}`, type: 'subscribe' }));
  const answers = await Promise.all(
    Array.from({ length: 5 }, (_, i) => crowd.waitFor((el) => el.name === 'presence' && el.attrs.to?.startsWith(`u${i}@`) === true && (el.attrs.type === 'subscribed' || el.attrs.type === 'error'))),
  );
  assert.equal(answers.map((a) => a.attrs.type), ['subscribed', 'subscribed', 'subscribed', 'error', 'error']);
  assert.is(errorCondition(answers[3]!), 'policy-violation');
  assert.match(errorText(answers[3]!), CROWD);
  // Another domain is not affected.
  honest.send(xml('presence', { to: `echo@${GW}`, from: `v@${HONEST}`, type: 'subscribe' }));
  await honest.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribed');
  await until(() => scalar(fg, 'SELECT count(*) FROM presence_subscribers') === 4, 5000, () => 'subscriptions not recorded');
});

test('subscribe: an unknown series is item-not-found; a requester holds at most max_subscriptions_per_requester', async ({ fg, crowd }) => {
  const who = `sub@${CROWD}/r`;
  const missing = await command(crowd, 'subscribe', { identifier: 'urn:dev:prm:39999999999999_consumption/power/active/raw' }, who);
  assert.is(errorCondition(missing), 'item-not-found');
  assert.is(scalar(fg, "SELECT count(*) FROM consumers WHERE kind = 'subscription'"), 0, 'nothing recorded');
  const other = 'urn:dev:prm:30000000000001_consumption/energy/active/index';
  const third = 'urn:dev:prm:30000000000001_production/power/active/raw';
  const csv = join(fg.dir, 'more.csv');
  writeFileSync(csv, `identifier,time,value,unit\n${other},1704063600,1,Wh\n${third},1704063600,1,W\n`);
  await fg.must('store', 'import', 'meters', csv);
  for (const s of [S, other]) assert.is((await command(crowd, 'subscribe', { identifier: s }, who)).attrs.type, 'result');
  const over = await command(crowd, 'subscribe', { identifier: third }, who);
  assert.is(errorCondition(over), 'policy-violation');
  assert.match(errorText(over), 'unsubscribe');
  assert.is((await command(crowd, 'subscribe', { identifier: S }, who)).attrs.type, 'result', 'subscribing again is still Success');
  // Another JID of the same domain: the domain's third is accepted, its fourth refused.
  assert.is((await command(crowd, 'subscribe', { identifier: S }, `sub2@${CROWD}/r`)).attrs.type, 'result');
  const domainFull = await command(crowd, 'subscribe', { identifier: other }, `sub2@${CROWD}/r`);
  assert.is(errorCondition(domainFull), 'policy-violation');
  assert.match(errorText(domainFull), `the requesters of ${CROWD} hold 3 subscriptions`);
});

test('subscribe: a burst from many JIDs of one domain, all sent at once, stops at max_subscriptions_per_domain', async ({ fg, honest }) => {
  const from = Array.from({ length: 8 }, (_, i) => `burst${i}@${HONEST}/r`);
  const answers = await Promise.all(from.map((who) => command(honest, 'subscribe', { identifier: S }, who)));
  assert.is(answers.filter((a) => a.attrs.type === 'result').length, 3);
  for (const a of answers.filter((a) => a.attrs.type !== 'result')) assert.is(errorCondition(a), 'policy-violation');
  assert.is(scalar(fg, `SELECT count(*) FROM consumers WHERE kind = 'subscription' AND destination LIKE '%@${HONEST}'`), 3);
  for (const who of from) await command(honest, 'unsubscribe', { identifier: S }, who);
  assert.is(scalar(fg, `SELECT count(*) FROM consumers WHERE kind = 'subscription' AND destination LIKE '%@${HONEST}'`), 0);
});

test('two-step sessions: a requester opening many closes only its own oldest', async ({ crowd, honest }) => {
  const open = async (peer: Peer, from: string) => (await command(peer, 'get_history', {}, from)).getChild('command', NS_COMMANDS)!.attrs.sessionid!;
  const theirs = await open(honest, `alice@${HONEST}/r`);
  const mine = [await open(crowd, `flood@${CROWD}/r`), await open(crowd, `flood@${CROWD}/r`), await open(crowd, `flood@${CROWD}/r`)];
  const submit = (peer: Peer, from: string, sessionid: string) => command(peer, 'get_history', { identifier: S }, from, { sessionid, action: 'complete' });
  assert.is(errorCondition(await submit(crowd, `flood@${CROWD}/r`, mine[0]!)), 'bad-request', 'the oldest of the flood is gone');
  assert.is((await submit(crowd, `flood@${CROWD}/r`, mine[2]!)).attrs.type, 'result');
  assert.is((await submit(honest, `alice@${HONEST}/r`, theirs)).attrs.type, 'result', 'someone else’s session survives');
});

test('a stanza of more acknowledgements than any window holds is ignored, with one warning', async ({ fg, crowd }) => {
  const instance = scalar<string>(fg, "SELECT value FROM settings WHERE name = 'instance'");
  const acks = Array.from({ length: 20_001 }, (_, i) => `<ack id="fg${instance}-${i + 1}"/>`).join('');
  await crowd.conn.write(`<message to="meters@${GW}" from="flood@${CROWD}/r" id="acks-flood"><acks xmlns="urn:fedgate:delivery:0">${acks}</acks></message>`);
  await until(() => fg.stderr.includes('ignored acknowledgement stanzas of more than 20000 acks'), 10_000, () => fg.stderr.slice(-1500));
  crowd.send(xml('message', { to: `echo@${GW}`, from: `x@${CROWD}/r`, type: 'chat', id: 'after-acks' }, xml('body', {}, 'still there?')));
  assert.is((await crowd.waitFor((el) => el.attrs.id === 'after-acks-r')).getChildText('body'), 'still there?');
});

test('an erasure request repeated by its source: acknowledged (and logged) up to a burst, then refused with resource-constraint', async ({ fg, crowd }) => {
  const erase = (n: number) =>
    xml('message', { from: `feeder@${CROWD}/r`, to: METERS, id: `erase-${n}` },
      xml('erase', { xmlns: 'urn:fedgate:gdpr:0', request: 'rq-1' }, xml('series', {}, S), xml('reason', {}, 'moved out')),
      xml('request', { xmlns: 'urn:xmpp:receipts' }));
  const outcome = async (n: number) => {
    crowd.send(erase(n));
    return crowd.waitFor((el) => (el.attrs.id === `erase-${n}` && el.attrs.type === 'error') || el.getChild('received', 'urn:xmpp:receipts')?.attrs.id === `erase-${n}`, 10_000);
  };
  // The request, then REPEATS_BURST retransmissions: each acknowledged.
  for (let n = 0; n <= REPEATS_BURST; n++) assert.is((await outcome(n)).attrs.type, undefined, `erase-${n} acknowledged`);
  const refused = await outcome(REPEATS_BURST + 1);
  assert.is(errorCondition(refused), 'resource-constraint');
  assert.match(errorText(refused), 'repeats its requests too often');
  const logged = JSON.parse(await fg.must('audit', 'list', '--json', '--kind', 'gdpr.erasure.received')) as unknown[];
  assert.is(logged.length, REPEATS_BURST + 1);
});

test('erasure requests of one source to one app: at most MAX_REQUESTS_PER_SOURCE_PER_DAY in 24 hours, then resource-constraint', async ({ fg, crowd }) => {
  const source = `feeder@${CROWD}`;
  // The day's earlier requests (already applied), and older ones that no longer count: written as the
  // intake would have, so that the test does not send a thousand.
  const now = Date.now();
  const already = scalar(fg, "SELECT count(*) FROM gdpr_erasures_received WHERE app = 'meters' AND sender = ?", source);
  const db = new Database(join(fg.dir, 'fedgate.sqlite'));
  try {
    db.pragma('busy_timeout = 5000');
    const seed = db.prepare("INSERT INTO gdpr_erasures_received (app, sender, request, series, received_at, applied_at, records, complete) VALUES ('meters', ?, ?, '[]', ?, ?, 0, 1)");
    db.transaction(() => {
      for (let i = 0; i < 5; i++) seed.run(source, `old-${i}`, now - 25 * 3_600_000, now - 25 * 3_600_000);
      for (let i = already; i < MAX_REQUESTS_PER_SOURCE_PER_DAY - 1; i++) seed.run(source, `day-${i}`, now - 3_600_000, now - 3_600_000);
    })();
  } finally {
    db.close();
  }
  const outcome = async (request: string) => {
    crowd.send(xml('message', { from: `${source}/r`, to: METERS, id: request }, xml('erase', { xmlns: 'urn:fedgate:gdpr:0', request }, xml('series', {}, S)), xml('request', { xmlns: 'urn:xmpp:receipts' })));
    return crowd.waitFor((el) => (el.attrs.id === request && el.attrs.type === 'error') || el.getChild('received', 'urn:xmpp:receipts')?.attrs.id === request, 10_000);
  };
  assert.is((await outcome('rq-last-of-day')).attrs.type, undefined, `the ${MAX_REQUESTS_PER_SOURCE_PER_DAY}th of the day is acknowledged`);
  const refused = await outcome('rq-one-too-many');
  assert.is(errorCondition(refused), 'resource-constraint');
  assert.match(errorText(refused), `made ${MAX_REQUESTS_PER_SOURCE_PER_DAY} erasure requests to ${METERS} in the last 24 hours`);
  assert.is(scalar(fg, "SELECT count(*) FROM gdpr_erasures_received WHERE request = 'rq-one-too-many'"), 0, 'nothing stored');
});

test('a stanza larger than link.max_inbound_stanza_bytes is not handled but answered policy-violation; the gateway goes on', async ({ fg, crowd }) => {
  const filler = '<a/>'.repeat(400_000); // 1.6 MB of tiny elements: ~100 MB as a tree, had it been built
  await crowd.conn.write(`<message to="${METERS}" from="stranger@${CROWD}/r" id="huge-msg" type="chat"><body>hi</body>${filler}</message>`);
  await crowd.conn.write(`<iq to="${METERS}" from="stranger@${CROWD}/r" id="huge-iq" type="get"><query xmlns="http://jabber.org/protocol/disco#info">${filler}</query></iq>`);
  for (const id of ['huge-msg', 'huge-iq']) {
    const refused = await crowd.waitFor((el) => el.attrs.id === id && el.attrs.type === 'error', 20_000);
    assert.is(errorCondition(refused), 'policy-violation');
    assert.match(errorText(refused), 'larger than 1048576 bytes');
  }
  const pong = await crowd.iq(METERS, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }), { from: `stranger@${CROWD}/r` });
  assert.is(pong.attrs.type, 'result', 'the link is still up');
  await until(() => fg.stderr.includes('refused stanzas: the stanza is larger than 1048576 bytes'), 5000, () => fg.stderr.slice(-1500));
});

test('an app never answers a chat from its own domain (a forged from would make it answer itself forever)', async ({ fg, crowd }) => {
  crowd.send(xml('message', { to: `echo@${GW}`, from: `echo@${GW}/loop`, type: 'chat', id: 'self' }, xml('body', {}, 'hello me')));
  crowd.send(xml('message', { to: `echo@${GW}`, from: `x@${CROWD}/r`, type: 'chat', id: 'other' }, xml('body', {}, 'hello')));
  assert.is((await crowd.waitFor((el) => el.attrs.id === 'other-r')).getChildText('body'), 'hello');
  await until(() => fg.stderr.includes('not answering a chat from our own domain'), 5000, () => fg.stderr.slice(-1500));
  assert.is((fg.stderr.match(/not answering a chat from our own domain/g) ?? []).length, 1, 'answered once, not in a loop');
});

test('chats to an app that cannot start are held up to a limit per party and in all, the rest refused at once with resource-constraint', async ({ fg, crowd, honest }) => {
  const chat = (from: string, id: string, peer = crowd) => peer.send(xml('message', { to: `down@${GW}`, from, type: 'chat', id }, xml('body', {}, 'hello')));
  const refusal = async (id: string, peer = crowd) => {
    const refused = await peer.waitFor((el) => el.attrs.id === id && el.attrs.type === 'error', 10_000);
    assert.is(errorCondition(refused), 'resource-constraint');
    return errorText(refused);
  };
  // One domain, many JIDs: it takes its share of the held calls, no more.
  for (let i = 0; i < MAX_HELD_CALLS_PER_PARTY + 2; i++) chat(`c${i % 50}@${CROWD}/r`, `held-${i}`);
  for (const i of [MAX_HELD_CALLS_PER_PARTY, MAX_HELD_CALLS_PER_PARTY + 1]) {
    assert.match(await refusal(`held-${i}`), `already holds ${MAX_HELD_CALLS_PER_PARTY} requests from ${CROWD}`);
  }
  // Other domains are still held, until the app's own limit (the crowd's server forges their addresses;
  // the answers to those go nowhere, so the last word is an honest domain's).
  const others = MAX_HELD_CALLS / MAX_HELD_CALLS_PER_PARTY - 1;
  for (let d = 0; d < others; d++) for (let i = 0; i < MAX_HELD_CALLS_PER_PARTY; i++) chat(`c${i}@p${d}.${CROWD}/r`, `other-${d}-${i}`);
  // A refusal to the crowd says that every chat it sent before was handled.
  chat(`c0@${CROWD}/r`, 'sync');
  assert.match(await refusal('sync'), 'already holds');
  chat(`late@${HONEST}/r`, 'late', honest);
  assert.match(await refusal('late', honest), `is starting and already holds ${MAX_HELD_CALLS} requests`);
  // The first ones are held (they end with the call time-out, 30 s by default), not refused.
  for (const id of ['held-0', `held-${MAX_HELD_CALLS_PER_PARTY - 1}`, 'other-0-0', `other-${others - 1}-${MAX_HELD_CALLS_PER_PARTY - 1}`]) {
    assert.is(crowd.inbox.matching((el) => el.attrs.id === id).length, 0, `${id} is held`);
  }
  assert.match(fg.stderr, 'adapter failed to start');
});

test('a consent command to an app that is still starting is answered wait, not that it has no such command', async ({ honest }) => {
  // Its capabilities are unknown until its adapter starts: the consent nodes are not known as such yet.
  for (const node of ['my_data', 'request_access', 'no_such_node']) {
    const cmd = xml('command', { xmlns: NS_COMMANDS, node, action: 'execute' });
    const a = await honest.iq(`down@${GW}`, 'set', cmd, { from: `alice@${HONEST}/r` });
    assert.is(errorCondition(a), 'service-unavailable', node);
    assert.is(a.getChild('error')?.attrs.type, 'wait', node);
    assert.match(errorText(a), `down@${GW} is starting`);
  }
});

test('an app whose adapter cannot start says why in status (not only in the log)', async ({ fg }) => {
  let out = '';
  await until(async () => (out = (await fg.cli('status')).stdout).includes('down: failed to start:'), 15_000, () => out);
  const view = JSON.parse(await fg.must('status', '--json')) as { apps: Array<{ name: string; state: string; startError: string | null }> };
  const down = view.apps.find((a) => a.name === 'down')!;
  assert.is(down.state, 'starting');
  assert.match(down.startError ?? '', 'pg-password');
  assert.is(view.apps.find((a) => a.name === 'meters')!.startError, null);
});

test('a stanza nesting thousands of elements is refused with policy-violation, and the gateway keeps serving', async ({ crowd }) => {
  const deep = (n: number) => '<x>'.repeat(n) + '</x>'.repeat(n);
  // Written raw: the serialiser of the sending side recurses too.
  await crowd.conn.write(`<message to="echo@${GW}" from="deep@${CROWD}/r" type="chat" id="deep-chat"><body>hi</body>${deep(3000)}</message>`);
  await crowd.conn.write(`<iq to="meters@${GW}" from="deep@${CROWD}/r" type="get" id="deep-iq"><query xmlns="http://jabber.org/protocol/disco#info">${deep(3000)}</query></iq>`);
  for (const id of ['deep-chat', 'deep-iq']) {
    const refused = await crowd.waitFor((el) => el.attrs.id === id && el.attrs.type === 'error', 10_000);
    assert.is(errorCondition(refused), 'policy-violation');
    assert.match(errorText(refused), 'nested deeper than 64 elements');
  }
  crowd.send(xml('message', { to: `echo@${GW}`, from: `x@${CROWD}/r`, type: 'chat', id: 'after-deep' }, xml('body', {}, 'still there?')));
  assert.is((await crowd.waitFor((el) => el.attrs.id === 'after-deep-r')).getChildText('body'), 'still there?');
});

test('an iq get or set without exactly one child element is a bad-request', async ({ crowd }) => {
  await crowd.conn.write(`<iq to="meters@${GW}" from="t@${CROWD}/r" type="get" id="no-child"/>`);
  await crowd.conn.write(`<iq to="meters@${GW}" from="t@${CROWD}/r" type="get" id="two-children"><ping xmlns="urn:xmpp:ping"/><ping xmlns="urn:xmpp:ping"/></iq>`);
  for (const [id, n] of [['no-child', 0], ['two-children', 2]] as const) {
    const bad = await crowd.waitFor((el) => el.attrs.id === id && el.attrs.type === 'error', 10_000);
    assert.is(errorCondition(bad), 'bad-request');
    assert.match(errorText(bad), `exactly one child element, this one holds ${n}`);
  }
});

test('an error quotes little of what the sender wrote: the answer and the log entry of a refusal stay small', async ({ fg, crowd, evil }) => {
  const long = 'z'.repeat(600_000);
  const small = (answer: Element, condition: string) => {
    assert.is(errorCondition(answer), condition);
    assert.ok(answer.toString().length < 2_000, `${answer.toString().length} bytes`);
  };
  // A stranger: an unknown namespace, a command node and an action of 600 KB (600 KB answers would be
  // over Prosody's stanza limit: the link would not send them, and the IQ would get no answer).
  small(await evil.iq(GW, 'get', xml('q', { xmlns: `urn:x:${long}` }), { from: `eve@${EVIL}/x` }), 'service-unavailable');
  small(await evil.iq(METERS, 'set', xml('command', { xmlns: NS_COMMANDS, node: long, action: 'execute' }), { from: `eve@${EVIL}/x` }), 'item-not-found');
  small(await evil.iq(METERS, 'set', xml('command', { xmlns: NS_COMMANDS, node: 'get_history', action: long }), { from: `eve@${EVIL}/x` }), 'bad-request');
  // A grant holder with a made-up sessionid of 600 KB: refused, and the refusal is logged for ever.
  const before = scalar(fg, 'SELECT count(*) FROM trace_entries');
  small(await command(crowd, 'get_history', { identifier: S }, `echo@${CROWD}/r`, { sessionid: long }), 'bad-request');
  await until(() => scalar(fg, 'SELECT count(*) FROM trace_entries') > before, 10_000, () => 'the refusal was not logged');
  assert.ok(scalar(fg, 'SELECT max(length(entry)) FROM trace_entries WHERE idx >= ?', before) < 2_000);
});

test('list_series answers a page at a time (XEP-0059): at most max_catalogue_series whatever max asks, the next page after the last', async ({ honest }) => {
  const NS_RSM = 'http://jabber.org/protocol/rsm';
  const page = (set: Record<string, string> | null) =>
    honest.iq(METERS, 'set', xml('command', { xmlns: NS_COMMANDS, node: 'list_series', action: 'execute' }, ...(set ? [xml('set', { xmlns: NS_RSM }, ...Object.entries(set).map(([k, v]) => xml(k, {}, v)))] : [])), { from: `pager@${HONEST}/r` });
  const catalogue = (answer: Element) => answer.getChild('command', NS_COMMANDS)!.getChild('quoalise', 'urn:quoalise:0')!;
  const ids = (answer: Element) => catalogue(answer).getChildren('series').map((s) => s.attrs.identifier);
  const set = (answer: Element) => {
    const s = catalogue(answer).getChild('set', NS_RSM)!;
    return { first: s.getChildText('first'), index: s.getChild('first')?.attrs.index, last: s.getChildText('last'), count: s.getChildText('count') };
  };
  // Asked as before (no set): the first page, with a set saying that the catalogue holds more.
  const first = await page(null);
  const { count } = set(first);
  assert.is(ids(first).length, 2);
  assert.equal(set(first), { first: ids(first)[0]!, index: '0', last: ids(first)[1]!, count });
  assert.ok(Number(count) >= 3, count!);
  // More than the limit is lowered to it; after the last identifier of a page, the next one: every
  // series once, in identifier order.
  const all = [...ids(first)];
  while (all.length < Number(count)) {
    const next = await page({ max: '1000', after: all[all.length - 1]! });
    assert.ok(ids(next).length >= 1 && ids(next).length <= 2, String(ids(next).length));
    assert.is(set(next).index, String(all.length));
    all.push(...ids(next));
  }
  assert.equal(all, [...new Set(all)].sort());
  for (const s of [S, S2, S3]) assert.ok(all.includes(s), s);
  assert.equal(ids(await page({ after: all[all.length - 1]! })), []);
  // max 0: the count alone (XEP-0059 §2.7).
  const none = await page({ max: '0' });
  assert.equal([ids(none), set(none).count], [[], count]);
  for (const max of ['-1', 'ten', '1e3']) assert.is(errorCondition(await page({ max })), 'bad-request', max);
  assert.is(errorCondition(await page({ after: 'x'.repeat(600) })), 'bad-request');
  assert.is(errorCondition(await page({ before: '' })), 'feature-not-implemented');
});

test('an answer larger than the server accepts is refused, and logged as refused: nothing was disclosed', async ({ fg, honest }) => {
  const before = scalar(fg, 'SELECT count(*) FROM trace_entries');
  const answer = await command(honest, 'get_history', { identifier: LONG }, `bulky@${HONEST}/r`);
  assert.is(errorCondition(answer), 'bad-request');
  assert.match(errorText(answer), 'narrow the range');
  const entries = query<{ entry: string }>(fg, "SELECT entry FROM trace_entries WHERE idx >= ? AND kind = 'access'", before).map((r) => JSON.parse(r.entry) as Record<string, unknown>);
  assert.equal(entries.map((e) => [e.requester, e.series, e.outcome, e.records]), [[`bulky@${HONEST}`, LONG, 'failed', undefined]]);
});

test('a completion without its form is a bad-request and keeps the session for the right one', async ({ crowd }) => {
  const who = `form@${CROWD}/r`;
  const sessionid = (await command(crowd, 'get_history', {}, who)).getChild('command', NS_COMMANDS)!.attrs.sessionid!;
  const early = await command(crowd, 'get_history', {}, who, { sessionid, action: 'complete' });
  assert.is(errorCondition(early), 'bad-request');
  assert.match(errorText(early), 'submit the form');
  const done = await command(crowd, 'get_history', { identifier: S }, who, { sessionid, action: 'complete' });
  assert.is(done.attrs.type, 'result', 'the session was still open for the form');
});

test('an honest client reading 40 series one after the other never meets the rate limit; a flood from one domain does', async ({ crowd, honest }) => {
  for (let i = 0; i < 40; i++) {
    const r = await command(honest, 'get_history', { identifier: S, start_time: '2024-01-01T00:00:00+01:00', end_time: '2024-01-02T00:00:00+01:00' }, `alice@${HONEST}/r`);
    assert.is(r.attrs.type, 'result', `request ${i}: ${errorText(r)}`);
  }
  // Many accounts of one domain at once: each account is under its own limit, the domain is not.
  const answers = await Promise.all(Array.from({ length: 80 }, (_, i) => command(crowd, 'list_series', {}, `bot${i}@${CROWD}/r`)));
  const refused = answers.filter((a) => errorCondition(a) === 'resource-constraint');
  assert.ok(refused.length > 0, 'no refusal for a flood of 80 requests');
  assert.match(errorText(refused[0]!), CROWD);
  assert.is(refused[0]!.getChild('error')?.attrs.type, 'wait');
});

test.run();
