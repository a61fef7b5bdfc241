/**
 * A person's rights end to end, with two gateways and real client accounts on a scratch ejabberd.
 * Gateway A's `meters` holds two households' load curves (household-1 is alice's, household-2 has no
 * JID) and sends both to B's `sink`; bob, a coach, may read household-1's. Then:
 * - the retention the operator's grants set travels with the data, and B keeps each record no longer;
 * - alice reads her own series without any grant, and sees with `my_data` who may read it and who got it;
 * - the export holds exactly what was imported, and what the log says of accesses and transfers;
 * - the register is generated from all that;
 * - a stranger's erasure request is refused; the erasure of household-1 empties both sides of it and
 *   nothing else, B confirms with a signature A checks and logs, bob is told, both logs still verify.
 */
import { suite } from '../helpers/suite.js';
import { confirmedErasure } from '../helpers/erasures.js';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { User } from '../helpers/client.js';
import { errorCondition } from '../helpers/inbox.js';
import { query, queryStore, scalar, until } from '../helpers/db.js';
import type { Element } from '../../component/xmpp/xml.js';

const A = 'a.localhost';
const B = 'b.localhost';
const METERS = `meters@${A}`;
const SINK = `sink@${B}`;
const H1 = 'urn:dev:prm:30000000000011_consumption/power/active/raw';
const H2 = 'urn:dev:prm:30000000000022_consumption/power/active/raw';
const NS_COMMANDS = 'http://jabber.org/protocol/commands';
const NS_DATA = 'jabber:x:data';
const NS_GDPR = 'urn:fedgate:gdpr:0';
const DAY = 86_400;
const N = 48;

interface Ctx {
  ejabberd: Ejabberd;
  a: Fedgate;
  b: Fedgate;
  alice: User;
  bob: User;
  mallory: User;
  t0: number;
  /** What was imported: [series, time, value]. */
  imported: Array<[string, number, number]>;
}
const test = suite<Ctx>('gdpr rights');

const now = () => Date.now() / 1000;

function points(fg: Fedgate, app: string, series: string): Array<{ time: number; value: number; expires_at: number | null }> {
  return queryStore(fg, 'SELECT p.time, p.value, p.expires_at FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = ? AND s.identifier = ? ORDER BY p.time', app, series);
}

function command(user: User, to: string, node: string, fields?: Record<string, string>): Promise<Element> {
  return user.command(to, node, fields ? { fields } : {});
}

function history(user: User, series: string): Promise<Element> {
  return command(user, `${METERS}/proxy`, 'get_history', { identifier: series, start_time: '2000-01-01T00:00:00Z' });
}

function tableRows(iq: Element): Array<Record<string, string>> {
  assert.is(iq.attrs.type, 'result', iq.toString());
  const x = iq.getChild('command', NS_COMMANDS)!.getChild('x', NS_DATA)!;
  return x.getChildren('item').map((i) => Object.fromEntries(i.getChildren('field').map((f) => [f.attrs.var, f.getChildText('value') ?? ''])));
}

test.before(async (ctx) => {
  // uvu drops an error thrown by a hook: say it, then fail.
  await setUp(ctx).catch((err: unknown) => {
    console.error('set-up failed:', err, ctx.a?.stderr.slice(-2000), ctx.b?.stderr.slice(-2000));
    throw err;
  });
});

