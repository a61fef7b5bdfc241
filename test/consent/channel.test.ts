/**
 * The consent channel end to end, with real client accounts on a scratch ejabberd: bob asks for a
 * household's series from his client; alice — the person they are about — is told, lists, approves
 * for a shorter time from hers; bob reads and subscribes; alice withdraws: bob's subscription stops, the
 * data queued for him is never sent, his next request is refused, he is told. Expiry does the same at
 * `until`. Automatic rules approve and refuse; a stranger cannot decide for alice; admin commands are
 * for admins only.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { User } from '../helpers/client.js';
import { errorCondition, errorText } from '../helpers/inbox.js';
import { query, until } from '../helpers/db.js';
import type { Element } from '../../component/xmpp/xml.js';

const DOMAIN = 'energy.localhost';
const METERS = `meters@${DOMAIN}`;
const SCHOOL = `school@${DOMAIN}`;
const NS_COMMANDS = 'http://jabber.org/protocol/commands';
const NS_DATA = 'jabber:x:data';
const NS_CONSENT = 'urn:fedgate:consent:0';
const NS_ITEMS = 'http://jabber.org/protocol/disco#items';
const HOUSE = 'urn:dev:prm:30001442769830_*';
const LOAD = 'urn:dev:prm:30001442769830_consumption/power/active/raw';
const SUN = 'urn:dev:prm:30002187651024_production/power/active/raw';
const T0 = 1704063600;
const HOUR = 3_600_000;

interface Ctx {
  ejabberd: Ejabberd;
  fg: Fedgate;
  alice: User;
  bob: User;
  carol: User;
  mallory: User;
  admin: User;
  /** bob's first request, approved then withdrawn by alice. */
  first: number;
}
const test = suite<Ctx>('consent-channel');

type Fields = Record<string, string | string[]>;

function command(user: User, to: string, node: string, fields?: Fields, sessionid?: string): Promise<Element> {
  const x = fields
    ? user.xml('x', { xmlns: NS_DATA, type: 'submit' }, ...Object.entries(fields).map(([k, v]) => user.xml('field', { var: k }, ...[v].flat().map((one) => user.xml('value', {}, one)))))
    : null;
  return user.iq(to, 'set', user.xml('command', { xmlns: NS_COMMANDS, node, action: sessionid ? 'complete' : 'execute', sessionid }, x), 10_000);
}

/** The values of a completed command's result form. */
function values(iq: Element): Record<string, string> {
  assert.is(iq.attrs.type, 'result', iq.toString());
  const cmd = iq.getChild('command', NS_COMMANDS)!;
  assert.is(cmd.attrs.status, 'completed');
  const x = cmd.getChild('x', NS_DATA)!;
  return Object.fromEntries(x.getChildren('field').map((f) => [f.attrs.var, f.getChildText('value') ?? '']));
}

/** The rows of a completed command's table (XEP-0004 reported/item). */
function rows(iq: Element): Array<Record<string, string>> {
  assert.is(iq.attrs.type, 'result', iq.toString());
  const x = iq.getChild('command', NS_COMMANDS)!.getChild('x', NS_DATA)!;
  return x.getChildren('item').map((i) => Object.fromEntries(i.getChildren('field').map((f) => [f.attrs.var, f.getChildText('value') ?? ''])));
}

function assertError(iq: Element, condition: string, text?: string | RegExp): void {
  assert.is(iq.attrs.type, 'error', iq.toString());
  assert.is(errorCondition(iq), condition, iq.toString());
  assert.ok(errorText(iq).length > 0, 'every error carries a human text');
  if (text !== undefined) assert.match(errorText(iq), text);
}

/** The next consent notification of this type to the user. */
async function told(user: User, event: string, id?: number): Promise<{ body: string; consent: Element; from: string }> {
  const m = await user.waitFor((el) => el.name === 'message' && el.getChild('consent', NS_CONSENT)?.attrs.event === event && (id === undefined || el.getChild('consent', NS_CONSENT)!.attrs.id === String(id)), 30_000);
  return { body: m.getChildText('body') ?? '', consent: m.getChild('consent', NS_CONSENT)!, from: m.attrs.from ?? '' };
}

const pushed = (el: Element) => el.name === 'message' && !!el.getChild('quoalise', 'urn:quoalise:0');
const iso = (ms: number) => new Date(ms).toISOString();

