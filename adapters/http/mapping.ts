/**
 * JSON answers → records, as pure functions: the generic mapping of the `http` adapter (where the
 * records are, which fields hold time, value and unit) and Data Connect's `meter_reading`. Anything that
 * does not fit is refused as a whole (`malformed-data`), naming the element.
 */
import type { SeriesRecord } from '../../component/quoalise/types.js';
import { parseDuration, parseIsoWithOffset, parseLocalTime } from '../../component/quoalise/time.js';
import { malformed, record } from '../common/records.js';
import { midnight } from './ranges.js';
import { DATACONNECT_ZONE, type Measure } from './dataconnect.js';

/** The value at a dotted path (`data.items`); '' is the document itself. */
export function readPath(doc: unknown, path: string): unknown {
  if (path === '') return doc;
  let cur = doc;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

export type TimeFormat = 'epoch_s' | 'epoch_ms' | 'iso' | 'local' | 'date';

export interface RecordMapping {
  records: string;
  time_field: string;
  time_format: TimeFormat;
  time_zone: string;
  value_field: string;
  unit_field?: string | undefined;
  unit?: string | undefined;
  /** Read `"540"` as the number 540 (JSON APIs often quote numbers). */
  numeric_strings: boolean;
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function time(raw: unknown, m: RecordMapping): number | null {
  try {
    switch (m.time_format) {
      case 'epoch_s':
        return typeof raw === 'number' ? raw : typeof raw === 'string' && NUMBER.test(raw) ? Number(raw) : null;
      case 'epoch_ms':
        return typeof raw === 'number' ? raw / 1000 : typeof raw === 'string' && NUMBER.test(raw) ? Number(raw) / 1000 : null;
      case 'iso':
        return typeof raw === 'string' ? parseIsoWithOffset(raw) : null;
      case 'local':
        return typeof raw === 'string' ? parseLocalTime(raw, m.time_zone) : null;
      case 'date':
        return typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(raw) ? midnight(raw, m.time_zone) : null;
    }
  } catch {
    return null;
  }
}

/** Records of one series from an API answer, by the generic mapping. */
export function mapRecords(doc: unknown, m: RecordMapping, name: string, issuer: string): SeriesRecord[] {
  const items = readPath(doc, m.records);
  if (!Array.isArray(items)) throw malformed(issuer, `no array at "${m.records || '(the document)'}" in the answer`);
  return items.map((item, i) => {
    const t = time(readPath(item, m.time_field), m);
    if (t === null || !Number.isFinite(t)) throw malformed(issuer, `${m.records}[${i}].${m.time_field} is not a time in the ${m.time_format} format`);
    let value = readPath(item, m.value_field);
    if (m.numeric_strings && typeof value === 'string' && NUMBER.test(value.trim())) value = Number(value);
    const unit = m.unit_field ? readPath(item, m.unit_field) : undefined;
    if (unit !== undefined && unit !== null && typeof unit !== 'string') throw malformed(issuer, `${m.records}[${i}].${m.unit_field} is not a text`);
    return record(name, t, value, (unit as string | undefined) ?? m.unit, issuer, `${m.records}[${i}]`);
  });
}

/** Records of a Data Connect `meter_reading` answer (see dataconnect.ts for the shape). */
export function dataconnectRecords(doc: unknown, name: string, measure: Measure, issuer: string): SeriesRecord[] {
  const reading = readPath(doc, 'meter_reading') as Record<string, unknown> | undefined;
  const items = reading?.interval_reading;
  if (!Array.isArray(items)) throw malformed(issuer, 'no meter_reading.interval_reading array in the answer');
  const unit = readPath(reading, 'reading_type.unit');
  return items.map((item: Record<string, unknown>, i) => {
    const where = `interval_reading[${i}]`;
    const date = item?.date;
    if (typeof date !== 'string') throw malformed(issuer, `${where}.date is missing`);
    let t: number;
    try {
      if (measure.shape === 'daily') {
        // The day (max power: the instant of the maximum within it) — the value covers the whole day.
        t = midnight(date.slice(0, 10), DATACONNECT_ZONE);
      } else {
        const length = typeof item.interval_length === 'string' ? item.interval_length : 'PT30M';
        t = parseLocalTime(date.replace(' ', 'T'), DATACONNECT_ZONE) - parseDuration(length);
      }
    } catch (err) {
      throw malformed(issuer, `${where}: ${(err as Error).message}`);
    }
    const v = item.value;
    const value = typeof v === 'string' && NUMBER.test(v.trim()) ? Number(v) : v;
    if (typeof value !== 'number') throw malformed(issuer, `${where}.value ${JSON.stringify(v)} is not a number`);
    return record(name, t, value, typeof unit === 'string' ? unit : (measure.measurement.unit as string), issuer, where);
  });
}