async function setUp(ctx: Ctx): Promise<void> {
  ctx.ejabberd = await Ejabberd.start({ components: [A, B].map((domain) => ({ domain, secret: `${domain}-s` })) });
  for (const u of ['alice', 'bob', 'mallory']) await ctx.ejabberd.register(u, 'pw');
  const port = (domain: string) => ctx.ejabberd.componentPort(domain);
  const fast = 'delivery:\n  retry_initial_ms: 100\n  retry_max_seconds: 1\n  bounce_window_ms: 1000\ngdpr:\n  controller: Metropole de Lyon\n  contact: dpo@lyon.example\n';
  ctx.a = new Fedgate({ port: port(A), domain: A, secret: `${A}-s`, logLevel: 'info', extraYaml: fast });
  ctx.b = new Fedgate({ port: port(B), domain: B, secret: `${B}-s`, logLevel: 'info', extraYaml: fast });
  const { a, b } = ctx;
  await a.must('app', 'add', 'meters', '--kind', 'store', '--description', 'household meters');
  await a.must('retention', 'set', 'meters', 'urn:dev:prm:*', 'P5Y');
  await a.must('subject', 'add', 'household-1', '--series', 'urn:dev:prm:30000000000011_*', '--jid', 'alice@localhost');
  await a.must('subject', 'add', 'household-2', '--series', 'urn:dev:prm:30000000000022_*');
  // The operator lets B's sink keep what it receives 30 days, and bob read household-1's curve, keeping it 7 days.
  await a.must('grant', 'add', 'meters', SINK, '*', '--purpose', 'city energy statistics', '--basis', 'public-task', '--retention', 'P30D');
  await a.must('grant', 'add', 'meters', 'bob@localhost', 'urn:dev:prm:30000000000011_*', '--purpose', 'energy coaching', '--retention', 'P7D');
  await b.must('app', 'add', 'sink', '--kind', 'store');
  await b.must('consumer', 'add', '--source', METERS, '--destination', 'sink', '--schedule', 'none');
  ctx.t0 = Math.floor(now() / DAY) * DAY - 2 * DAY;
  ctx.imported = [H1, H2].flatMap((s, k) => Array.from({ length: N }, (_, i): [string, number, number] => [s, ctx.t0 + i * 1800, k * 1000 + i * 7.5]));
  const csv = join(a.dir, 'households.csv');
  writeFileSync(csv, `identifier,time,value,unit\n${ctx.imported.map(([s, t, v]) => `${s},${t},${v},W`).join('\n')}\n`);
  const meta = { device: { type: 'electricity-meter' }, measurement: { name: 'active-power', direction: 'consumption', unit: 'W', aggregation: 'mean', 'sampling-interval': 'PT30M' } };
  writeFileSync(join(a.dir, 'households.meta.json'), JSON.stringify({ [H1]: meta, [H2]: meta }));
  await a.must('store', 'import', 'meters', csv);
  await a.must('consumer', 'add', '--source', 'meters', '--destination', SINK, '--batch', '10');
  a.start();
  b.start();
  await Promise.all([a.waitOnline(), b.waitOnline()]);
  await until(() => points(b, 'sink', H1).length + points(b, 'sink', H2).length === 2 * N, 30_000, () => `${points(b, 'sink', H1).length} + ${points(b, 'sink', H2).length} arrived`);
  for (const u of ['alice', 'bob', 'mallory'] as const) {
    ctx[u] = await User.connect(ctx.ejabberd.c2sPort, u, 'pw');
    ctx[u].send(ctx[u].xml('presence'));
  }
}

test.after(async (ctx) => {
  for (const u of [ctx.alice, ctx.bob, ctx.mallory]) await u?.close();
  for (const fg of [ctx.a, ctx.b]) {
    await fg?.stop();
    fg?.cleanup();
  }
  await ctx.ejabberd?.stop();
});

test("the retention a grant sets travels as `until` (transfer time + 30 days) beside the app's max-age; B keeps each record no longer", ({ b }) => {
  const carried = JSON.parse(query<{ retention: string }>(b, "SELECT retention FROM inbox WHERE app = 'sink' LIMIT 1")[0]!.retention) as Array<[string, { maxAge?: string; until?: number }]>;
  assert.is(carried[0]![1].maxAge, 'P5Y');
  const until30 = now() + 30 * DAY;
  assert.ok(Math.abs(carried[0]![1].until! - until30) < 600, `until ${carried[0]![1].until} ≈ now + 30 days`);
  for (const p of [...points(b, 'sink', H1), ...points(b, 'sink', H2)]) assert.ok(Math.abs(p.expires_at! - until30) < 600, 'the earlier of the two limits: 30 days from the transfer');
});

