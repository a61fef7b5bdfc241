/**
 * Retention, carried with the data (the federation's GDPR study: "a maximum retention period carried by
 * every transferred datum"). Pure functions: ISO 8601 retention periods, when a record expires, and
 * the `urn:fedgate:gdpr:0` element every data message carries beside its Quoalise payload:
 *
 *   <retention xmlns="urn:fedgate:gdpr:0">
 *     <series identifier="urn:dev:prm:…_consumption/power/active/raw" max-age="P3Y"/>
 *     <series identifier="urn:dev:prm:…_production/power/active/raw" max-age="P1Y" until="2027-06-30T00:00:00Z"/>
 *   </retention>
 *
 * A record of a listed series may be kept until its own time plus `max-age` (the source keeps its
 * data that long: so may its recipients), and never after `until` when given (a consent's limit: "the
 * recipient may keep it until…"). Clients that do not know the namespace ignore the element.
 */
import { escapeAttr } from '../xmpp/xml.js';
import { formatIsoUtc, parseIsoWithOffset, TimeFormatError } from '../quoalise/time.js';
import type { Element } from '../xmpp/xml.js';

export const NS_GDPR = 'urn:fedgate:gdpr:0';

/** A retention period: calendar years and months, then days and seconds (ISO 8601 `PnYnMnDTnHnMnS`). */
export interface Period {
  text: string;
  years: number;
  months: number;
  days: number;
  seconds: number;
}

export class RetentionError extends Error {
  override name = 'RetentionError';
}

const PERIOD_RE = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** Parses `P3Y`, `P1Y6M`, `P30D`, `PT12H`…; refuses an empty or zero period. */
export function parsePeriod(text: string): Period {
  const m = PERIOD_RE.exec(text.trim());
  if (!m || text.trim() === 'P' || text.trim().endsWith('T')) {
    throw new RetentionError(`"${text}" is not an ISO 8601 period such as P3Y, P18M, P30D or PT12H`);
  }
  const n = (i: number) => Number(m[i] ?? 0);
  const p: Period = { text: text.trim(), years: n(1), months: n(2), days: n(3) * 7 + n(4), seconds: n(5) * 3600 + n(6) * 60 + n(7) };
  if (p.years + p.months + p.days + p.seconds === 0) throw new RetentionError(`"${text}" is an empty period: nothing could be kept`);
  // The whole period, not each part: P99999999D would put the limit past what a date can hold.
  const approxDays = p.years * 366 + p.months * 31 + p.days + p.seconds / 86_400;
  if (approxDays > 200 * 366) throw new RetentionError(`"${text}" is longer than any retention the GDPR allows to justify (200 years at most)`);
  return p;
}

