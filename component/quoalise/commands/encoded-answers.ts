/**
 * The parts of command answers computed in the app's worker thread (component/workers/app-ops.ts):
 * calling the adapter and encoding its records, so that 100,000 records are never encoded on the XMPP
 * thread. The main thread gets a string it places in the answer as is.
 */
import { AdapterError, type Adapter, type HistoryQuery } from '../../../adapters/contract.js';
import type { DataBlock, RowBlock } from '../types.js';
import { seriesMatcher } from '../../transfer/series-pattern.js';
import { encodeMeta } from '../meta.js';
import { encodeQuoaliseUpTo } from '../payload.js';
import { NS_QUOALISE } from '../namespaces.js';
import { QuoaliseFormatError } from '../errors.js';
import { formatIsoUtc } from '../time.js';
import { escapeAttr, illegalXmlChar } from '../../xmpp/xml.js';
import { sha256Hex } from '../../trace/digest.js';
import { encodeRetention, type CarriedRetention, type Period } from '../../gdpr/retention.js';
import { pageSet, type CataloguePage } from './catalogue-page.js';

/** A `quoalise` element, serialized, the number of records (or series) in it, and its SHA-256 for the log. */
export interface EncodedAnswer {
  xml: string;
  count: number;
  /** SHA-256 (hex) of `xml`: hashed here, in the app's worker, so that the XMPP thread never hashes 3 MB answers. */
  digest: string;
}

/** `digests`: whether the transparency log is on (off, nothing would use the hash: 3 MB are not hashed for nothing). */
function answer(xml: string, count: number, digests: boolean): EncodedAnswer {
  return { xml, count, digest: digests ? sha256Hex(xml) : '' };
}

/** get_history asked of the worker: the adapter's query, and until when the requester may keep the answer (a consent's retention; epoch seconds). */
export type HistoryAnswerQuery = HistoryQuery & { keepUntil?: number };

/** The retention period the app's policies set for a series (component/gdpr/retention-policies.ts), or null. */
export type RetentionOf = (series: string) => Period | null;

/**
 * get_history's payload, encoded as the adapter's records or rows are read. When there are `query.limit`
 * records or more the core refuses the request (too many records), so the encoding stops there. No
 * record at all still gives one `data` with a `meta`: the reference client reads the first
 * `quoalise/data` and requires its `meta`. The answer carries its retention (urn:fedgate:gdpr:0) after
 * the data, as messages do: the app's period (`max-age`) and the consent's limit (`until`).
 */
export async function historyXml(adapter: Adapter, q: HistoryAnswerQuery, retentionOf?: RetentionOf, digests = true): Promise<EncodedAnswer> {
  const { keepUntil, ...query } = q;
  const blocks = askedFor(await adapter.history!(query), query);
  const range = { start: query.start ?? -Infinity, end: query.end ?? Infinity };
  const { xml, count } = encodeQuoaliseUpTo(blocks.length > 0 ? blocks : [{ meta: {}, records: [] }], query.limit, range);
  if (xml === '') return { xml, count, digest: '' };
  const maxAge = retentionOf?.(query.series) ?? undefined;
  const terms: CarriedRetention = new Map(maxAge || keepUntil !== undefined ? [[query.series, { ...(maxAge ? { maxAge } : {}), ...(keepUntil !== undefined ? { until: keepUntil } : {}) }]] : []);
  return answer(xml + encodeRetention(terms), count, digests);
}

/**
 * Only what was asked for is ever served, whatever the adapter returns (an operator's SQL without a time
 * bound, an adapter's bug): the records of the one series the requester was authorized for. Rows are
 * kept to the range as they are encoded (no copy of 100,000 rows); records here.
 */