test('alice reads her own series without any grant, not another household’s; bob’s answer carries his 7 days', async ({ alice, bob }) => {
  const own = await history(alice, H1);
  assert.is(own.attrs.type, 'result', own.toString());
  assert.is(own.getChild('command', NS_COMMANDS)!.getChild('quoalise', 'urn:quoalise:0')!.getChild('data')!.getChild('sensml', 'urn:ietf:params:xml:ns:senml')!.getChildren('senml').length, N);
  const other = await history(alice, H2);
  assert.is(errorCondition(other), 'not-authorized');
  const coach = await history(bob, H1);
  const terms = coach.getChild('command', NS_COMMANDS)!.getChild('retention', NS_GDPR)!.getChild('series')!;
  assert.is(terms.attrs.identifier, H1);
  assert.is(terms.attrs['max-age'], 'P5Y');
  assert.ok(Math.abs(Date.parse(terms.attrs.until!) / 1000 - (now() + 7 * DAY)) < 600, terms.toString());
});

test('my_data shows alice what is held, who may read it, who received it and when; a stranger may not run it', async ({ alice, mallory }) => {
  let rows: Array<Record<string, string>> = [];
  await until(
    async () => {
      rows = tableRows(await command(alice, METERS, 'my_data'));
      return rows.some((r) => r.what === 'read by');
    },
    15_000,
    () => JSON.stringify(rows),
  );
  const held = rows.find((r) => r.what === 'held here')!;
  assert.equal([held.series, held.details], [H1, `${N} records`]);
  assert.equal(rows.filter((r) => r.what === 'may read').map((r) => r.who).sort(), ['bob@localhost', SINK]);
  const sent = rows.find((r) => r.what === 'sent to')!;
  assert.equal([sent.series, sent.who], [H1, SINK]);
  assert.match(sent.details!, `5 message(s), ${N} records`);
  assert.equal(rows.find((r) => r.what === 'read by')!.who, 'bob@localhost');
  assert.not.ok(rows.some((r) => r.series === H2), 'nothing of the other household');
  assert.is(errorCondition(await command(mallory, METERS, 'my_data')), 'forbidden');
});