/** `t` (epoch seconds) plus the period, in UTC calendar arithmetic (P1Y after 29 February is 28 February). */
export function addPeriod(t: number, p: Period): number {
  const d = new Date(t * 1000);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCFullYear(d.getUTCFullYear() + p.years);
  d.setUTCMonth(d.getUTCMonth() + p.months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d.getTime() / 1000 + (t % 1) + p.days * 86_400 + p.seconds;
}

/** The oldest time still kept at `now` under a period: records stamped before it are past retention. */
export function cutoff(now: number, p: Period): number {
  // Inverse of addPeriod, close enough for deletion: subtract calendar parts, then the fixed ones.
  const d = new Date(now * 1000);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCFullYear(d.getUTCFullYear() - p.years);
  d.setUTCMonth(d.getUTCMonth() - p.months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d.getTime() / 1000 - p.days * 86_400 - p.seconds;
}

/** What a message says of one series: keep each record for `maxAge` after its time, never after `until`. */
export interface SeriesRetention {
  maxAge?: Period;
  /** Epoch seconds. */
  until?: number;
}

/** series identifier → its retention. */
export type CarriedRetention = Map<string, SeriesRetention>;

/** When a record of `series` stamped `t` expires under carried retention, or null if kept without limit. */
export function expiresAt(retention: CarriedRetention | null, series: string, t: number): number | null {
  const r = retention?.get(series);
  if (!r) return null;
  const byAge = r.maxAge ? addPeriod(t, r.maxAge) : Infinity;
  const e = Math.min(byAge, r.until ?? Infinity);
  return e === Infinity ? null : e;
}

/** When the last of these records expires (ms since the epoch), or null if one of them is kept without limit. */
export function lastExpiryMs(retention: CarriedRetention | null, records: ReadonlyArray<{ name: string; time: number }>): number | null {
  let last = -Infinity;
  for (const r of records) {
    const e = expiresAt(retention, r.name, r.time);
    if (e === null) return null;
    if (e > last) last = e;
  }
  return last === -Infinity ? null : Math.ceil(last * 1000);
}

/** The `<retention/>` element, serialized; '' when nothing is limited. */
export function encodeRetention(retention: CarriedRetention): string {
  let out = '';
  for (const [series, r] of retention) {
    if (!r.maxAge && r.until === undefined) continue;
    out += `<series identifier="${escapeAttr(series)}"${r.maxAge ? ` max-age="${r.maxAge.text}"` : ''}${r.until !== undefined ? ` until="${formatIsoUtc(r.until)}"` : ''}/>`;
  }
  return out ? `<retention xmlns="${NS_GDPR}">${out}</retention>` : '';
}

/**
 * Reads a message's `<retention/>` (null when it has none). A malformed entry is refused as a whole:
 * data whose limits cannot be read must not be kept as if it had none.
 */
export function decodeRetention(message: Element): CarriedRetention | null {
  const el = message.getChild('retention', NS_GDPR);
  if (!el) return null;
  const out: CarriedRetention = new Map();
  for (const s of el.getChildren('series')) {
    const id = s.attrs.identifier;
    if (!id) throw new RetentionError('a retention entry without its series identifier');
    const r: SeriesRetention = {};
    if (s.attrs['max-age'] !== undefined) r.maxAge = parsePeriod(s.attrs['max-age']);
    if (s.attrs.until !== undefined) {
      try {
        r.until = parseIsoWithOffset(s.attrs.until);
      } catch (err) {
        if (err instanceof TimeFormatError) throw new RetentionError(`retention of ${id}: until ${err.message}`);
        throw err;
      }
    }
    out.set(id, r);
  }
  return out;
}

/** The contract's plain form (adapters/contract.ts, Delivery.retention) from carried retention. */
export function retentionList(r: CarriedRetention | null): Array<{ series: string; maxAge?: string; until?: number }> | undefined {
  if (!r || r.size === 0) return undefined;
  return [...r].map(([series, v]) => ({ series, ...(v.maxAge ? { maxAge: v.maxAge.text } : {}), ...(v.until !== undefined ? { until: v.until } : {}) }));
}

/** Delivery.retention lists, read once each into a map: an adapter asks for every record it writes. */
const readLists = new WeakMap<object, CarriedRetention>();

/** For adapters: when a delivered record expires (epoch seconds) under Delivery.retention, or null. */
export function recordExpiry(retention: ReadonlyArray<{ series: string; maxAge?: string; until?: number }> | undefined, series: string, time: number): number | null {
  if (!retention) return null;
  let read = readLists.get(retention);
  if (!read) {
    read = new Map();
    // The first entry of a series counts, as it always has.
    for (const r of retention) if (!read.has(r.series)) read.set(r.series, { ...(r.maxAge ? { maxAge: parsePeriod(r.maxAge) } : {}), ...(r.until !== undefined ? { until: r.until } : {}) });
    readLists.set(retention, read);
  }
  return expiresAt(read, series, time);
}

/** As JSON for the inbox (`retention` column) and across threads. */
export function retentionToJson(r: CarriedRetention | null): string | null {
  if (!r || r.size === 0) return null;
  return JSON.stringify([...r].map(([s, v]) => [s, { ...(v.maxAge ? { maxAge: v.maxAge.text } : {}), ...(v.until !== undefined ? { until: v.until } : {}) }]));
}

export function retentionFromJson(json: string | null): CarriedRetention | null {
  if (!json) return null;
  const entries = JSON.parse(json) as Array<[string, { maxAge?: string; until?: number }]>;
  return new Map(entries.map(([s, v]) => [s, { ...(v.maxAge ? { maxAge: parsePeriod(v.maxAge) } : {}), ...(v.until !== undefined ? { until: v.until } : {}) }]));
}
