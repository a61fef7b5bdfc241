/**
 * Authorization: deny by default; grants (consent records given by the operator) to a JID, a domain or
 * anyone, on identifiers or globs, with validity windows; the reasons given; reload of the in-memory
 * records after a change in SQLite; and `fedgate grant add|list|remove` from a shell user's point of view.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../component/store/database.js';
import { AppRegistry } from '../../component/registry/apps.js';
import { GrantError, GrantStore } from '../../component/authz/grant-store.js';
import { Authorizer } from '../../component/authz/authorizer.js';
import { normalizeRequester, requesterMatches } from '../../component/authz/requester-pattern.js';
import { Fedgate } from '../helpers/fedgate.js';

const A = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const B = 'urn:dev:prm:30000000000002_consumption/power/active/raw';
const NOW = Date.parse('2024-06-01T12:00:00Z');
const DAY = 86_400_000;

interface Ctx {
  dir: string;
  db: Db;
  grants: GrantStore;
}
const test = suite<Ctx>('authorization');

test.before.each((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'fedgate-authz-'));
  ctx.db = openDatabase(join(ctx.dir, 'fedgate.sqlite'));
  const apps = new AppRegistry(ctx.db);
  apps.add({ name: 'meters', kind: 'store' });
  apps.add({ name: 'school', kind: 'store' });
  ctx.grants = new GrantStore(ctx.db);
});
test.after.each((ctx) => {
  ctx.db.close();
  rmSync(ctx.dir, { recursive: true, force: true });
});

test('requester patterns: bare JID, domain, anyone; nothing else', () => {
  assert.is(normalizeRequester('Alice@Example.NET'), 'alice@example.net');
  assert.is(normalizeRequester('example.net'), '*@example.net');
  assert.is(normalizeRequester('*@example.net'), '*@example.net');
  assert.is(normalizeRequester('*'), '*');
  for (const bad of ['alice@example.net/phone', 'a*@example.net', '*@a@b', '', 'al ice@example.net', '@example.net']) {
    assert.throws(() => normalizeRequester(bad), /must be a bare JID/, bad);
  }
  assert.ok(requesterMatches('*@example.net', 'bob@example.net'));
  assert.ok(requesterMatches('*@example.net', 'example.net'), 'the domain\'s own JID');
  assert.not.ok(requesterMatches('*@example.net', 'bob@sub.example.net'));
  assert.not.ok(requesterMatches('*@example.net', 'bob@badexample.net'));
  assert.not.ok(requesterMatches('alice@example.net', 'bob@example.net'));
  assert.ok(requesterMatches('*', 'anyone@anywhere.org'));
});

test('deny by default; a grant covers its requesters and series only', ({ grants }) => {
  const authz = new Authorizer(grants);
  const ask = (requester: string, series: string, app = 'meters') => authz.authorize({ app, requester, series, at: NOW });
  assert.is(ask('alice@example.net', A).allowed, false);
  assert.match(ask('alice@example.net', A).reason, 'no grant covers this series');

  const g = grants.add({ app: 'meters', requester: 'alice@example.net', series: 'urn:dev:prm:30000000000001_*', purpose: 'energy coaching' });
  grants.add({ app: 'meters', requester: 'example.org', series: B });
  authz.refresh();
  const yes = ask('alice@example.net', A);
  assert.equal(yes, { allowed: true, reason: `grant ${g.id} lets alice@example.net read ${A} from meters for energy coaching`, grantId: g.id });
  assert.is(ask('alice@example.net', B).allowed, false, 'another series');
  assert.is(ask('bob@example.net', A).allowed, false, 'another person of the same domain');
  assert.is(ask('alice@example.net', A, 'school').allowed, false, 'another app');
  assert.is(ask('bob@example.org', B).allowed, true, 'domain grant');
  assert.is(ask('example.org', B).allowed, true, 'domain grant, the domain itself');

  assert.equal(authz.visibleSeriesPatterns('meters', 'alice@example.net', NOW), ['urn:dev:prm:30000000000001_*']);
  assert.ok(authz.hasAnyGrant('meters', 'alice@example.net', NOW));
  assert.not.ok(authz.hasAnyGrant('school', 'alice@example.net', NOW));
  assert.not.ok(authz.hasAnyGrant('meters', 'mallory@example.net', NOW));
});

test('validity windows: not yet valid, valid, expired — with the reason', ({ grants }) => {
  grants.add({ app: 'meters', requester: 'alice@example.net', series: A, notBefore: NOW + DAY, notAfter: NOW + 2 * DAY });
  grants.add({ app: 'meters', requester: 'bob@example.net', series: A, notAfter: NOW });
  const authz = new Authorizer(grants);
  const alice = (at: number) => authz.authorize({ app: 'meters', requester: 'alice@example.net', series: A, at });
  assert.is(alice(NOW).allowed, false);
  assert.match(alice(NOW).reason, 'the grant starts on 2024-06-02T12:00:00Z');
  assert.is(alice(NOW + DAY).allowed, true, 'not_before is included');
  assert.is(alice(NOW + 2 * DAY - 1).allowed, true);
  assert.is(alice(NOW + 2 * DAY).allowed, false, 'not_after is excluded');
  const bob = authz.authorize({ app: 'meters', requester: 'bob@example.net', series: A, at: NOW });
  assert.is(bob.allowed, false);
  assert.match(bob.reason, 'the grant expired on 2024-06-01T12:00:00Z');
  assert.not.ok(authz.hasAnyGrant('meters', 'bob@example.net', NOW), 'an expired grant shows no commands');
  assert.equal(authz.visibleSeriesPatterns('meters', 'alice@example.net', NOW), []);
});

test('grants are reloaded only when they change; removed grants stop allowing', ({ db, grants }) => {
  const authz = new Authorizer(grants);
  const g = grants.add({ app: 'meters', requester: '*', series: A });
  const ask = () => authz.authorize({ app: 'meters', requester: 'anyone@else.org', series: A, at: NOW }).allowed;
  assert.is(ask(), false, 'not seen before a refresh: the XMPP thread reads memory only');
  authz.refresh();
  assert.is(ask(), true);
  grants.remove(g.id);
  authz.refresh();
  assert.is(ask(), false);
  // Removing the app ends its grants (their records are invalidated and kept as evidence).
  grants.add({ app: 'school', requester: '*', series: A });
  new AppRegistry(db).remove('school');
  assert.equal(grants.list('school'), []);
  assert.is(db.prepare("SELECT state FROM consents WHERE app = 'school'").pluck().get(), 'invalidated');
  assert.throws(() => grants.add({ app: 'ghost', requester: '*', series: A }), (e: unknown) => e instanceof GrantError && /no app named "ghost"/.test(e.message));
  assert.throws(() => grants.add({ app: 'meters', requester: '*', series: A, notBefore: NOW, notAfter: NOW }), /would end before it starts/);
});

test('fedgate grant add / list / remove, exit codes', async () => {
  const fg = new Fedgate({ port: 1, domain: 'energy.example.org', secret: 's3cret' });
  try {
    assert.is((await fg.cli('app', 'add', 'meters', '--kind', 'store')).code, 0);
    let r = await fg.cli('grant', 'add', 'meters', 'Alice@Example.net', 'urn:dev:prm:30000000000001_*', '--purpose', 'coaching', '--until', '2099-01-01T00:00:00+01:00');
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, /added grant 1: alice@example.net may read urn:dev:prm:30000000000001_\* from meters \(… → 2098-12-31T23:00:00Z; contract\)/);
    r = await fg.cli('grant', 'add', 'meters', 'example.org', A, '--until', '2001-01-01T00:00:00Z', '--basis', 'legitimate-interest', '--processing', 'read');
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, '(… → 2001-01-01T00:00:00Z; legitimate-interest)');
    const list = await fg.rows<{ id: number; requester: string; purpose: string; notAfter: string; state: string; legalBasis: string; processing: string[] }>('grant', 'list');
    assert.equal(list.map((g) => [g.id, g.requester, g.purpose, g.notAfter, g.state, g.legalBasis, g.processing]), [
      [1, 'alice@example.net', 'coaching', '2098-12-31T23:00:00.000Z', 'valid', 'contract', ['read', 'subscribe']],
      [2, '*@example.org', '', '2001-01-01T00:00:00.000Z', 'expired', 'legitimate-interest', ['read']],
    ]);
    assert.match((await fg.cli('grant', 'list', 'meters')).stdout, /2\s+meters\s+\*@example.org\s+urn:dev:prm:30000000000001_consumption\/power\/active\/raw\s+… → 2001-01-01T00:00:00Z\s+expired/);

    // Operation errors exit 1, usage errors 2.
    r = await fg.cli('grant', 'add', 'ghost', 'alice@example.net', A);
    assert.is(r.code, 1);
    assert.match(r.stderr, 'no app named "ghost"');
    r = await fg.cli('grant', 'add', 'meters', 'alice@example.net/phone', A);
    assert.is(r.code, 1);
    assert.match(r.stderr, 'must be a bare JID');
    r = await fg.cli('grant', 'add', 'meters', 'alice@example.net', A, '--until', '2099-01-01T00:00:00');
    assert.is(r.code, 2);
    assert.match(r.stderr, '--until: "2099-01-01T00:00:00" has no UTC offset');
    r = await fg.cli('grant', 'add', 'meters', 'alice@example.net');
    assert.is(r.code, 2);
    r = await fg.cli('grant', 'add', 'meters', 'alice@example.net', A, '--basis', 'whim');
    assert.is(r.code, 2);
    assert.match(r.stderr, '--basis must be one of consent, contract, legal-obligation, public-task, legitimate-interest');
    r = await fg.cli('grant', 'remove', 'one');
    assert.is(r.code, 2);
    r = await fg.cli('grant', 'remove', '99');
    assert.is(r.code, 1);
    assert.match(r.stderr, 'no grant with id 99');
    r = await fg.cli('grant', 'remove', '2');
    assert.is(r.code, 0, r.stderr);
    assert.equal((await fg.rows('grant', 'list')).length, 1);
  } finally {
    fg.cleanup();
  }
});

test.run();