test('the export holds what was imported (CSV that imports again, SenML JSON), the consents, and what the log says', async ({ a, imported }) => {
  const out = join(a.dir, 'export-household-1');
  // What exports killed earlier left (a copy of the person's data, half written): removed by this one.
  for (const left of ['export-household-1.partial', 'export-household-1.partial-99999']) {
    mkdirSync(join(a.dir, left, 'data'), { recursive: true });
    writeFileSync(join(a.dir, left, 'data', 'meters.csv'), 'identifier,time,value,unit\n');
  }
  const report = JSON.parse(await a.must('gdpr', 'export', 'household-1', '--out', out, '--json')) as { records: Record<string, number>; entry: number };
  assert.equal(report.records, { meters: N });
  // Private (a person's data), and put in place whole: nothing of a partial folder is left beside it.
  assert.is(statSync(out).mode & 0o777, 0o700);
  assert.equal(readdirSync(a.dir).filter((f) => f.startsWith('export-household-1.partial')), []);
  const lines = readFileSync(join(out, 'data/meters.csv'), 'utf8').trim().split('\n');
  assert.is(lines[0], 'identifier,time,value,unit');
  const mine = imported.filter(([s]) => s === H1);
  assert.equal(
    lines.slice(1).map((l) => l.split(',')).map(([s, t, v, u]) => [s, Date.parse(t!) / 1000, Number(v), u]),
    mine.map(([s, t, v]) => [s, t, v, 'W']),
  );
  const senml = JSON.parse(readFileSync(join(out, 'data/meters.senml.json'), 'utf8')) as Array<{ bn?: string; t: number; v: number }>;
  assert.is(senml.length, N);
  assert.is(senml[0]!.bn, H1);
  assert.equal(senml.map((r) => [r.t, r.v]), mine.map(([, t, v]) => [t, v]));
  const meta = JSON.parse(readFileSync(join(out, 'data/meters.meta.json'), 'utf8')) as Record<string, { measurement: { unit: string } }>;
  assert.equal(Object.keys(meta), [H1]);
  const consents = JSON.parse(readFileSync(join(out, 'consents.json'), 'utf8')) as Array<{ recipient: string; retention: string; events: unknown[] }>;
  assert.equal(consents.map((c) => [c.recipient, c.retention]).sort(), [['bob@localhost', 'P7D'], [SINK, 'P30D']]);
  assert.ok(consents.every((c) => c.events.length >= 1), 'with their histories');
  // Access and transfers: exactly the log's entries that concern household-1.
  const access = JSON.parse(readFileSync(join(out, 'access.json'), 'utf8')) as Array<{ entry: number; requester: string; outcome: string; subject?: string }>;
  assert.equal(access.map((x) => [x.requester, x.outcome, x.subject ?? null]).sort(), [['alice@localhost', 'allowed', 'household-1'], ['bob@localhost', 'allowed', null]]);
  const transfers = JSON.parse(readFileSync(join(out, 'transfers.json'), 'utf8')) as Array<{ entry: number; destination: string; records: number; series: string[]; confirmation: string }>;
  const logged = query<{ idx: number }>(a, "SELECT idx FROM trace_entries WHERE kind = 'transfer.sent' AND entry LIKE ? ORDER BY idx", `%${H1}%`).map((r) => r.idx);
  assert.equal([...new Set(transfers.map((t) => t.entry))], logged, 'one row per message, under the entry that lists it');
  assert.ok(transfers.every((t) => t.series.includes(H1)));
  assert.is(transfers.reduce((n, t) => n + t.records, 0), N);
  assert.ok(transfers.every((t) => t.destination === SINK && t.confirmation === 'signed receipt'));
  for (const f of ['README.md', 'subject.json', 'series.json', 'received.json', 'erasures.json', 'not-readable.json']) assert.ok(existsSync(join(out, f)), f);
  assert.match(readFileSync(join(out, 'README.md'), 'utf8'), 'right of access');
  assert.ok(scalar(a, "SELECT count(*) FROM trace_entries WHERE kind = 'gdpr.export' AND idx = ?", report.entry) === 1, 'the export is logged');
  // Portability: the CSV imports as it is into another store app, with its metadata.
  await a.must('app', 'add', 'copy', '--kind', 'store');
  await a.must('store', 'import', 'copy', join(out, 'data/meters.csv'));
  const copied = await a.rows<{ identifier: string; count: number; meta: { measurement?: { unit: string } } }>('store', 'list', 'copy');
  assert.equal(copied.map((c) => [c.identifier, c.count, c.meta.measurement?.unit]), [[H1, N, 'W']]);
  await a.must('app', 'remove', 'copy');
});

test('the register names the controller, the data, the purposes and bases, the recipients, the transfers outside, the retention', async ({ a }) => {
  const [meters] = (await a.rows<{ app: string; categories: string[]; subjects: number; purposes: Array<{ purpose: string; legalBasis: string }>; recipients: { received: string[] }; transfersOutside: string[]; retention: { policies: Array<{ period: string }>; recipientLimits: string[] } }>('gdpr', 'register')).filter((x) => x.app === 'meters');
  assert.equal(meters!.categories, ['consumption active-power (W, mean, every PT30M) of a electricity-meter']);
  assert.is(meters!.subjects, 2);
  assert.equal(meters!.purposes.map((p) => [p.purpose, p.legalBasis]).sort(), [['city energy statistics', 'public-task'], ['energy coaching', 'contract']]);
  assert.equal(meters!.recipients.received, ['bob@localhost', SINK]);
  assert.equal(meters!.transfersOutside, ['bob@localhost', SINK]);
  assert.equal(meters!.retention.policies.map((p) => p.period), ['P5Y']);
  assert.equal(meters!.retention.recipientLimits.sort(), ['bob@localhost: P7D', `${SINK}: P30D`]);
  assert.match(await a.must('gdpr', 'register'), 'controller: Metropole de Lyon');
});