function history(user: User, identifier: string): Promise<Element> {
  return command(user, `${METERS}/proxy`, 'get_history', { identifier, start_time: '2024-01-01T00:00:00+01:00', end_time: '2025-01-01T00:00:00+01:00' });
}

let files = 0;
async function write(fg: Fedgate, app: string, rows: Array<[string, number, number]>): Promise<void> {
  const file = join(fg.dir, `w${files++}.csv`);
  writeFileSync(file, `identifier,time,value,unit\n${rows.map(([s, t, v]) => `${s},${t},${v},W`).join('\n')}\n`);
  await fg.must('store', 'import', app, file);
}

test.before(async (ctx) => {
  ctx.ejabberd = await Ejabberd.start({ components: [{ domain: DOMAIN, secret: 'fg-secret' }] });
  for (const u of ['alice', 'bob', 'carol', 'mallory', 'admin']) await ctx.ejabberd.register(u, 'pw');
  // Pushes throttled to one message every 10 s: data stays queued long enough to be withdrawn.
  const fg = (ctx.fg = new Fedgate({
    port: ctx.ejabberd.componentPort(DOMAIN),
    domain: DOMAIN,
    secret: 'fg-secret',
    extraYaml: 'admins: [admin@localhost]\ndelivery:\n  push_messages_per_second: 0.1\nquoalise:\n  requests_per_second: 1000\n',
  }));
  await fg.must('app', 'add', 'meters', '--kind', 'store');
  await fg.must('app', 'add', 'school', '--kind', 'store');
  await fg.must('app', 'set', 'school', '--owner', 'carol@localhost');
  await fg.must('subject', 'add', 'household-1', '--series', HOUSE, '--jid', 'alice@localhost');
  await fg.must('consent', 'rule', 'add', 'school', '--decision', 'approve', '--requester', 'localhost', '--purpose', 'research', '--processing', 'read', '--max-duration', 'P6M');
  await fg.must('consent', 'rule', 'add', 'school', '--decision', 'refuse');
  await write(fg, 'meters', [[LOAD, T0, 342], [LOAD, T0 + 1800, 0]]);
  await write(fg, 'school', [[SUN, T0 + 43200, 12000]]);
  fg.start();
  await fg.waitOnline();
  for (const u of ['alice', 'bob', 'carol', 'mallory', 'admin'] as const) {
    ctx[u] = await User.connect(ctx.ejabberd.c2sPort, u, 'pw');
    ctx[u].send(ctx[u].xml('presence'));
  }
  // The consent commands exist once the app's worker is ready.
  await until(async () => (await command(ctx.bob, METERS, 'my_consents')).attrs.type === 'result', 10_000, () => 'meters not ready');
});

test.after(async (ctx) => {
  for (const u of [ctx.alice, ctx.bob, ctx.carol, ctx.mallory, ctx.admin]) await u?.close();
  await ctx.fg?.stop();
  ctx.fg?.cleanup();
  await ctx.ejabberd?.stop();
});

test('bob asks for the household\'s series from an ad-hoc client; alice is told', async (ctx) => {
  const { bob, alice } = ctx;
  // Step one: the form, as Gajim or Psi shows it.
  const step = await command(bob, METERS, 'request_access');
  const cmd = step.getChild('command', NS_COMMANDS)!;
  assert.is(cmd.attrs.status, 'executing');
  const form = cmd.getChild('x', NS_DATA)!;
  assert.equal(form.getChildren('field').map((f) => [f.attrs.var, f.attrs.type]), [
    ['series', 'text-single'],
    ['purpose', 'text-single'],
    ['purpose_term', 'text-single'],
    ['processing', 'list-multi'],
    ['until', 'text-single'],
    ['notice', 'text-single'],
  ]);
  const answer = await command(bob, METERS, 'request_access', { series: HOUSE, purpose: 'energy coaching', purpose_term: 'dpv:ServiceProvision', processing: ['read', 'subscribe'], until: iso(Date.now() + 30 * 24 * HOUR), notice: 'https://coach.example/privacy' }, cmd.attrs.sessionid);
  const v = values(answer);
  assert.is(v.state, 'requested');
  ctx.first = Number(v.id);

  const n = await told(alice, 'requested', ctx.first);
  assert.is(n.from, METERS);
  assert.equal([n.consent.attrs.recipient, n.consent.attrs.series, n.consent.attrs.subject, n.consent.attrs.processing, n.consent.attrs['legal-basis']], ['bob@localhost', HOUSE, 'household-1', 'read subscribe', 'consent']);
  assert.is(n.consent.getChild('purpose')!.attrs.term, 'dpv:ServiceProvision');
  assert.is(n.consent.getChildText('notice'), 'https://coach.example/privacy');
  assert.match(n.body, `bob@localhost asks to read and subscribe to ${HOUSE} from ${METERS}`);
  assert.match(n.body, '"decide" command');
  // Not authorized yet, with the reason.
  assertError(await history(bob, LOAD), 'not-authorized', `request ${ctx.first} is waiting for a decision`);
});

