/**
 * Times as they arrive on command forms and in legacy messages, turned into epoch seconds (UTC,
 * fractional allowed), the unit of SeriesRecord.time.
 */
import { QuoaliseFormatError } from './errors.js';

/** A time, day or duration the caller cannot use; the message is meant for the requester. */
/** Record times fedgate keeps: 1970-01-01 to 9999-12-31, epoch seconds (past it no date can show them). */
export const FIRST_RECORD_TIME = 0;
export const LAST_RECORD_TIME = 253_402_300_799;

export class TimeFormatError extends QuoaliseFormatError {
  override name = 'TimeFormatError';
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?$/;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

interface WallClock {
  year: number; month: number; day: number; hour: number; minute: number; second: number;
  /** Fractional-second digits as written, kept as text so the result is the double nearest the decimal. */
  fraction: string;
}

function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? s.slice(0, 60) + '…' : s);
}

/** Milliseconds of a wall-clock reading taken as UTC, or NaN when a component is out of range. */
function wallClockMs(w: WallClock): number {
  if (w.hour > 23 || w.minute > 59 || w.second > 59) return NaN;
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  const d = new Date(0);
  d.setUTCFullYear(w.year, w.month - 1, w.day);
  d.setUTCHours(w.hour, w.minute, w.second, 0);
  // Date silently rolls over (Feb 30 → Mar 1): a reading is valid only if its components come back.
  if (d.getUTCFullYear() !== w.year || d.getUTCMonth() !== w.month - 1 || d.getUTCDate() !== w.day) return NaN;
  return d.getTime();
}

/**
 * Whole seconds plus the written fraction. Parsing "<seconds>.<digits>" as one decimal gives the double
 * nearest the written time: the same number a SenML decoder gets from that time, so range bounds and
 * record times compare exactly.
 */
function withFraction(wholeSeconds: number, fraction: string): number {
  if (fraction === '') return wholeSeconds;
  return wholeSeconds >= 0 ? Number(`${wholeSeconds}.${fraction}`) : wholeSeconds + Number(`0.${fraction}`);
}

