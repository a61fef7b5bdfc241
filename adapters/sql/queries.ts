/**
 * The generic mode of the `sql` adapter: the operator writes the queries, fedgate runs them with
 * parameters (values are never concatenated into SQL) and checks what comes back. Each capability
 * exists only when its query is given.
 *
 * | option           | parameters                                               | columns returned                               |
 * |------------------|----------------------------------------------------------|------------------------------------------------|
 * | history_query    | $1 identifier, $2 start, $3 end (epoch s, [start, end)), $4 limit | time, value [, unit]                  |
 * | catalogue_query  | none                                                      | identifier [, meta (json), first, last, count] |
 * | extract_query    | $1 cursor (text, NULL at first), $2 limit                 | identifier, time, value [, unit], cursor (text) |
 * | end_query        | none (needed with extract_query)                          | cursor: where the data ends now                |
 * | deliver_query    | $1 key, $2 sender, $3 identifier, $4 time, $5 value, $6 unit | none (one call per record, one transaction per batch) |
 *
 * `time` is epoch seconds or a timestamp; `value` a number, boolean or text. The extract query must
 * return rows in cursor order; its `cursor` column is the position after each row.
 */
import type { Adapter, Delivery, ExtractBatch, SeriesInfo } from '../contract.js';
import { AdapterError } from '../contract.js';
import type { DataBlock, Meta, SeriesRecord } from '../../component/quoalise/types.js';
import { seriesMatcher } from '../../component/transfer/series-pattern.js';
import { FIRST_RECORD_TIME, LAST_RECORD_TIME } from '../../component/quoalise/time.js';
import { checkFromSystem, malformed, record } from '../common/records.js';
import type { Connection } from './connection.js';

export interface QueriesOptions {
  history_query?: string | undefined;
  catalogue_query?: string | undefined;
  extract_query?: string | undefined;
  end_query?: string | undefined;
  deliver_query?: string | undefined;
}

/** Metadata of the catalogue, reused for history blocks; refreshed at most this often. */
const META_TTL_MS = 10_000;

function epochSeconds(time: unknown): number | null {
  if (time instanceof Date) return time.getTime() / 1000;
  if (typeof time === 'number' && Number.isFinite(time)) return time;
  return null;
}