test('a stranger cannot decide for alice\'s data; errors say why', async ({ mallory, alice, bob, first }) => {
  assertError(await command(mallory, METERS, 'decide', { id: String(first), decision: 'approve' }), 'forbidden', 'decides for no data');
  // A record that concerns others is answered as one that does not exist: ids are not for mapping.
  assertError(await command(mallory, METERS, 'pending_requests'), 'forbidden', 'only its owners and the people its series are about');
  assertError(await command(mallory, METERS, 'withdraw', { id: String(first) }), 'item-not-found', `no consent record with id ${first} on ${METERS} concerns mallory@`);
  assertError(await command(mallory, METERS, 'withdraw', { id: '99999' }), 'item-not-found', `no consent record with id 99999 on ${METERS} concerns mallory@`);
  assertError(await command(mallory, SCHOOL, 'withdraw', { id: String(first) }), 'item-not-found', `no consent record with id ${first} on ${SCHOOL} concerns mallory@`);
  assertError(await command(bob, METERS, 'decide', { id: String(first), decision: 'approve' }), 'forbidden', 'decides for no data');
  assertError(await command(alice, METERS, 'decide', { id: '99999', decision: 'approve' }), 'item-not-found', 'no consent record with id 99999');
  assertError(await command(alice, METERS, 'decide', { id: String(first), decision: 'approve', until: iso(Date.now() + 365 * 24 * HOUR) }), 'bad-request', 'can only be shortened');
  assertError(await command(bob, METERS, 'request_access', { series: HOUSE, purpose: 'x', until: iso(Date.now() + 4 * 365 * 24 * HOUR) }), 'bad-request', 'a consent lasts at most P3Y');
  const items = (await mallory.iq(METERS, 'get', mallory.xml('query', { xmlns: NS_ITEMS, node: NS_COMMANDS }))).getChild('query', NS_ITEMS)!.getChildren('item').map((i) => i.attrs.node);
  assert.equal(items, ['request_access', 'my_consents', 'renew', 'withdraw'], 'deciders\' commands are not listed to others');
});

test('alice lists, approves for a shorter time; bob is told, reads and subscribes', async ({ alice, bob, first }) => {
  assert.equal(rows(await command(alice, METERS, 'pending_requests')).map((r) => [r.id, r.recipient, r.series]), [[String(first), 'bob@localhost', HOUSE]]);
  const step = (await command(alice, METERS, 'decide')).getChild('command', NS_COMMANDS)!;
  const choices = step.getChild('x', NS_DATA)!.getChildren('field').find((f) => f.attrs.var === 'id')!.getChildren('option').map((o) => o.getChildText('value'));
  assert.equal(choices, [String(first)]);
  const end = Date.now() + 2 * HOUR;
  assert.is(values(await command(alice, METERS, 'decide', { id: String(first), decision: 'approve', until: iso(end) }, step.attrs.sessionid)).state, 'given');

  const n = await told(bob, 'given', first);
  assert.is(n.consent.attrs.by, 'subject');
  assert.is(n.consent.attrs.until, iso(Math.floor(end / 1000) * 1000).replace('.000', ''));
  assert.match(n.body, 'was approved by the person the data are about');
  assert.is(values(await history(bob, LOAD)).result, 'Success');
  assert.is(values(await command(bob, `${METERS}/proxy`, 'subscribe', { identifier: LOAD })).result, 'Success');
  assert.equal(rows(await command(bob, METERS, 'my_consents')).map((r) => [r.id, r.state]), [[String(first), 'given']]);
  assert.equal(rows(await command(alice, METERS, 'consents')).map((r) => [r.id, r.recipient, r.state]), [[String(first), 'bob@localhost', 'given']]);
});