function parseOffsetSeconds(offset: string): number | null {
  if (offset === 'Z') return 0;
  const hours = Number(offset.slice(1, 3));
  const minutes = Number(offset.slice(4, 6));
  if (hours > 23 || minutes > 59) return null;
  return (offset[0] === '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
}

function matchDateTime(s: string): { wall: WallClock; offset: string | undefined } | null {
  const m = DATE_TIME.exec(s);
  if (!m) return null;
  return {
    wall: {
      year: Number(m[1]), month: Number(m[2]), day: Number(m[3]),
      hour: Number(m[4]), minute: Number(m[5]), second: Number(m[6] ?? 0), fraction: m[7] ?? '',
    },
    offset: m[8],
  };
}

/**
 * Parses an ISO 8601 date-time with an explicit offset (`2024-01-01T00:00:00+01:00`, `…Z`, seconds and
 * fraction optional) into epoch seconds. A time without offset throws TimeFormatError asking for one:
 * guessing the requester's zone would shift their range by hours.
 */
export function parseIsoWithOffset(s: string): number {
  const parsed = typeof s === 'string' && !s.includes(' ') ? matchDateTime(s) : null;
  if (parsed === null) {
    throw new TimeFormatError(`${quote(String(s))} is not an ISO 8601 date-time such as 2024-01-01T00:00:00+01:00`);
  }
  if (parsed.offset === undefined) {
    throw new TimeFormatError(`${quote(s)} has no UTC offset: add one, e.g. ${s}+01:00 (or Z for UTC)`);
  }
  const offset = parseOffsetSeconds(parsed.offset);
  const ms = wallClockMs(parsed.wall);
  if (offset === null || Number.isNaN(ms)) throw new TimeFormatError(`${quote(s)} is not a valid date-time`);
  return withFraction(ms / 1000 - offset, parsed.wall.fraction);
}

/**
 * Parses `YYYY-MM-DD` (older clients' `start_date`/`end_date`) as **UTC** midnight of that day, in epoch
 * seconds. quoalise.md does not say which zone the day is in; the caller documents this choice.
 */
export function parseDay(s: string): number {
  const m = typeof s === 'string' ? DAY.exec(s) : null;
  const ms = m ? wallClockMs({ year: Number(m[1]), month: Number(m[2]), day: Number(m[3]), hour: 0, minute: 0, second: 0, fraction: '' }) : NaN;
  if (Number.isNaN(ms)) throw new TimeFormatError(`${quote(String(s))} is not a valid day such as 2024-01-31`);
  return ms / 1000;
}

const DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const WEEKS = /^P(\d+)W$/;

/**
 * Parses an ISO 8601 duration `PnDTnHnMnS` or `PnW` into seconds. A day counts 86,400 s (a UTC day; a
 * local day across a DST change is not). Years and months have no fixed length and are rejected.
 */
export function parseDuration(s: string): number {
  const text = String(s);
  const weeks = WEEKS.exec(text);
  const m = DURATION.exec(text);
  // "P" and "PT" alone match the pattern but say nothing.
  if (!weeks && (!m || text === 'P' || text.endsWith('T'))) {
    if (/^P[^T]*[YM]/.test(text)) {
      throw new TimeFormatError(`${quote(text)}: years and months have no fixed length; give the duration in days (e.g. P30D)`);
    }
    throw new TimeFormatError(`${quote(text)} is not an ISO 8601 duration such as PT30M, P1D or P1W`);
  }
  const seconds = weeks
    ? Number(weeks[1]) * 7 * 86400
    : Number(m?.[1] ?? 0) * 86400 + Number(m?.[2] ?? 0) * 3600 + Number(m?.[3] ?? 0) * 60 + Number(m?.[4] ?? 0);
  if (!Number.isFinite(seconds)) throw new TimeFormatError(`${quote(text)} is too long a duration`);
  return seconds;
}

/**
 * Formats epoch seconds as ISO 8601 UTC (`2024-01-01T00:00:00Z`, `…00:00:00.25Z`). The fraction is
 * written with the digits of the number's shortest representation, so parseIsoWithOffset gives back
 * exactly the same number for times from 1970 on.
 */
export function formatIsoUtc(seconds: number): string {
  const whole = Math.floor(seconds);
  const date = new Date(whole * 1000);
  if (!Number.isFinite(seconds) || Number.isNaN(date.getTime())) {
    throw new TimeFormatError(`${seconds} is not a time that can be written as a date`);
  }
  const base = date.toISOString().slice(0, -5); // drop ".000Z"
  if (whole === seconds) return base + 'Z';
  const repr = String(seconds);
  if (/^\d+\.\d+$/.test(repr)) return `${base}.${repr.slice(repr.indexOf('.') + 1)}Z`;
  // Before 1970 or below a microsecond: millisecond precision, all Date offers.
  return new Date(Math.round(seconds * 1000)).toISOString().replace(/\.?0+Z$/, 'Z');
}

// ------------------------------------------------------------------------------------- local times

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at an instant, in ms (positive east of Greenwich), via Intl only. */
function zoneOffsetMs(instantMs: number, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone, hourCycle: 'h23',
        year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
      });
    } catch {
      throw new TimeFormatError(`unknown time zone ${quote(timeZone)}`);
    }
    formatters.set(timeZone, f);
  }
  const whole = Math.floor(instantMs / 1000) * 1000;
  const part: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(whole))) part[p.type] = Number(p.value);
  const wall = wallClockMs({
    year: part.year ?? NaN, month: part.month ?? NaN, day: part.day ?? NaN,
    hour: part.hour ?? NaN, minute: part.minute ?? NaN, second: part.second ?? NaN, fraction: '',
  });
  return wall - whole;
}

/**
 * Parses a date-time without zone (`2019-06-01T12:00:00`, also with a space instead of `T`, as Python's
 * str(datetime) writes it) as wall-clock time in an IANA zone, into epoch seconds; an offset, if the
 * string has one, is used instead of the zone. DST is resolved like java.time and Temporal's
 * "compatible": a time that occurs twice (autumn) is the first occurrence, a time that does not exist
 * (spring gap) is moved forward by the gap (02:30 → 03:30).
 */
export function parseLocalTime(s: string, timeZone: string): number {
  const parsed = typeof s === 'string' ? matchDateTime(s) : null;
  const localMs = parsed ? wallClockMs(parsed.wall) : NaN;
  if (parsed === null || Number.isNaN(localMs)) {
    throw new TimeFormatError(`${quote(String(s))} is not a valid date-time such as 2019-06-01T12:00:00`);
  }
  if (parsed.offset !== undefined) {
    const offset = parseOffsetSeconds(parsed.offset);
    if (offset === null) throw new TimeFormatError(`${quote(s)} has an invalid UTC offset`);
    return withFraction(localMs / 1000 - offset, parsed.wall.fraction);
  }
  // The offsets a day before and a day after bracket any DST change near this reading; each gives a
  // candidate instant, valid if the zone shows our wall-clock time at that instant.
  const before = zoneOffsetMs(localMs - 86_400_000, timeZone);
  const after = zoneOffsetMs(localMs + 86_400_000, timeZone);
  const candidates = [localMs - before, localMs - after].filter((t) => t + zoneOffsetMs(t, timeZone) === localMs);
  const instantMs = candidates.length > 0 ? Math.min(...candidates) : localMs - before;
  return withFraction(instantMs / 1000, parsed.wall.fraction);
}
