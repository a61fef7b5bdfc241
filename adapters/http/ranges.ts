/**
 * Range splitting for APIs that serve a bounded span per call (Enedis Data Connect: 7 days of load
 * curve), as pure functions. Two kinds of APIs: those taking instants (split by seconds), and those
 * taking calendar days in a zone (`start`/`end` dates, end excluded), split on local midnights.
 */
import { parseLocalTime } from '../../component/quoalise/time.js';

export interface Window {
  /** Epoch seconds, [start, end). */
  start: number;
  end: number;
}

/** [start, end) cut into consecutive windows of at most `maxSeconds`. */
export function splitSeconds(start: number, end: number, maxSeconds: number): Window[] {
  const out: Window[] = [];
  for (let s = start; s < end; s += maxSeconds) out.push({ start: s, end: Math.min(end, s + maxSeconds) });
  return out;
}

/** The local date (YYYY-MM-DD) of an instant in `timeZone`. */
export function localDate(epochSeconds: number, timeZone: string): string {
  // en-CA formats dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(epochSeconds * 1000));
}

/** The date `days` after a YYYY-MM-DD date. */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** Local midnight starting `date` in `timeZone`, as epoch seconds. */
export function midnight(date: string, timeZone: string): number {
  return parseLocalTime(`${date}T00:00:00`, timeZone);
}

export interface DayWindow {
  /** First day, included. */
  startDate: string;
  /** Day after the last, excluded (Data Connect's `end`). */
  endDate: string;
}

/**
 * The local days covering [start, end), cut into windows of at most `maxDays` days. `end` on a local
 * midnight does not pull in the day it starts.
 */
export function splitDays(start: number, end: number, maxDays: number, timeZone: string): DayWindow[] {
  const first = localDate(start, timeZone);
  let stop = localDate(end, timeZone);
  if (midnight(stop, timeZone) < end) stop = addDays(stop, 1);
  const out: DayWindow[] = [];
  for (let d = first; d < stop; ) {
    let next = addDays(d, maxDays);
    if (next > stop) next = stop;
    out.push({ startDate: d, endDate: next });
    d = next;
  }
  return out;
}
