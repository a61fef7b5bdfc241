/**
 * Consent records in SQLite: append-only history written by one function, the service's rules of who
 * may do what (requester, subject, owner, operator, rules), the limits per party, the authorizer reading
 * the current state only (and answering the same with 100,000 records), and the migration of grants.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../component/store/database.js';
import { listMigrations, migrate } from '../../component/store/migrations.js';
import { SCHEMA_DIR } from '../../component/paths.js';
import { AppRegistry } from '../../component/registry/apps.js';
import { Authorizer } from '../../component/authz/authorizer.js';
import { GrantStore } from '../../component/authz/grant-store.js';
import { consentEventHooks, type Actor } from '../../component/consent/consent-store.js';
import { ConsentError, ConsentService, consentPolicy, xmppActor } from '../../component/consent/service.js';
import type { ConsentEvent } from '../../component/consent/model.js';

const T0 = Date.parse('2024-06-01T00:00:00Z');
const DAY = 86_400_000;
const HOUSE = 'urn:dev:prm:30001442769830_consumption/power/active/raw';
const SCHOOL = 'urn:dev:prm:30002187651024_production/power/active/raw';

interface Ctx {
  dir: string;
  db: Db;
  svc: ConsentService;
}
const test = suite<Ctx>('consent-records');

const bob = (stanza = 'b1'): Actor => xmppActor('bob@example.net', 'requester', { id: stanza, from: 'bob@example.net/phone' });
const alice = xmppActor('alice@example.org', 'subject', { id: 'a1', from: 'alice@example.org/laptop' });
const carol = xmppActor('carol@school.example', 'owner', { id: 'c1', from: 'carol@school.example/office' });
const mallory = xmppActor('mallory@evil.example', 'subject', { id: 'm1', from: 'mallory@evil.example/x' });
const OPERATOR: Actor = { id: 'operator', role: 'operator', evidence: { via: 'test' } };
const ask = (over: Partial<Parameters<ConsentService['request']>[1]> = {}) => ({ app: 'meters', series: HOUSE, purpose: 'energy coaching', processing: ['read' as const, 'subscribe' as const], ...over });

function kind(k: ConsentError['kind'], text?: RegExp) {
  return (e: unknown) => e instanceof ConsentError && e.kind === k && (text === undefined || text.test(e.message));
}

test.before.each((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'fedgate-consent-'));
  ctx.db = openDatabase(join(ctx.dir, 'fedgate.sqlite'));
  const apps = new AppRegistry(ctx.db);
  apps.add({ name: 'meters', kind: 'store' });
  apps.add({ name: 'school', kind: 'store' });
  ctx.svc = new ConsentService(ctx.db, consentPolicy({ max_validity: 'P3Y', max_pending_per_requester: 3, max_pending_per_app: 5, max_pending_per_domain: 4, max_requests_per_day: 6, max_requests_per_domain_per_day: 9 }));
  ctx.svc.parties.addSubject('household-1', ['urn:dev:prm:30001442769830_*'], 'Alice@Example.org');
  ctx.svc.parties.setOwners('school', ['carol@school.example']);
});
test.after.each((ctx) => {
  ctx.db.close();
  rmSync(ctx.dir, { recursive: true, force: true });
});

test('a request about a subject is theirs to decide; the history keeps who, when and the evidence', ({ svc }) => {
  const r = svc.request('bob@example.net', ask({ until: T0 + 30 * DAY }), bob(), T0);
  assert.equal([r.state, r.subject, r.recipient, r.requestedBy, r.notAfter, r.legalBasis], ['requested', 'household-1', 'bob@example.net', 'bob@example.net', T0 + 30 * DAY, 'consent']);
  assert.equal(svc.parties.deciders('meters', r.subject), ['alice@example.org']);
  assert.throws(() => svc.decide(r.id, { approve: true }, mallory, T0 + 1), kind('forbidden', /only the person it is about can/));
  assert.throws(() => svc.decide(r.id, { approve: true }, carol, T0 + 1), kind('forbidden'), 'an owner does not decide for a person');
  assert.throws(() => svc.decide(r.id, { approve: true }, bob(), T0 + 1), kind('forbidden'), 'nor the requester');
  assert.throws(() => svc.decide(999, { approve: true }, alice, T0 + 1), kind('not-found'));
  assert.throws(() => svc.decide(r.id, { approve: true, until: T0 + 31 * DAY }, alice, T0 + 1), kind('bad-request', /only be shortened: at most 2024-07-01T00:00:00Z/));
  assert.throws(() => svc.decide(r.id, { approve: true, series: 'urn:dev:prm:*' }, alice, T0 + 1), kind('bad-request', /only be narrowed/));
  assert.throws(() => svc.decide(r.id, { approve: false, reason: 'x'.repeat(501) }, alice, T0 + 1), kind('bad-request', /reason is too long/));
  const given = svc.decide(r.id, { approve: true, until: T0 + 10 * DAY }, alice, T0 + 2);
  assert.equal([given.state, given.notAfter], ['given', T0 + 10 * DAY]);
  assert.throws(() => svc.decide(r.id, { approve: true }, alice, T0 + 3), kind('not-allowed', /nothing to decide/));
  const events = svc.store.events(r.id);
  assert.equal(events.map((e) => [e.type, e.actor, e.role, e.at]), [['requested', 'bob@example.net', 'requester', T0], ['given', 'alice@example.org', 'subject', T0 + 2]]);
  assert.equal(events[1]!.evidence, { via: 'xmpp', stanza: 'a1', from: 'alice@example.org/laptop' });
  assert.equal(events[1]!.details, { until: T0 + 10 * DAY });
});

test('history is append-only and records are kept; every event goes through one function (hooks)', ({ db, svc }) => {
  const seen: ConsentEvent[] = [];
  const hook = (e: ConsentEvent) => void seen.push(e);
  consentEventHooks.push(hook);
  try {
    const r = svc.request('bob@example.net', ask(), bob(), T0);
    svc.withdraw(r.id, bob('b2'), 'changed my mind', T0 + 1);
    assert.equal(seen.map((e) => e.type), ['requested', 'withdrawn']);
    assert.throws(() => db.prepare("UPDATE consent_events SET actor = 'someone else'").run(), /append-only/);
    assert.throws(() => db.prepare('DELETE FROM consent_events').run(), /append-only/);
    assert.throws(() => db.prepare('DELETE FROM consents').run(), /kept/);
  } finally {
    // Only this test's hook: the transparency log's stays registered for the tests that follow.
    consentEventHooks.splice(consentEventHooks.indexOf(hook), 1);
  }
});

test('owners decide for series about no subject; narrower series; mixed requests refused', ({ svc }) => {
  const r = svc.request('bob@example.net', ask({ app: 'school', series: 'urn:dev:prm:30002187651024_*' }), bob(), T0);
  assert.is(r.subject, null);
  assert.throws(() => svc.decide(r.id, { approve: true }, alice, T0 + 1), kind('forbidden', /only the owners of school can/));
  const given = svc.decide(r.id, { approve: true, series: SCHOOL }, carol, T0 + 1);
  assert.equal([given.series, svc.store.events(r.id)[1]!.role], [SCHOOL, 'owner']);
  assert.throws(() => svc.request('bob@example.net', ask({ series: 'urn:dev:prm:*' }), bob(), T0), kind('bad-request', /personal data of a data subject together with other data/));
  assert.throws(() => svc.request('bob@example.net', ask({ until: T0 + 4 * 365 * DAY }), bob(), T0), kind('bad-request', /at most P3Y \(until 2027-06-01T00:00:00Z at the latest\)/));
  assert.throws(() => svc.request('bob@example.net', ask({ until: T0 - 1 }), bob(), T0), kind('bad-request', /already past/));
  assert.throws(() => svc.request('bob@example.net', ask({ purpose: ' ' }), bob(), T0), kind('bad-request', /purpose/));
  assert.throws(() => svc.request('bob@example.net', ask({ purposeTerm: 'marketing' }), bob(), T0), kind('bad-request', /DPV/));
});

test('withdrawal: by the requester, by the subject, by the operator; never by a stranger', ({ svc }) => {
  const ids = [0, 1, 2].map((i) => svc.decide(svc.request('bob@example.net', ask({ purpose: `p${i}` }), bob(), T0).id, { approve: true }, alice, T0 + 1).id);
  assert.throws(() => svc.withdraw(ids[0]!, mallory, undefined, T0 + 2), kind('forbidden'));
  // The reason is kept for ever in the history and sent to the other side: bounded like the purpose.
  assert.throws(() => svc.withdraw(ids[0]!, bob(), 'R'.repeat(3_000_000), T0 + 2), kind('bad-request', /reason is too long: at most 500/));
  assert.is(svc.store.events(ids[0]!).at(-1)!.type, 'given', 'nothing written');
  assert.is(svc.withdraw(ids[0]!, bob(), undefined, T0 + 2).state, 'withdrawn');
  assert.is(svc.withdraw(ids[1]!, alice, 'no more', T0 + 2).state, 'withdrawn');
  assert.is(svc.withdraw(ids[2]!, OPERATOR, undefined, T0 + 2).state, 'withdrawn');
  assert.equal(ids.map((id) => svc.store.events(id).at(-1)!.role), ['requester', 'subject', 'operator']);
  assert.throws(() => svc.withdraw(ids[0]!, bob(), undefined, T0 + 3), kind('not-allowed', /is withdrawn/));
});

test('an account named *@domain is one account: it cannot ask for the domain, nor withdraw or renew a grant made to the domain', ({ db, svc }) => {
  const star = (id: string) => xmppActor('*@partner.org', 'requester', { id, from: '*@partner.org/x' });
  assert.throws(() => svc.request('*@partner.org', ask(), star('s1'), T0), kind('bad-request', /holds \* or \?/));
  const grant = new GrantStore(db).add({ app: 'meters', requester: '*@partner.org', series: 'urn:dev:prm:*' }, OPERATOR);
  assert.throws(() => svc.withdraw(grant.id, star('s2'), undefined, T0 + 1), kind('forbidden'));
  assert.throws(() => svc.renew(grant.id, T0 + DAY, star('s3'), T0 + 1), kind('forbidden'));
  assert.is(svc.withdraw(grant.id, OPERATOR, undefined, T0 + 1).state, 'withdrawn', 'the operator still can');
});

test('renewal: asked by the requester before the end, decided by the subject; the consent stays in force meanwhile', ({ svc }) => {
  const r = svc.decide(svc.request('bob@example.net', ask({ until: T0 + DAY }), bob(), T0).id, { approve: true }, alice, T0 + 1);
  assert.throws(() => svc.renew(r.id, T0 + 2 * DAY, mallory, T0 + 2), kind('forbidden'));
  assert.throws(() => svc.renew(r.id, T0 + DAY / 2, bob(), T0 + 2), kind('bad-request', /after the current end/));
  const asked = svc.renew(r.id, T0 + 60 * DAY, bob(), T0 + 2);
  assert.equal([asked.state, asked.renewalUntil], ['given', T0 + 60 * DAY]);
  assert.equal(svc.store.awaitingDecision('meters').map((c) => c.id), [r.id]);
  const renewed = svc.decide(r.id, { approve: true }, alice, T0 + 3);
  assert.equal([renewed.state, renewed.notAfter], ['renewed', T0 + 60 * DAY]);
});

test('limits per requester, per domain and per app; asking twice is asking once', ({ svc }) => {
  const first = svc.request('bob@example.net', ask(), bob(), T0);
  assert.is(svc.request('bob@example.net', ask(), bob('again'), T0).id, first.id);
  svc.request('bob@example.net', ask({ purpose: 'b' }), bob(), T0);
  svc.request('bob@example.net', ask({ purpose: 'c' }), bob(), T0);
  assert.throws(() => svc.request('bob@example.net', ask({ purpose: 'd' }), bob(), T0), kind('limit', /already has 3 requests waiting/));
  const asks = (jid: string) => svc.request(jid, ask(), xmppActor(jid, 'requester', {}), T0);
  asks('x@example.net');
  // Many JIDs of one domain cannot fill the app's slots: 4 per domain here.
  assert.throws(() => asks('y@example.net'), kind('limit', /4 requests from example.net waiting/));
  asks('y@other.example');
  assert.throws(() => asks('z@third.example'), kind('limit', /meters has 5 requests waiting/));
  // Decided requests free the slots, not the day's count (renewals count too).
  for (const c of svc.store.awaitingDecision('meters')) svc.decide(c.id, { approve: false }, alice, T0 + 1);
  const e = svc.decide(svc.request('bob@example.net', ask({ purpose: 'e', until: T0 + DAY }), bob(), T0 + 2).id, { approve: true }, alice, T0 + 3);
  svc.decide(svc.request('bob@example.net', ask({ purpose: 'f' }), bob(), T0 + 2).id, { approve: false }, alice, T0 + 3);
  svc.renew(e.id, T0 + 60 * DAY, bob(), T0 + 3);
  assert.throws(() => svc.request('bob@example.net', ask({ purpose: 'h' }), bob(), T0 + 4), kind('limit', /6 requests or renewals in the last 24 hours/));
  assert.is(svc.request('bob@example.net', ask({ purpose: 'h' }), bob(), T0 + DAY + 1).state, 'requested', 'a day later');
});

test('requests of one domain in 24 hours: many JIDs asking and withdrawing at once stop at the limit per domain', ({ svc }) => {
  // Each JID stays under its own limits (one request, withdrawn at once: nothing waits).
  const cycle = (jid: string, at: number) => {
    const r = svc.request(jid, ask(), xmppActor(jid, 'requester', {}), at);
    svc.withdraw(r.id, xmppActor(jid, 'requester', {}), undefined, at);
  };
  for (let i = 0; i < 9; i++) cycle(`u${i}@crowd.example`, T0 + i);
  assert.throws(() => cycle('u9@crowd.example', T0 + 10), kind('limit', /requesters of crowd.example made 9 requests or renewals in the last 24 hours/));
  cycle('someone@example.net', T0 + 10);
  cycle('u9@crowd.example', T0 + DAY + 1);
});

test('rules decide at once, as themselves; an approval is capped; the subject\'s data wait', ({ svc }) => {
  svc.rules.add({ app: 'school', decision: 'approve', requester: 'example.net', purpose: 'research', purposeTerm: null, series: 'urn:dev:prm:30002187651024_*', maxDuration: 'P6M', legalBasis: 'public-task' });
  svc.rules.add({ app: 'school', decision: 'refuse', purpose: null, purposeTerm: null, maxDuration: null });
  svc.rules.add({ app: 'meters', decision: 'approve', purpose: null, purposeTerm: null, maxDuration: null });
  const yes = svc.request('bob@example.net', ask({ app: 'school', series: SCHOOL, purpose: 'Research' }), bob(), T0);
  assert.equal([yes.state, yes.notAfter, yes.legalBasis], ['given', Date.parse('2024-12-01T00:00:00Z'), 'public-task']);
  const e = svc.store.events(yes.id)[1]!;
  assert.equal([e.actor, e.role, (e.evidence as { rule: number }).rule], ['rule 1', 'rule', 1]);
  assert.is(svc.request('bob@example.net', ask({ app: 'school', series: SCHOOL, purpose: 'marketing' }), bob(), T0).state, 'refused');
  assert.is(svc.request('bob@example.net', ask(), bob(), T0).state, 'requested', 'a person\'s data wait for the person');
});

test('authorization reads the current state only, per processing, and says why', ({ db, svc }) => {
  const authz = new Authorizer(svc.store);
  const may = (series: string, at: number, processing: 'read' | 'subscribe' = 'read') => authz.authorize({ app: 'meters', requester: 'bob@example.net', series, at, processing });
  const r = svc.request('bob@example.net', ask({ processing: ['read'], until: T0 + DAY }), bob(), T0);
  authz.refresh();
  assert.match(may(HOUSE, T0 + 1).reason, `request ${r.id} is waiting for a decision`);
  svc.decide(r.id, { approve: true }, alice, T0 + 2);
  authz.refresh();
  assert.equal(may(HOUSE, T0 + 3), { allowed: true, reason: `consent ${r.id} lets bob@example.net read ${HOUSE} from meters for energy coaching`, grantId: r.id });
  assert.equal([may(HOUSE, T0 + 3, 'subscribe').allowed, may(HOUSE, T0 + 3, 'subscribe').reason], [false, `bob@example.net may not subscribe to ${HOUSE} from meters: consent ${r.id} allows read only`]);
  assert.match(may(HOUSE, T0 + DAY).reason, `the consent ${r.id} expired on 2024-06-02T00:00:00Z`, 'at until, before the job ran');
  assert.equal(authz.visibleSeriesPatterns('meters', 'bob@example.net', T0 + 3), [HOUSE]);
  assert.ok(authz.hasAnyGrant('meters', 'bob@example.net', T0 + 3));
  svc.withdraw(r.id, alice, undefined, T0 + 4);
  authz.refresh();
  assert.equal([may(HOUSE, T0 + 5).allowed, may(HOUSE, T0 + 5).reason], [false, `bob@example.net may not read ${HOUSE} from meters: consent ${r.id} was withdrawn on 2024-06-01T00:00:00Z`]);
  assert.not.ok(authz.hasAnyGrant('meters', 'bob@example.net', T0 + 5));
  const refused = svc.request('bob@example.net', ask({ series: 'urn:dev:prm:30001442769830_consumption/energy/*' }), bob(), T0 + 6);
  svc.decide(refused.id, { approve: false }, alice, T0 + 7);
  authz.refresh();
  assert.match(may('urn:dev:prm:30001442769830_consumption/energy/daily', T0 + 8).reason, `request ${refused.id} was refused`);
  // Expiry by the job: the record's state, and a clear reason.
  const short = svc.decide(svc.request('bob@example.net', ask({ series: SCHOOL, app: 'school', until: T0 + 10 }), bob(), T0).id, { approve: true }, carol, T0 + 1);
  assert.equal(svc.store.nextEnd(), T0 + 10);
  assert.equal(svc.store.expireDue(T0 + 9, OPERATOR), []);
  assert.equal(svc.store.expireDue(T0 + 10, OPERATOR), [short.id]);
  authz.refresh();
  assert.match(authz.authorize({ app: 'school', requester: 'bob@example.net', series: SCHOOL, at: T0 + 11 }).reason, `the consent ${short.id} expired on`);
  // Removing an app invalidates its open records (kept as evidence).
  svc.decide(svc.request('bob@example.net', ask({ app: 'school', series: SCHOOL }), bob(), T0).id, { approve: true }, carol, T0 + 1);
  new AppRegistry(db).remove('school');
  assert.equal(svc.store.list({ app: 'school' }).map((c) => c.state), ['expired', 'invalidated']);
});

test('100,000 records: the same answers, reloads only of what changed', ({ db, svc }) => {
  const grants = new GrantStore(db);
  const insert = db.prepare(
    `INSERT INTO consents (app, recipient, series, purpose, legal_basis, processing, origin, created_at, state, state_at)
     VALUES ('meters', ?, ?, 'load', 'consent', 'read subscribe', 'request', 0, 'given', 0)`,
  );
  db.transaction(() => {
    for (let i = 0; i < 100_000; i++) insert.run(`user${i % 5000}@example.net`, `urn:dev:prm:${String(i).padStart(14, '0')}_consumption/power/active/raw`);
  })();
  const g = grants.add({ app: 'meters', requester: 'example.org', series: 'urn:dev:prm:3000*' });
  const authz = new Authorizer(svc.store);
  assert.ok(authz.authorize({ app: 'meters', requester: 'bob@example.org', series: HOUSE, at: T0 }).allowed);
  assert.ok(authz.authorize({ app: 'meters', requester: 'user7@example.net', series: 'urn:dev:prm:00000000005007_consumption/power/active/raw', at: T0 }).allowed);
  assert.not.ok(authz.authorize({ app: 'meters', requester: 'user7@example.net', series: 'urn:dev:prm:00000000005008_consumption/power/active/raw', at: T0 }).allowed);
  const schoolOnly = new Authorizer(svc.store, undefined, { app: 'school' });
  assert.not.ok(schoolOnly.authorize({ app: 'meters', requester: 'bob@example.org', series: HOUSE, at: T0 }).allowed, 'an app worker holds its app\'s records only');
  grants.remove(g.id);
  assert.is(svc.store.changedSince(svc.store.version() - 1).length, 1, 'one row changed');
  authz.refresh();
  assert.not.ok(authz.authorize({ app: 'meters', requester: 'bob@example.org', series: HOUSE, at: T0 }).allowed);
});

test('migration 006 turns grants into records given by the operator, keeping their ids', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-mig6-'));
  try {
    const old = join(dir, 'schema');
    mkdirSync(old);
    for (const m of listMigrations().filter((m) => m.version < 6)) copyFileSync(join(SCHEMA_DIR, `${String(m.version).padStart(3, '0')}_${m.name}.sql`), join(old, `${String(m.version).padStart(3, '0')}_${m.name}.sql`));
    const db = openDatabase(join(dir, 'f.sqlite'), { schemaDir: old });
    db.prepare("INSERT INTO apps (name, kind, created_at, updated_at) VALUES ('meters', 'store', 0, 0)").run();
    db.prepare("INSERT INTO grants (id, app, requester, series, purpose, not_after, created_at) VALUES (7, 'meters', 'alice@example.net', 'urn:*', 'coaching', 99, 5), (9, 'meters', '*', 'urn:open*', '', NULL, 6)").run();
    migrate(db);
    const svc = new ConsentService(db, consentPolicy({ max_validity: 'P3Y', max_pending_per_requester: 1, max_pending_per_app: 1, max_pending_per_domain: 1, max_requests_per_day: 1, max_requests_per_domain_per_day: 1 }));
    assert.equal(svc.store.list().map((c) => [c.id, c.recipient, c.series, c.purpose, c.legalBasis, c.state, c.origin, c.notAfter]), [
      [7, 'alice@example.net', 'urn:*', 'coaching', 'contract', 'given', 'grant', 99],
      [9, '*', 'urn:open*', '', 'public-task', 'given', 'grant', null],
    ]);
    assert.equal(svc.store.events(7).map((e) => [e.type, e.actor, e.at, e.evidence]), [['given', 'operator', 5, { migrated: 'grant 7' }]]);
    assert.is(db.prepare("SELECT value FROM settings WHERE name = 'consent_events_handled'").pluck().get(), '2', 'migrated grants notify no one');
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
