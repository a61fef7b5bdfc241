import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { QuoaliseFormatError } from '../../component/quoalise/errors.js';
import { formatIsoUtc, parseDay, parseDuration, parseIsoWithOffset, parseLocalTime, TimeFormatError } from '../../component/quoalise/time.js';

function rejects(f: () => unknown, hint?: string): void {
  try {
    f();
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, TimeFormatError);
    assert.instance(e, QuoaliseFormatError);
    if (hint !== undefined) assert.match((e as Error).message, hint);
  }
}

test('parseIsoWithOffset: Z and ±hh:mm offsets', () => {
  assert.is(parseIsoWithOffset('2024-01-01T00:00:00+01:00'), 1704063600);
  assert.is(parseIsoWithOffset('2023-12-31T23:00:00Z'), 1704063600);
  assert.is(parseIsoWithOffset('2023-12-31T17:30:00-05:30'), 1704063600);
  assert.is(parseIsoWithOffset('2024-01-01T00:00+01:00'), 1704063600);
  assert.is(parseIsoWithOffset('1970-01-01T00:00:00Z'), 0);
  assert.is(parseIsoWithOffset('1969-12-31T23:59:59Z'), -1);
});

test('parseIsoWithOffset: fractions give the double nearest the written time', () => {
  assert.is(parseIsoWithOffset('2023-12-31T23:00:00.123Z'), 1704063600.123);
  assert.is(parseIsoWithOffset('2023-12-31T23:00:00.5+00:00'), 1704063600.5);
  assert.is(parseIsoWithOffset('2023-12-31T23:00:00.123456789Z'), 1704063600.123456789);
  assert.is(parseIsoWithOffset('1969-12-31T23:59:59.5Z'), -0.5);
});

test('parseIsoWithOffset: a time without offset is refused, and the message says how to fix it', () => {
  rejects(() => parseIsoWithOffset('2024-01-01T00:00:00'), '+01:00');
  rejects(() => parseIsoWithOffset('2024-01-01T00:00:00.5'), 'offset');
});

test('parseIsoWithOffset: nonsense is refused', () => {
  for (const s of [
    '2024-13-01T00:00:00Z', '2024-00-10T00:00:00Z', '2024-02-30T00:00:00Z', '2023-02-29T00:00:00Z', '2024-04-31T00:00:00Z',
    '2024-01-01T24:00:00Z', '2024-01-01T23:60:00Z', '2024-01-01T23:59:60Z', '2024-01-01T00:00:00+24:00', '2024-01-01T00:00:00+01:60',
    '2024-01-01', '2024-01-01 00:00:00Z', '2024-1-1T00:00:00Z', '2024-01-01T00:00:00+0100', '2024-01-01T00:00:00z',
    ' 2024-01-01T00:00:00Z', '2024-01-01T00:00:00.Z', '1704063600', '', 'tomorrow',
  ]) rejects(() => parseIsoWithOffset(s));
  assert.is(parseIsoWithOffset('2024-02-29T00:00:00Z'), 1709164800);
});

test('parseDay: UTC midnight, real days only', () => {
  assert.is(parseDay('2024-01-01'), 1704067200);
  assert.is(parseDay('2024-02-29'), 1709164800);
  for (const s of ['2023-02-29', '2024-13-01', '2024-01-32', '2024-1-1', '2024-01-01T00:00:00Z', '']) rejects(() => parseDay(s));
});

test('parseDuration: days, hours, minutes, seconds, weeks', () => {
  assert.is(parseDuration('PT30M'), 1800);
  assert.is(parseDuration('PT10M'), 600);
  assert.is(parseDuration('P1D'), 86400);
  assert.is(parseDuration('P1W'), 604800);
  assert.is(parseDuration('P1DT2H3M4.5S'), 93784.5);
  assert.is(parseDuration('PT1H'), 3600);
  assert.is(parseDuration('P0D'), 0);
});