test('a request to erase from anyone but the source of the data is refused, and erases nothing', async ({ b, mallory }) => {
  mallory.send(mallory.xml('message', { to: SINK, id: 'evil' }, mallory.xml('erase', { xmlns: NS_GDPR, request: 'x1' }, mallory.xml('series', {}, '*'))));
  const answer = await mallory.waitFor((el) => el.name === 'message' && el.attrs.id === 'evil' && el.attrs.type === 'error', 10_000);
  assert.is(errorCondition(answer), 'not-authorized');
  assert.is(points(b, 'sink', H1).length, N);
  assert.is(scalar(b, 'SELECT count(*) FROM gdpr_erasures_received'), 0);
});

test('erasing household-1 empties both sides of it and nothing else; B confirms with a signature A checks; bob is told; both logs verify', async ({ a, b, bob }) => {
  const r = JSON.parse(await a.must('gdpr', 'erase', 'household-1', '--json')) as { erased: { records: Record<string, number>; consents: number[] }; requests: Array<{ recipient: string }> };
  assert.equal(r.erased.records, { meters: N });
  assert.equal(r.requests.map((q) => q.recipient).sort(), ['bob@localhost', SINK]);
  assert.is(points(a, 'meters', H1).length, 0);
  assert.is(points(a, 'meters', H2).length, N, "the other household's records stay");
  // bob's grant covered household-1 only: it ends; the sink's covers everyone's series: it stays.
  const states = query<{ recipient: string; state: string }>(a, 'SELECT recipient, state FROM consents ORDER BY id').map((c) => [c.recipient, c.state]);
  assert.equal(states, [[SINK, 'given'], ['bob@localhost', 'withdrawn']]);

  const sink = await confirmedErasure(a, SINK);
  assert.equal([sink.records, sink.complete], [N, true]);
  assert.is(points(b, 'sink', H1).length, 0, 'gone on the recipient too');
  assert.is(points(b, 'sink', H2).length, N, "and only that: the other household's records stay");
  // A logged B's confirmation with B's signature kept as evidence; B logged the request and what it did.
  const confirmed = JSON.parse(query<{ entry: string }>(a, 'SELECT entry FROM trace_entries WHERE idx = ?', sink.entry!)[0]!.entry) as { kind: string; origin: string; records: number };
  assert.equal([confirmed.kind, confirmed.origin, confirmed.records], ['gdpr.erasure.confirmed', 'verified', N]);
  assert.is(scalar(a, 'SELECT count(*) FROM trace_peer_proofs WHERE entry = ?', sink.entry!), 1);
  assert.ok((await a.must('audit', 'peer-proof', String(sink.entry!))).includes('c2sp.org/tlog-proof'));
  assert.equal(query<{ kind: string }>(b, "SELECT kind FROM trace_entries WHERE kind LIKE 'gdpr.%' ORDER BY idx").map((e) => e.kind), ['gdpr.erasure.received', 'gdpr.erasure.applied']);
  // A logged the intent before deleting anything, then the erasure, then B's confirmation.
  assert.equal(query<{ kind: string }>(a, "SELECT kind FROM trace_entries WHERE kind LIKE 'gdpr.erasure%' ORDER BY idx").map((e) => e.kind), ['gdpr.erasure.started', 'gdpr.erasure', 'gdpr.erasure.confirmed']);
  assert.is(JSON.parse(query<{ entry: string }>(b, "SELECT entry FROM trace_entries WHERE kind = 'gdpr.erasure.received'")[0]!.entry).origin, 'verified');
  // bob, a person who read the data, gets the request in his client.
  const told = await bob.waitFor((el) => el.name === 'message' && !!el.getChild('erase', NS_GDPR), 30_000);
  assert.match(told.getChildText('body') ?? '', 'asks you to erase');
  assert.match(await a.must('gdpr', 'erasures'), 'confirmed');
  for (const fg of [a, b]) {
    const v = await fg.cli('audit', 'verify');
    assert.is(v.code, 0, v.stderr);
  }
});

test.run();
