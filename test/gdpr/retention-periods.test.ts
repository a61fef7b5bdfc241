/** Retention periods and the carried `<retention/>` element: pure functions, no server. */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { addPeriod, cutoff, decodeRetention, encodeRetention, expiresAt, lastExpiryMs, parsePeriod, RetentionError } from '../../component/gdpr/retention.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';

const test = suite('retention periods');
const T = Date.UTC(2024, 1, 29, 12) / 1000; // 29 February 2024, 12:00 UTC

test('periods: years, months, weeks, days and times; nonsense refused with a hint', () => {
  assert.equal(parsePeriod('P3Y'), { text: 'P3Y', years: 3, months: 0, days: 0, seconds: 0 });
  assert.equal(parsePeriod('P1Y6M2W3DT4H5M6S'), { text: 'P1Y6M2W3DT4H5M6S', years: 1, months: 6, days: 17, seconds: 4 * 3600 + 5 * 60 + 6 });
  for (const bad of ['', 'P', 'PT', '3Y', 'P0D', 'P1.5Y', 'P-1Y', 'P500Y', 'P99999999D', 'P2400M1D', 'PT999999999H']) assert.throws(() => parsePeriod(bad), (e: unknown) => e instanceof RetentionError, bad);
});

test('the longest period allowed still gives a date', () => {
  assert.ok(Number.isFinite(new Date(addPeriod(1_700_000_000, parsePeriod('P200Y')) * 1000).getTime()));
  assert.ok(Number.isFinite(new Date(addPeriod(1_700_000_000, parsePeriod('P73000D')) * 1000).getTime()));
});

test('calendar arithmetic in UTC: a year after 29 February is 28 February; cutoff is its inverse', () => {
  assert.is(new Date(addPeriod(T, parsePeriod('P1Y')) * 1000).toISOString(), '2025-02-28T12:00:00.000Z');
  assert.is(new Date(addPeriod(T, parsePeriod('P1M')) * 1000).toISOString(), '2024-03-29T12:00:00.000Z');
  assert.is(new Date(addPeriod(T, parsePeriod('P1DT1H')) * 1000).toISOString(), '2024-03-01T13:00:00.000Z');
  const now = Date.UTC(2026, 10, 27) / 1000;
  assert.is(new Date(cutoff(now, parsePeriod('P3Y')) * 1000).toISOString(), '2023-11-27T00:00:00.000Z');
  assert.is(addPeriod(cutoff(now, parsePeriod('P18M')), parsePeriod('P18M')), now);
});

test('a record expires at the earlier of its time plus max-age and until', () => {
  const r = new Map([
    ['a', { maxAge: parsePeriod('P1Y') }],
    ['b', { maxAge: parsePeriod('P1Y'), until: T + 100 }],
  ]);
  assert.is(expiresAt(r, 'a', T), addPeriod(T, parsePeriod('P1Y')));
  assert.is(expiresAt(r, 'b', T), T + 100);
  assert.is(expiresAt(r, 'c', T), null, 'a series without retention is kept without limit');
  assert.is(lastExpiryMs(r, [{ name: 'a', time: T }, { name: 'b', time: T }]), Math.ceil(addPeriod(T, parsePeriod('P1Y')) * 1000));
  assert.is(lastExpiryMs(r, [{ name: 'a', time: T }, { name: 'c', time: T }]), null, 'one unlimited record keeps the message');
});

test('the wire element round-trips; a malformed one is refused, not ignored', () => {
  const r = new Map([['urn:dev:prm:30000000000001_consumption/power/active/raw', { maxAge: parsePeriod('P3Y'), until: 1830297600 }]]);
  const xml = encodeRetention(r);
  assert.is(xml, '<retention xmlns="urn:fedgate:gdpr:0"><series identifier="urn:dev:prm:30000000000001_consumption/power/active/raw" max-age="P3Y" until="2028-01-01T00:00:00Z"/></retention>');
  const back = decodeRetention(parseXml(`<message>${xml}</message>`))!;
  assert.equal([...back.keys()], [...r.keys()]);
  assert.is(back.get([...r.keys()][0]!)!.until, 1830297600);
  assert.is(decodeRetention(parseXml('<message/>')), null);
  assert.throws(() => decodeRetention(parseXml('<message><retention xmlns="urn:fedgate:gdpr:0"><series identifier="x" max-age="forever"/></retention></message>')), /ISO 8601/);
  assert.throws(() => decodeRetention(parseXml('<message><retention xmlns="urn:fedgate:gdpr:0"><series max-age="P1Y"/></retention></message>')), /identifier/);
  assert.is(encodeRetention(new Map()), '');
});

test.run();