test('parseDuration: years and months refused with a reason, nonsense refused', () => {
  rejects(() => parseDuration('P1M'), 'months');
  rejects(() => parseDuration('P1Y'), 'years');
  rejects(() => parseDuration('P1Y2M3D'), 'fixed length');
  for (const s of ['', 'P', 'PT', 'P1DT', '1D', 'PT-1H', 'P1.5D', 'P1W2D', 'pt30m', 'PT30M ', 'P1H']) rejects(() => parseDuration(s));
});

test('formatIsoUtc: whole and fractional seconds, round trip with parseIsoWithOffset', () => {
  assert.is(formatIsoUtc(1704063600), '2023-12-31T23:00:00Z');
  assert.is(formatIsoUtc(1704063600.25), '2023-12-31T23:00:00.25Z');
  assert.is(formatIsoUtc(0), '1970-01-01T00:00:00Z');
  assert.is(formatIsoUtc(-0.5), '1969-12-31T23:59:59.5Z');
  for (const t of [1704063600.123, 1704063600.1234567, 0.1, 1e-6, 4102444800.999999, 1234567890.000001]) {
    assert.is(parseIsoWithOffset(formatIsoUtc(t)), t, String(t));
  }
  rejects(() => formatIsoUtc(NaN));
  rejects(() => formatIsoUtc(1e20));
});

test('parseLocalTime: Europe/Paris winter (+01:00) and summer (+02:00)', () => {
  assert.is(parseLocalTime('2024-01-15T12:00:00', 'Europe/Paris'), parseIsoWithOffset('2024-01-15T12:00:00+01:00'));
  assert.is(parseLocalTime('2024-07-15T12:00:00', 'Europe/Paris'), parseIsoWithOffset('2024-07-15T12:00:00+02:00'));
  assert.is(parseLocalTime('2024-07-15 12:00:00.25', 'Europe/Paris'), parseIsoWithOffset('2024-07-15T12:00:00.25+02:00'));
  assert.is(parseLocalTime('2024-07-15T12:00:00', 'UTC'), parseIsoWithOffset('2024-07-15T12:00:00Z'));
  assert.is(parseLocalTime('2024-07-15T12:00:00', 'America/New_York'), parseIsoWithOffset('2024-07-15T12:00:00-04:00'));
  assert.is(parseLocalTime('2024-07-15T12:00:00+05:00', 'Europe/Paris'), parseIsoWithOffset('2024-07-15T12:00:00+05:00'));
});

test('parseLocalTime: DST edges in Europe/Paris', () => {
  // 2024-03-31: 02:00 CET jumps to 03:00 CEST. 01:59 is still winter, 03:00 summer, 02:30 does not exist.
  assert.is(parseLocalTime('2024-03-31T01:59:00', 'Europe/Paris'), parseIsoWithOffset('2024-03-31T01:59:00+01:00'));
  assert.is(parseLocalTime('2024-03-31T03:00:00', 'Europe/Paris'), parseIsoWithOffset('2024-03-31T03:00:00+02:00'));
  assert.is(parseLocalTime('2024-03-31T02:30:00', 'Europe/Paris'), parseIsoWithOffset('2024-03-31T03:30:00+02:00'));
  // 2024-10-27: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice, the first one is taken.
  assert.is(parseLocalTime('2024-10-27T02:30:00', 'Europe/Paris'), parseIsoWithOffset('2024-10-27T02:30:00+02:00'));
  assert.is(parseLocalTime('2024-10-27T03:00:00', 'Europe/Paris'), parseIsoWithOffset('2024-10-27T03:00:00+01:00'));
  assert.is(parseLocalTime('2024-10-27T01:59:59', 'Europe/Paris'), parseIsoWithOffset('2024-10-27T01:59:59+02:00'));
});

test('parseLocalTime: bad input and unknown zones', () => {
  rejects(() => parseLocalTime('2024-02-30T12:00:00', 'Europe/Paris'));
  rejects(() => parseLocalTime('15/07/2024 12:00', 'Europe/Paris'));
  rejects(() => parseLocalTime('2024-07-15T12:00:00', 'Mars/Olympus_Mons'), 'time zone');
});

test.run();