test('alice withdraws: the subscription stops, queued data is never sent, the next request is refused, bob is told', async ({ fg, alice, bob, first }) => {
  // 2,500 new records: three messages queued at once; the throttle lets the first one go.
  await write(fg, 'meters', Array.from({ length: 2500 }, (_, i): [string, number, number] => [LOAD, T0 + 3600 + 1800 * i, i]));
  await bob.waitFor(pushed, 30_000);
  assert.is(values(await command(alice, METERS, 'withdraw', { id: String(first), reason: 'we moved out' })).state, 'withdrawn');

  const n = await told(bob, 'withdrawn', first);
  assert.is(n.consent.getChildText('reason'), 'we moved out');
  assert.match(n.body, `Your subscriptions to ${LOAD} were stopped. Data queued for you will not be sent.`);
  assert.equal(query(fg, "SELECT id FROM consumers WHERE kind = 'subscription' AND destination = 'bob@localhost'"), []);
  // The first message was on its way; the two held by the throttle never leave.
  await until(() => query(fg, "SELECT id FROM dead_letters WHERE peer = 'bob@localhost'").length === 2, 10_000, () => 'the queued data was not moved aside');
  const dead = query<{ reason: string; records: number }>(fg, "SELECT reason, records FROM dead_letters WHERE peer = 'bob@localhost' ORDER BY id");
  assert.equal(dead.map((d) => d.records), [1000, 500]);
  await until(() => query(fg, "SELECT id FROM outbox WHERE destination = 'bob@localhost'").length === 0, 10_000, () => 'the first message was not confirmed');
  assert.match(dead[0]!.reason, `not sent: bob@localhost may not subscribe to ${LOAD} from meters: consent ${first} was withdrawn`);
  assertError(await history(bob, LOAD), 'not-authorized', `consent ${first} was withdrawn`);
  const events = JSON.parse(await fg.must('consent', 'show', String(first), '--json')) as { events: Array<{ type: string; actor: string; role: string; evidence: { from: string } }> };
  assert.equal(events.events.map((e) => [e.type, e.actor, e.role]), [['requested', 'bob@localhost', 'requester'], ['given', 'alice@localhost', 'subject'], ['withdrawn', 'alice@localhost', 'subject']]);
  assert.is(events.events[2]!.evidence.from, 'alice@localhost/test', 'the full JID of the decision is the evidence');
});

test('expiry at until does the same, by the job, whoever approved (here the operator at the CLI)', async ({ fg, alice, bob }) => {
  const asked = values(await command(bob, METERS, 'request_access', { series: LOAD, purpose: 'coaching again' }));
  await told(alice, 'requested', Number(asked.id));
  const end = Date.now() + 4000;
  await fg.must('consent', 'approve', asked.id!, '--until', iso(end));
  await told(bob, 'given', Number(asked.id));
  assert.is(values(await command(bob, `${METERS}/proxy`, 'subscribe', { identifier: LOAD })).result, 'Success');

  const n = await told(bob, 'expired', Number(asked.id));
  assert.match(n.body, `Your subscriptions to ${LOAD} were stopped.`);
  const expired = (JSON.parse(await fg.must('consent', 'show', asked.id!, '--json')) as { events: Array<{ type: string; at: string; actor: string; evidence: { via: string } }> }).events.at(-1)!;
  assert.equal([expired.type, expired.actor, expired.evidence.via], ['expired', 'gateway', 'expiry job']);
  assert.ok(Date.parse(expired.at) >= end, 'never before until');
  assert.equal(query(fg, "SELECT id FROM consumers WHERE kind = 'subscription' AND destination = 'bob@localhost'"), []);
  const refused = await history(bob, LOAD);
  assertError(refused, 'not-authorized', `the consent ${asked.id} expired on`);
});

