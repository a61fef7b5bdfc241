/**
 * The pure pieces of consent, with a fake clock: series patterns (overlap, cover), calendar durations,
 * the lifecycle of a record, and automatic rules.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { globMatch, patternCovers, patternsOverlap, seriesMatcher } from '../../component/transfer/series-pattern.js';
import { addDuration, parseCalendarDuration } from '../../component/consent/duration.js';
import { applyEvent, TransitionError, type RecordState } from '../../component/consent/lifecycle.js';
import { checkSeries, concernOf, MAX_SERIES_LENGTH, PartyError } from '../../component/consent/parties.js';
import { firstMatch, ruleUntil, type ConsentRule } from '../../component/consent/rules.js';

const T0 = Date.parse('2024-06-01T00:00:00Z');
const PRM = 'urn:dev:prm:30001442769830_';

test('patterns: overlap and cover', () => {
  assert.ok(patternsOverlap(`${PRM}*`, `${PRM}consumption/power/active/raw`));
  assert.ok(patternsOverlap('urn:dev:prm:*', `${PRM}*`));
  assert.ok(patternsOverlap('urn:*:raw', 'urn:dev:*'));
  assert.ok(patternsOverlap('a?c', 'ab*'));
  assert.not.ok(patternsOverlap(`${PRM}*`, 'urn:dev:prm:30002187651024_*'));
  assert.not.ok(patternsOverlap('a?c', 'abd'));
  assert.not.ok(patternsOverlap('*x', '*y'));

  assert.ok(patternCovers(`${PRM}*`, `${PRM}consumption/power/active/raw`));
  assert.ok(patternCovers(`${PRM}*`, `${PRM}consumption/*`));
  assert.ok(patternCovers('*', 'anything*?'));
  assert.ok(patternCovers('a?c', 'a?c'));
  assert.not.ok(patternCovers(`${PRM}consumption/*`, `${PRM}*`), 'wider');
  assert.not.ok(patternCovers('urn:dev:prm:*', 'urn:*'));
  assert.not.ok(patternCovers('abc', 'a?c'), 'a ? may be any character');
  assert.not.ok(patternCovers('a?c', 'a*c'), 'a * may be several characters');
});

test('globs match as SQLite GLOB does, in time linear in practice whatever the number of *', () => {
  // Against a plain regex translation, on random patterns and identifiers over a small alphabet.
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const pick = (alphabet: string, max: number) => Array.from({ length: rnd(max) }, () => alphabet[rnd(alphabet.length)]).join('');
  for (let k = 0; k < 5000; k++) {
    const p = pick('ab*?', 8);
    const s = pick('ab', 10);
    const re = new RegExp(`^${p.replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
    assert.is(globMatch(p, s), re.test(s), `${p} ~ ${s}`);
  }
  assert.ok(seriesMatcher('urn:dev:prm:*_consumption/*')('urn:dev:prm:1_consumption/power'));
  assert.not.ok(seriesMatcher('urn:dev:prm:1')('urn:dev:prm:10'));
  // Backtracking regexes took seconds on this one (×9 per extra *): one check in a blink here.
  const evil = `urn:dev:zz:${'*a'.repeat(12)}*b`;
  assert.not.ok(globMatch(evil, `urn:dev:zz:1_${'a'.repeat(480)}`));
});

test('overlap: the fast refusals and the table agree with the plain recursion on random globs', () => {
  // The definition, as a recursion over both patterns (exponential without memo: small inputs only).
  const reference = (a: string, b: string): boolean => {
    const go = (i: number, j: number): boolean => {
      if (i === a.length && j === b.length) return true;
      if (i < a.length && a[i] === '*') return go(i + 1, j) || (j < b.length && go(i, j + 1));
      if (j < b.length && b[j] === '*') return go(i, j + 1) || (i < a.length && go(i + 1, j));
      if (i < a.length && j < b.length) return (a[i] === b[j] || a[i] === '?' || b[j] === '?') && go(i + 1, j + 1);
      return false;
    };
    return go(0, 0);
  };
  let seed = 11;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const pick = (alphabet: string, max: number) => Array.from({ length: rnd(max) }, () => alphabet[rnd(alphabet.length)]).join('');
  for (let k = 0; k < 20_000; k++) {
    const a = pick(k % 3 === 0 ? 'ab' : 'ab*?', 8);
    const b = pick(k % 5 === 0 ? 'ab' : 'ab*?', 8);
    assert.is(patternsOverlap(a, b), reference(a, b), `${a} ~ ${b}`);
  }
});

test("a stranger's broad glob against many subjects: settled at the second subject it touches, or refused by the literal ends", () => {
  const subjects = Array.from({ length: 10_000 }, (_, i) => ({ name: `s${i}`, series: [`urn:dev:prm:${30000000000000 + i}_*`] }));
  const exact = Array.from({ length: 10_000 }, (_, i) => ({ name: `e${i}`, series: [`urn:dev:prm:${30000000000000 + i}_consumption/power/active/raw`] }));
  // Counted in table cells, not timed: each of these used to fill a 512 × 40 table for every subject.
  for (const glob of [('*u' + 'a*'.repeat(255)).slice(0, 512), 'urn:dev:prm:3' + '*?'.repeat(249) + 'x', '*r'.repeat(255) + '*Q']) {
    assert.equal(concernOf(glob, subjects), { kind: 'mixed', subjects: ['s0', 's1'] }, glob.slice(0, 20));
    assert.equal(concernOf(glob, exact), { kind: 'none' }, glob.slice(0, 20));
  }
});

test('a requested series longer than the limit is refused before any matching', () => {
  assert.is(checkSeries('x'.repeat(MAX_SERIES_LENGTH)), 'x'.repeat(MAX_SERIES_LENGTH));
  assert.throws(() => checkSeries(`urn:dev:prm:1_${'x'.repeat(20_000)}`), (e: unknown) => e instanceof PartyError && /longer than 512/.test(e.message));
});

test('durations: calendar years and months in UTC, weeks, days, hours; errors', () => {
  const at = (s: string, d: string) => new Date(addDuration(Date.parse(s), parseCalendarDuration(d))).toISOString();
  assert.is(at('2024-02-29T12:00:00Z', 'P3Y'), '2027-03-01T12:00:00.000Z');
  assert.is(at('2024-01-31T00:00:00Z', 'P1M'), '2024-03-02T00:00:00.000Z');
  assert.is(at('2024-06-01T00:00:00Z', 'P6M'), '2024-12-01T00:00:00.000Z');
  assert.is(at('2024-06-01T00:00:00Z', 'P1W2DT12H30M5S'), '2024-06-10T12:30:05.000Z');
  for (const bad of ['P', 'PT', '3Y', 'P1.5Y', 'P1000Y', '', 'P1Y2X']) assert.throws(() => parseCalendarDuration(bad), /ISO 8601 duration|century/, bad);
});

const fresh = (over: Partial<RecordState> = {}): RecordState => ({
  state: 'requested',
  stateAt: T0,
  series: `${PRM}*`,
  notBefore: null,
  notAfter: T0 + 1000,
  renewalUntil: null,
  legalBasis: 'consent',
  retention: null,
  ...over,
});

test('lifecycle: the decider sets how long the recipient may keep the data; a renewal keeps it unless set again', () => {
  const given = applyEvent(1, fresh(), 'given', T0 + 1, { retention: 'P1Y' });
  assert.is(given.retention, 'P1Y');
  const asked = applyEvent(1, given, 'requested', T0 + 2, { renewal: true, until: T0 + 5000 });
  assert.is(applyEvent(1, asked, 'renewed', T0 + 3, {}).retention, 'P1Y');
  assert.is(applyEvent(1, asked, 'renewed', T0 + 3, { retention: 'P30D' }).retention, 'P30D');
  assert.is(applyEvent(1, fresh(), 'given', T0 + 1, {}).retention, null, 'none unless set');
});

test('lifecycle: given, narrowed, renewed, refused renewal, withdrawn; ends are final', () => {
  const given = applyEvent(1, fresh(), 'given', T0 + 1, { until: T0 + 500, series: `${PRM}consumption/*` });
  assert.equal([given.state, given.notAfter, given.series, given.stateAt], ['given', T0 + 500, `${PRM}consumption/*`, T0 + 1]);
  const asked = applyEvent(1, given, 'requested', T0 + 2, { renewal: true, until: T0 + 5000 });
  assert.equal([asked.state, asked.renewalUntil, asked.stateAt], ['given', T0 + 5000, T0 + 1], 'a renewal asked keeps the consent in force');
  assert.throws(() => applyEvent(1, asked, 'requested', T0 + 3, { renewal: true, until: T0 + 6000 }), /renewal already waiting/);
  const kept = applyEvent(1, asked, 'refused', T0 + 3, {});
  assert.equal([kept.state, kept.renewalUntil, kept.notAfter], ['given', null, T0 + 500], 'a refused renewal leaves the consent as it was');
  assert.throws(() => applyEvent(1, kept, 'refused', T0 + 4, {}), /no renewal is waiting/);
  const renewed = applyEvent(1, applyEvent(1, kept, 'requested', T0 + 4, { renewal: true, until: T0 + 9000 }), 'renewed', T0 + 5, {});
  assert.equal([renewed.state, renewed.notAfter, renewed.renewalUntil], ['renewed', T0 + 9000, null]);
  const gone = applyEvent(1, renewed, 'withdrawn', T0 + 6, { reason: 'moved out' });
  assert.is(gone.state, 'withdrawn');
  for (const t of ['given', 'renewed', 'withdrawn', 'expired', 'refused', 'invalidated', 'requested'] as const) {
    assert.throws(() => applyEvent(1, gone, t, T0 + 7, {}), (e: unknown) => e instanceof TransitionError && /consent 1 is withdrawn: it cannot be/.test((e as Error).message), t);
  }
});

test('lifecycle: expiry only at or after the end; requests expire, are refused or withdrawn; approving twice is refused', () => {
  assert.throws(() => applyEvent(1, fresh({ state: 'given' }), 'expired', T0 + 999, {}), /not expired/);
  assert.is(applyEvent(1, fresh({ state: 'given' }), 'expired', T0 + 1000, {}).state, 'expired');
  assert.is(applyEvent(1, fresh(), 'expired', T0 + 1000, {}).state, 'expired');
  assert.is(applyEvent(1, fresh(), 'refused', T0, {}).state, 'refused');
  assert.is(applyEvent(1, fresh(), 'withdrawn', T0, {}).state, 'withdrawn');
  assert.throws(() => applyEvent(1, fresh({ state: 'given' }), 'given', T0, {}), /is given already/);
  assert.throws(() => applyEvent(1, fresh(), 'renewed', T0, {}), /is requested: it cannot be renewed/);
});

test('who a request concerns: none, one subject, or a mix that must be asked in parts', () => {
  const subjects = [
    { name: 'household-1', series: [`${PRM}*`] },
    { name: 'household-2', series: ['urn:dev:prm:30001442769831_*'] },
  ];
  assert.equal(concernOf('urn:dev:prm:30002187651024_production/power/active/raw', subjects), { kind: 'none' });
  assert.equal(concernOf(`${PRM}consumption/power/active/raw`, subjects), { kind: 'subject', subject: 'household-1' });
  assert.equal(concernOf(`${PRM}*`, subjects), { kind: 'subject', subject: 'household-1' });
  assert.equal(concernOf('urn:dev:prm:3000144276983?_*', subjects), { kind: 'mixed', subjects: ['household-1', 'household-2'] });
  assert.equal(concernOf('urn:dev:prm:*', subjects.slice(0, 1)), { kind: 'mixed', subjects: ['household-1'] }, 'theirs and more');
});

const rule = (over: Partial<ConsentRule>): ConsentRule => ({
  id: 1,
  app: 'school',
  decision: 'approve',
  requester: '*',
  series: '*',
  purpose: null,
  purposeTerm: null,
  processing: ['read', 'subscribe'],
  maxDuration: null,
  subjects: false,
  legalBasis: 'consent',
  createdAt: T0,
  ...over,
});

test('rules: the first match decides; subjects\' data only when the rule says so; durations capped', () => {
  const rules = [
    rule({ id: 1, requester: '*@research.example', purpose: 'Research', series: 'urn:dev:prm:30002187651024_*', processing: ['read'], maxDuration: 'P6M' }),
    rule({ id: 2, decision: 'refuse', requester: '*' }),
  ];
  const req = { requester: 'bob@research.example', series: 'urn:dev:prm:30002187651024_production/*', purpose: ' research ', purposeTerm: null, processing: ['read' as const], subject: null };
  assert.is(firstMatch(rules, req)?.id, 1);
  assert.is(firstMatch(rules, { ...req, processing: ['read', 'subscribe'] })?.id, 2, 'asks for more than the rule allows');
  assert.is(firstMatch(rules, { ...req, purpose: 'marketing' })?.id, 2);
  assert.is(firstMatch(rules, { ...req, requester: 'eve@elsewhere.example' })?.id, 2);
  assert.is(firstMatch(rules, { ...req, series: 'urn:dev:prm:*' })?.id, 2, 'wider than the rule');
  assert.is(firstMatch(rules, { ...req, subject: 'household-1' }), undefined, 'a person\'s data wait for the person');
  assert.is(firstMatch([rule({ subjects: true })], { ...req, subject: 'household-1' })?.id, 1);
  assert.is(ruleUntil(rules[0]!, T0 + 365 * 86_400_000, T0), Date.parse('2024-12-01T00:00:00Z'));
  assert.is(ruleUntil(rules[0]!, T0 + 86_400_000, T0), T0 + 86_400_000, 'asked for less');
  assert.is(ruleUntil(rules[1]!, T0 + 5, T0), T0 + 5);
});

test.run();