function askedFor(blocks: Array<DataBlock | RowBlock>, q: HistoryQuery): Array<DataBlock | RowBlock> {
  const inRange = (t: number) => (q.start === undefined || t >= q.start) && (q.end === undefined || t < q.end);
  const kept: Array<DataBlock | RowBlock> = [];
  for (const b of blocks) {
    if ('rows' in b) {
      if (b.series === q.series) kept.push(b);
      continue;
    }
    const records = b.records.filter((r) => r.name === q.series && inRange(r.time));
    if (records.length === b.records.length) kept.push(b);
    else if (records.length > 0) kept.push({ meta: b.meta, records });
  }
  return kept;
}

function attr(name: string, value: string): string {
  const bad = illegalXmlChar(value);
  if (bad !== null) throw new QuoaliseFormatError(`catalogue: ${name} contains ${bad}, which XML cannot carry`);
  return ` ${name}="${escapeAttr(value)}"`;
}

/**
 * list_series's payload: the catalogue entries whose identifier matches one of `patterns` (the series
 * the requester may read, decided on the main thread), sorted by identifier, as
 * `<quoalise xmlns="urn:quoalise:0"><series identifier first last count><meta…/></series>…</quoalise>`
 * (`first`/`last` in ISO 8601 UTC, ready for `start_time`/`end_time`).
 */
export async function catalogueXml(adapter: Adapter, query: { patterns: string[]; page?: CataloguePage }): Promise<EncodedAnswer> {
  const matchers = query.patterns.map(seriesMatcher);
  const isVisible = (id: string) => matchers.some((m) => m(id));
  const { page } = query;
  // The adapter learns which entries the page shows, to read the spans of those only (a store's counts).
  const entries = await adapter.catalogue!(page && ((ids) => new Set(pageOf(ids, isVisible, page).shown)));
  const byId = new Map(entries.map((s) => [s.identifier, s]));
  const { visible, start, shown } = pageOf([...byId.keys()], isVisible, page);
  let xml = `<quoalise xmlns="${NS_QUOALISE}">`;
  for (const s of shown.map((id) => byId.get(id)!)) {
    xml += `<series${attr('identifier', s.identifier)}`;
    if (s.first !== undefined) xml += attr('first', formatIsoUtc(s.first));
    if (s.last !== undefined) xml += attr('last', formatIsoUtc(s.last));
    if (s.count !== undefined) xml += attr('count', String(s.count));
    xml += `>${encodeMeta(s.meta)}</series>`;
  }
  // The set says where the page is, when asked for one or when the catalogue did not fit in it.
  if (page && (page.asked || shown.length < visible.length)) xml += pageSet(shown, start, visible.length);
  return answer(xml + '</quoalise>', shown.length, true);
}

/** The visible identifiers in order, and the page of them (catalogue-page.ts): those after `after`, at most `max`; all without a page. */
function pageOf(ids: string[], isVisible: (id: string) => boolean, page?: CataloguePage): { visible: string[]; start: number; shown: string[] } {
  const visible = ids.filter(isVisible).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (!page) return { visible, start: 0, shown: visible };
  const from = page.after === undefined ? 0 : visible.findIndex((id) => id > page.after!);
  const start = from === -1 ? visible.length : from;
  return { visible, start, shown: visible.slice(start, start + page.max) };
}

/**
 * Where the app's data ends now: a new subscription starts there (contract: extract with limit 0).
 * The series must exist: asked of `history` with the one-second range at the epoch (an unknown series
 * is the adapter's `not-found`), or looked up in the catalogue; an app with neither cannot tell.
 */
export async function currentCursor(adapter: Adapter, query: { series: string; requester: string }): Promise<string | null> {
  if (adapter.history) {
    await adapter.history({ series: query.series, start: 0, end: 1, limit: 1, requester: query.requester });
  } else if (adapter.catalogue) {
    if (!(await adapter.catalogue()).some((s) => s.identifier === query.series)) throw new AdapterError('not-found', `there is no series ${query.series}`);
  }
  return (await adapter.extract!({ series: query.series, cursor: null, limit: 0 })).cursor;
}