test('automatic rules: one approves a matching request (capped) and its renewal, another refuses the rest; the owner sees it', async ({ bob, carol }) => {
  const yes = values(await command(bob, SCHOOL, 'request_access', { series: SUN, purpose: 'Research', processing: 'read' }));
  assert.is(yes.state, 'given');
  assert.ok(Date.parse(yes.until!) <= Date.now() + 186 * 24 * HOUR, 'at most six months');
  assert.is((await told(bob, 'given', Number(yes.id))).consent.attrs.by, 'rule');
  const no = values(await command(bob, SCHOOL, 'request_access', { series: SUN, purpose: 'marketing' }));
  assert.is(no.state, 'refused');
  assert.match((await told(bob, 'refused', Number(no.id))).body, 'refused automatically (rule 2 of');
  // Renewing before the end: the rule decides the renewal too.
  const renewed = values(await command(bob, SCHOOL, 'renew', { id: yes.id!, until: iso(Date.now() + 365 * 24 * HOUR) }));
  assert.is(renewed.state, 'renewed');
  assert.is((await told(bob, 'renewed', Number(yes.id))).consent.attrs.by, 'rule');
  assertError(await command(bob, SCHOOL, 'renew', { id: no.id!, until: iso(Date.now() + 365 * 24 * HOUR) }), 'not-allowed', 'only a consent in force can be renewed');
  assert.equal(rows(await command(carol, SCHOOL, 'consents')).map((r) => [r.id, r.state]), [[yes.id, 'renewed'], [no.id, 'refused']]);
  assert.equal(carol.inbox.matching((el) => !!el.getChild('consent', NS_CONSENT)), [], 'decided by rules: the owner is not asked');
});

test('admin commands on the domain\'s JID: for admins only', async ({ admin, mallory, bob }) => {
  const nodes = async (u: User) => (await u.iq(DOMAIN, 'get', u.xml('query', { xmlns: NS_ITEMS, node: NS_COMMANDS }))).getChild('query', NS_ITEMS)!.getChildren('item').map((i) => i.attrs.node);
  assert.equal(await nodes(mallory), []);
  assert.equal(await nodes(admin), ['apps', 'dead-letters', 'retry-dead-letter', 'pending-requests', 'status'].map((n) => `urn:fedgate:admin:0#${n}`));
  for (const n of ['apps', 'status', 'dead-letters', 'retry-dead-letter', 'pending-requests']) assertError(await command(mallory, DOMAIN, `urn:fedgate:admin:0#${n}`), 'forbidden', 'is not an admin');
  // An unknown command names the commands there are: only those the requester may run.
  const unknown = await command(mallory, DOMAIN, 'urn:fedgate:admin:0#zzz');
  assertError(unknown, 'item-not-found', 'has no command');
  assert.not.match(errorText(unknown), 'admin:0#apps');
  assert.match(errorText(await command(admin, DOMAIN, 'urn:fedgate:admin:0#zzz')), 'urn:fedgate:admin:0#apps');
  const apps = rows(await command(admin, DOMAIN, 'urn:fedgate:admin:0#apps'));
  assert.equal(apps.map((a) => [a.app, a.state]), [['meters', 'ready'], ['school', 'ready']]);
  assert.equal(rows(await command(admin, DOMAIN, 'urn:fedgate:admin:0#dead-letters')).map((d) => [d.peer, d.records]), [['bob@localhost', '1000'], ['bob@localhost', '500']]);
  const status = values(await command(admin, DOMAIN, 'urn:fedgate:admin:0#status'));
  assert.equal([status.domain, status.link, status.apps, status.dead_letters], [DOMAIN, 'online', '2', '2']);
  // A request waiting for alice shows in the admins' list.
  const waiting = values(await command(bob, METERS, 'request_access', { series: LOAD, purpose: 'third time' }));
  assert.equal(rows(await command(admin, DOMAIN, 'urn:fedgate:admin:0#pending-requests')).map((r) => [r.id, r.deciders]), [[waiting.id, 'alice@localhost']]);
  // Nothing of what was withdrawn reached bob: one push, before the withdrawal.
  assert.is(bob.inbox.matching(pushed).length, 0);
});

test('a request withdrawn before anyone decided is not announced to the deciders (request-and-withdraw cycles would flood them)', async ({ alice, bob }) => {
  const ask = async (purpose: string) => {
    const v = values(await command(bob, METERS, 'request_access', { series: LOAD, purpose }));
    await told(alice, 'requested', Number(v.id));
    return v.id!;
  };
  const undecided = await ask('asked then withdrawn');
  assert.is(values(await command(bob, METERS, 'withdraw', { id: undecided })).state, 'withdrawn');
  await told(bob, 'withdrawn', Number(undecided));
  // Events are handled in order: once the next request reaches alice, a withdrawal notice would have too.
  const next = await ask('asked once more');
  const isWithdrawal = (el: Element) => el.getChild('consent', NS_CONSENT)?.attrs.event === 'withdrawn' && el.getChild('consent', NS_CONSENT)!.attrs.id === undecided;
  assert.is(alice.inbox.matching(isWithdrawal).length, 0);
  await command(bob, METERS, 'withdraw', { id: next });
});

test.run();
