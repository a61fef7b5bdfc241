/**
 * Calendar durations for consent validities: ISO 8601 `PnYnMnWnDTnHnMnS` (P3Y, P6M, P90D, PT1H). Unlike
 * Quoalise's sampling intervals (quoalise/time.ts), years and months are allowed here and added on
 * the calendar, in UTC: three years from 2024-02-29 end on 2027-03-01, as a legal text would count.
 */
export class DurationError extends Error {
  override name = 'DurationError';
}

export interface CalendarDuration {
  text: string;
  years: number;
  months: number;
  days: number;
  /** Hours, minutes and seconds, in ms. */
  ms: number;
}

const ISO = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

export function parseCalendarDuration(text: string): CalendarDuration {
  const m = ISO.exec(text);
  if (!m || text === 'P' || text.endsWith('T') || m.slice(1).every((g) => g === undefined)) {
    throw new DurationError(`"${text}" is not an ISO 8601 duration such as P3Y, P6M, P90D or PT12H`);
  }
  const n = (i: number) => Number(m[i] ?? 0);
  const d = { text, years: n(1), months: n(2), days: n(3) * 7 + n(4), ms: ((n(5) * 60 + n(6)) * 60 + n(7)) * 1000 };
  if (d.years + d.months / 12 + d.days / 365 + d.ms / 3.15e10 > 100) throw new DurationError(`"${text}" is longer than a century`);
  return d;
}

/** `at` (ms since the epoch) plus the duration, on the UTC calendar. */
export function addDuration(at: number, d: CalendarDuration): number {
  const t = new Date(at);
  t.setUTCFullYear(t.getUTCFullYear() + d.years, t.getUTCMonth() + d.months, t.getUTCDate() + d.days);
  return t.getTime() + d.ms;
}
