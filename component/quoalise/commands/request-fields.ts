/**
 * The Quoalise form fields, read and checked: `identifier`, and the range `start_time`/`end_time`
 * (ISO 8601 with offset) or the older `start_date`/`end_date` (days). Every problem is a `bad-request`
 * whose text tells the requester what to change.
 *
 * Ranges are half-open: [start, end) — a record stamped exactly at `end` belongs to the next range, so
 * consecutive requests neither miss nor repeat a record.
 */
import { StanzaError } from '../../xmpp/stanza-error.js';
import { formatIsoUtc, parseDay, parseIsoWithOffset, parseLocalTime } from '../time.js';
import { parseIdentifier } from '../identifier.js';
import { QuoaliseFormatError } from '../errors.js';
import type { FieldSpec } from './form.js';

/**
 * The zone of the older clients' `start_date`/`end_date` days: the federation's data are French, and
 * its providers' day-based APIs (Enedis) count days in French local time.
 */
const LEGACY_DAY_TIME_ZONE = 'Europe/Paris';

export interface TimeRange {
  /** Epoch seconds, inclusive; absent = from the first record. */
  start?: number;
  /** Epoch seconds, exclusive; absent = until now. */
  end?: number;
}

function badRequest(err: unknown): never {
  if (err instanceof QuoaliseFormatError) throw new StanzaError('bad-request', err.message);
  throw err;
}

export function readIdentifier(fields: ReadonlyMap<string, string>): string {
  const identifier = fields.get('identifier');
  if (identifier === undefined) {
    throw new StanzaError('bad-request', 'the identifier field is required: the series to read, e.g. urn:dev:prm:00000000000000_consumption/power/active/raw');
  }
  try {
    parseIdentifier(identifier);
  } catch (err) {
    badRequest(err);
  }
  return identifier;
}

function readBound(fields: ReadonlyMap<string, string>, which: 'start' | 'end'): number | undefined {
  const time = fields.get(`${which}_time`);
  const day = fields.get(`${which}_date`);
  if (time !== undefined && day !== undefined) {
    throw new StanzaError('bad-request', `give ${which}_time or ${which}_date, not both`);
  }
  try {
    if (time !== undefined) return parseIsoWithOffset(time);
    if (day !== undefined) {
      parseDay(day); // checks the YYYY-MM-DD form and the date itself
      return parseLocalTime(`${day}T00:00:00`, LEGACY_DAY_TIME_ZONE);
    }
  } catch (err) {
    badRequest(err);
  }
  return undefined;
}

export function readRange(fields: ReadonlyMap<string, string>): TimeRange {
  const start = readBound(fields, 'start');
  const end = readBound(fields, 'end');
  if (start !== undefined && end !== undefined && start >= end) {
    throw new StanzaError('bad-request', `the range is empty: the start (${formatIsoUtc(start)}) must be before the end (${formatIsoUtc(end)}); the range is [start, end), end excluded`);
  }
  return { ...(start !== undefined && { start }), ...(end !== undefined && { end }) };
}

export const IDENTIFIER_FIELD: FieldSpec = {
  var: 'identifier',
  label: 'Series identifier',
  desc: 'The series to read, e.g. urn:dev:prm:00000000000000_consumption/power/active/raw (list_series gives those you may read).',
  required: true,
};

/** The range fields, offering the last 24 hours before `at` (ms) as defaults. */
export function rangeFields(at: number): FieldSpec[] {
  const end = Math.floor(at / 1000);
  return [
    {
      var: 'start_time',
      label: 'Start (included)',
      desc: 'ISO 8601 with a UTC offset, e.g. 2024-01-01T00:00:00+01:00. The range is half-open [start, end): a record at the start is included. Empty: from the first record.',
      value: formatIsoUtc(end - 86_400),
    },
    {
      var: 'end_time',
      label: 'End (excluded)',
      desc: 'ISO 8601 with a UTC offset, e.g. 2024-01-02T00:00:00+01:00. The range is half-open [start, end): a record at the end is excluded. Empty: until now.',
      value: formatIsoUtc(end),
    },
  ];
}