export function queriesAdapter(db: Connection, q: QueriesOptions, onClose: () => void): Adapter & { probe?(): Promise<string> } {
  let metas: { at: number; byId: Map<string, Meta> } | null = null;

  function toRecord(row: Record<string, unknown>, name: string, i: number): SeriesRecord {
    const time = epochSeconds(row.time);
    if (time === null) throw malformed(db.name, `row ${i}: time ${JSON.stringify(row.time)} is neither epoch seconds nor a timestamp`);
    return record(name, time, row.value, typeof row.unit === 'string' ? row.unit : null, db.name, `row ${i}`);
  }

  async function catalogue(): Promise<SeriesInfo[]> {
    const rows = await db.rows<Record<string, unknown>>(q.catalogue_query!);
    return rows.map((r, i) => {
      if (typeof r.identifier !== 'string') throw malformed(db.name, `catalogue row ${i}: no text column "identifier"`);
      let meta: unknown = r.meta ?? {};
      if (typeof meta === 'string') {
        try {
          meta = JSON.parse(meta);
        } catch {
          throw malformed(db.name, `catalogue row ${i}: meta is not JSON`);
        }
      }
      if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw malformed(db.name, `catalogue row ${i}: meta is not a JSON object`);
      const info: SeriesInfo = { identifier: r.identifier, meta: meta as Meta };
      for (const k of ['first', 'last'] as const) {
        const t = epochSeconds(r[k]);
        // Out of the records' years, it cannot be written as a date: malformed-data naming the row, not a failure of the core's.
        if (t !== null && (t < FIRST_RECORD_TIME || t > LAST_RECORD_TIME)) throw malformed(db.name, `catalogue row ${i}: ${k} ${t} is outside the years 1970 to 9999`);
        if (t !== null) info[k] = t;
      }
      if (typeof r.count === 'number') info.count = r.count;
      // The identifier is checked as a record's name (a URN, its length bounded): a 20 MB identifier, served,
      // held the link to ejabberd past its keepalive.
      checkFromSystem([{ meta: info.meta, records: [{ name: info.identifier, time: 0, value: 0 }] }], db.name, `catalogue row ${i}`);
      return info;
    });
  }

  async function metaOf(series: string): Promise<Meta> {
    if (!q.catalogue_query) return {};
    if (!metas || Date.now() - metas.at > META_TTL_MS) metas = { at: Date.now(), byId: new Map((await catalogue()).map((s) => [s.identifier, s.meta])) };
    return metas.byId.get(series) ?? {};
  }

  async function end(): Promise<string> {
    const [row] = await db.rows<{ cursor: unknown }>(q.end_query!);
    if (row === undefined || row.cursor === null) return '';
    return String(row.cursor);
  }

  const adapter: Adapter & { probe?(): Promise<string> } = {
    async close() {
      onClose();
      await db.close();
    },
  };

  if (q.history_query) {
    adapter.history = async ({ series, start, end: stop, limit }) => {
      const rows = await db.rows<Record<string, unknown>>(q.history_query!, [series, start ?? -1e12, stop ?? Date.now() / 1000, limit]);
      if (rows.length === 0 && q.catalogue_query && !(await catalogue()).some((s) => s.identifier === series)) {
        throw new AdapterError('not-found', `this application has no series ${series}`);
      }
      return checkFromSystem([{ meta: await metaOf(series), records: rows.map((r, i) => toRecord(r, series, i)) }], db.name);
    };
  }
  if (q.catalogue_query) adapter.catalogue = catalogue;
  if (q.extract_query && q.end_query) {
    adapter.probe = end;
    adapter.extract = async ({ series, cursor, limit }): Promise<ExtractBatch> => {
      if (limit === 0) return { blocks: [], cursor: await end(), more: false };
      const rows = await db.rows<Record<string, unknown>>(q.extract_query!, [cursor, limit]);
      if (rows.length === 0) return { blocks: [], cursor, more: false };
      const matches = seriesMatcher(series);
      const blocks = new Map<string, DataBlock>();
      for (const [i, r] of rows.entries()) {
        if (typeof r.identifier !== 'string') throw malformed(db.name, `row ${i}: no text column "identifier"`);
        if (r.cursor === null || r.cursor === undefined) throw malformed(db.name, `row ${i}: no column "cursor"`);
        if (!matches(r.identifier)) continue;
        let b = blocks.get(r.identifier);
        if (!b) blocks.set(r.identifier, (b = { meta: await metaOf(r.identifier), records: [] }));
        b.records.push(toRecord(r, r.identifier, i));
      }
      return { blocks: checkFromSystem([...blocks.values()], db.name), cursor: String(rows[rows.length - 1]!.cursor), more: rows.length === limit };
    };
  }
  if (q.deliver_query) {
    adapter.deliver = async (batch: readonly Delivery[]) => {
      await db.transaction(async (run) => {
        for (const d of batch) {
          for (const b of d.blocks) {
            for (const r of b.records) {
              const value = r.value ?? r.stringValue ?? (r.boolValue === undefined ? null : r.boolValue);
              await run(q.deliver_query!, [d.key, d.from, r.name, r.time, value, r.unit ?? null]);
            }
          }
        }
      }).catch((err: AdapterError) => {
        // SQLSTATE classes 22 (data exception) and 23 (constraint violation): the data can never be
        // applied as it is, so it goes to the dead letters; anything else (connection lost) is retried.
        if (/^2[23]/.test(err.upstream?.code ?? '')) throw new AdapterError('rejected', err.message, err.upstream);
        throw err;
      });
    };
  }
  return adapter;
}
