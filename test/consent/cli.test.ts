/**
 * `fedgate subject …`, owners on `fedgate app set`, `fedgate consent rule …` and `fedgate consent
 * list|show|approve|refuse|withdraw` from a shell user's point of view: output, --json, exit codes
 * (1 operation error, 2 usage error). Requests are made as the XMPP commands make them, in this process.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Fedgate } from '../helpers/fedgate.js';
import { openDatabase } from '../../component/store/database.js';
import { ConsentService, consentPolicy, xmppActor } from '../../component/consent/service.js';

const HOUSE = 'urn:dev:prm:30001442769830_*';
const LOAD = 'urn:dev:prm:30001442769830_consumption/power/active/raw';

test('subjects, owners, rules and consent records at the CLI', async () => {
  const fg = new Fedgate({ port: 1, domain: 'energy.example.org', secret: 's3cret' });
  const expect = async (code: number, args: string[], text?: string) => {
    const r = await fg.cli(...args);
    assert.is(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    if (text !== undefined) assert.match(code === 0 ? r.stdout : r.stderr, text);
    return r.stdout;
  };
  try {
    await fg.must('app', 'add', 'meters', '--kind', 'store');
    await fg.must('app', 'add', 'school', '--kind', 'store');

    await expect(0, ['subject', 'add', 'household-1', '--series', HOUSE, '--jid', 'Alice@Example.org'], `added subject household-1 (decides as alice@example.org): ${HOUSE}`);
    await expect(1, ['subject', 'add', 'household-1', '--series', HOUSE], 'already exists');
    await expect(1, ['subject', 'add', 'Bad Name', '--series', HOUSE], 'invalid subject name');
    await expect(1, ['subject', 'add', 'h2', '--series', HOUSE, '--jid', 'example.org'], 'not a domain');
    await expect(2, ['subject', 'add', 'h3']);
    assert.equal(JSON.parse(await expect(0, ['subject', 'list', '--json'])).rows.map((s: { name: string; jid: string; series: string[] }) => [s.name, s.jid, s.series]), [['household-1', 'alice@example.org', [HOUSE]]]);

    await expect(0, ['app', 'set', 'school', '--owner', 'carol@school.example', 'dave@school.example'], 'owners of school: carol@school.example dave@school.example');
    assert.equal(JSON.parse(await expect(0, ['app', 'show', 'school', '--json'])).owners, ['carol@school.example', 'dave@school.example']);
    await expect(1, ['app', 'set', 'school', '--owner', 'carol@school.example/phone'], 'must be a bare JID');
    await expect(1, ['app', 'set', 'ghost', '--owner', 'carol@school.example'], 'no app named "ghost"');

    await expect(0, ['consent', 'rule', 'add', 'school', '--decision', 'approve', '--requester', 'research.example', '--purpose', 'research', '--max-duration', 'P6M'], 'added rule 1 on school: approve requests from *@research.example on * for the purpose "research"');
    await expect(2, ['consent', 'rule', 'add', 'school', '--decision', 'maybe']);
    await expect(1, ['consent', 'rule', 'add', 'school', '--decision', 'refuse', '--max-duration', 'P6X'], 'max duration');
    await expect(1, ['consent', 'rule', 'add', 'school', '--decision', 'refuse', '--purpose-term', 'marketing'], 'DPV term');
    assert.equal(JSON.parse(await expect(0, ['consent', 'rule', 'list', '--json'])).rows.map((r: { id: number; maxDuration: string }) => [r.id, r.maxDuration]), [[1, 'P6M']]);
    await expect(1, ['consent', 'rule', 'remove', '9'], 'no rule with id 9');

    // Two requests from bob, as request_access makes them.
    const db = openDatabase(join(fg.dir, 'fedgate.sqlite'));
    const svc = new ConsentService(db, consentPolicy({ max_validity: 'P3Y', max_pending_per_requester: 10, max_pending_per_app: 10, max_pending_per_domain: 10, max_requests_per_day: 10, max_requests_per_domain_per_day: 100 }));
    const bob = xmppActor('bob@example.net', 'requester', { id: 'q1', from: 'bob@example.net/phone' });
    const a = svc.request('bob@example.net', { app: 'meters', series: LOAD, purpose: 'coaching', processing: ['read'] }, bob);
    const b = svc.request('bob@example.net', { app: 'meters', series: HOUSE, purpose: 'marketing', processing: ['read', 'subscribe'] }, bob);
    db.close();

    assert.equal(JSON.parse(await expect(0, ['consent', 'list', '--pending', '--json'])).rows.map((c: { id: number }) => c.id), [a.id, b.id]);
    await expect(2, ['consent', 'list', '--state', 'maybe']);
    await expect(1, ['consent', 'approve', String(a.id), '--until', '2001-01-01T00:00:00Z'], 'already past');
    await expect(2, ['consent', 'approve', String(a.id), '--until', 'tomorrow']);
    await expect(1, ['consent', 'approve', String(a.id), '--series', 'urn:*'], 'can only be narrowed');
    await expect(0, ['consent', 'approve', String(a.id), '--until', new Date(Date.now() + 365 * 86_400_000).toISOString()], `consent ${a.id} given: bob@example.net may read ${LOAD} from meters`);
    await expect(1, ['consent', 'approve', String(a.id)], 'nothing to decide');
    await expect(0, ['consent', 'refuse', String(b.id), '--reason', 'not for marketing'], `consent ${b.id} refused`);
    await expect(1, ['consent', 'withdraw', '999'], 'no consent record with id 999');
    await expect(2, ['consent', 'withdraw', 'one']);
    await expect(0, ['consent', 'withdraw', String(a.id), '--reason', 'the household moved'], `consent ${a.id} withdrawn`);
    const shown = JSON.parse(await expect(0, ['consent', 'show', String(a.id), '--json'])) as {
      subject: string;
      deciders: string[];
      legalBasisTerm: string;
      events: Array<{ type: string; actor: string; role: string; evidence: { via: string; command?: string }; details: { reason?: string } }>;
    };
    assert.equal([shown.subject, shown.deciders, shown.legalBasisTerm], ['household-1', ['alice@example.org'], 'dpv:Consent']);
    assert.equal(shown.events.map((e) => [e.type, e.actor, e.role, e.evidence.via]), [['requested', 'bob@example.net', 'requester', 'xmpp'], ['given', 'operator', 'operator', 'cli'], ['withdrawn', 'operator', 'operator', 'cli']]);
    assert.is(shown.events[2]!.evidence.command, `consent withdraw ${a.id}`);
    assert.is(shown.events[2]!.details.reason, 'the household moved');
    assert.match(await expect(0, ['consent', 'show', String(a.id)]), /withdrawn\s+operator\s+operator/);
    assert.match(await expect(0, ['consent', 'list', '--app', 'meters']), new RegExp(`${b.id}\\s+meters\\s+bob@example.net\\s+urn:dev:prm:30001442769830_\\*\\s+read subscribe\\s+refused`));

    await expect(0, ['subject', 'remove', 'household-1'], 'removed subject household-1');
    await expect(1, ['subject', 'remove', 'household-1'], 'no subject named');
  } finally {
    fg.cleanup();
  }
});

test.run();
