/**
 * The series of one `store` application in the store's SQLite file (schema/store/001_store.sql). Used by the
 * adapter in its worker thread and by `fedgate store import|list` in the CLI process: both write
 * through `ingest`, so a CLI import is validated, stamped and sequenced exactly like a delivery.
 *
 * Writes are one IMMEDIATE transaction per call: the write lock is taken before the sequence is read,
 * so seq order is commit order across processes, and an extract never skips a record committed late.
 */
import type Database from 'better-sqlite3';
import { cachedStatement, type Db } from '../../component/store/database.js';
import type { DataBlock, Meta, RecordRow, RowBlock, SeriesRecord } from '../../component/quoalise/types.js';
import { encodeMeta } from '../../component/quoalise/meta.js';
import { parseIdentifier } from '../../component/quoalise/identifier.js';
import { QuoaliseFormatError } from '../../component/quoalise/errors.js';
import { illegalXmlChar } from '../../component/xmpp/xml.js';
import { MAX_STRING_VALUE_LENGTH, MAX_UNIT_LENGTH } from '../../component/quoalise/senml.js';
import { FIRST_RECORD_TIME, LAST_RECORD_TIME } from '../../component/quoalise/time.js';
import type { CatalogueShown, Delivery, ExtractBatch, ForgetRequest, SeriesInfo } from '../contract.js';
import { recordExpiry } from '../../component/gdpr/retention.js';
import { isPattern } from '../../component/transfer/series-pattern.js';

/** Records the store refuses to keep; the message names the record and is meant for a human. */
export class StoreDataError extends Error {
  override name = 'StoreDataError';
}

export interface IngestResult {
  /** Records received. */
  records: number;
  /** Records that were new, or corrected a stored value (they took a new seq). */
  written: number;
  /** Records already stored with the same value and unit (nothing changed). */
  unchanged: number;
  /** The identifiers of the series that got written records: whose consumers have something new. */
  changed: string[];
}

export interface DeliveryResult extends IngestResult {
  /** True when this key was already applied: nothing was written. */
  replayed: boolean;
}

/** A stored record differs from the one being written (SQL, inside the upsert). */
const CHANGED = `(value IS NOT excluded.value OR string_value IS NOT excluded.string_value
  OR bool_value IS NOT excluded.bool_value OR unit IS NOT excluded.unit)`;

type PointRow = [time: number, value: number | null, stringValue: string | null, boolValue: number | null, unit: string | null];
type ExtractRow = [series: number, ...point: PointRow, seq: number];

/** A series' records: how many, and the times of the oldest and newest (null when it has none). */
interface Span {
  count: number;
  first: number | null;
  last: number | null;
}

function spanOf(s: Span): Pick<SeriesInfo, 'count' | 'first' | 'last'> {
  return { count: s.count, ...(s.first !== null && { first: s.first }), ...(s.last !== null && { last: s.last }) };
}

function toRecord(name: string, row: PointRow): SeriesRecord {
  const [time, value, stringValue, boolValue, unit] = row;
  const r: SeriesRecord = { name, time };
  if (value !== null) r.value = value;
  else if (stringValue !== null) r.stringValue = stringValue;
  else r.boolValue = boolValue === 1;
  if (unit !== null) r.unit = unit;
  return r;
}

/** The columns of a history row, all of them or the numeric fast path's (the encoder reads either). */
const ALL_COLUMNS = 'time, value, string_value, bool_value, unit';
const NUMERIC_COLUMNS = 'time, value, unit';

/** Rows are read this many at a time: `all()` per page costs about two thirds of `iterate()` per row, in bounded memory. */
const PAGE_ROWS = 4096;

/** The rows of a range query, read a page at a time (`first` from `start`, `after` past the last time read); time is the first column. */
function* pages<R extends readonly unknown[]>(
  first: Database.Statement<[number, number, number, number, number]>,
  after: Database.Statement<[number, number, number, number, number]>,
  id: number,
  start: number,
  end: number,
  now: number,
  limit: number,
): Generator<R> {
  let left = limit;
  let page = first.all(id, start, end, now, Math.min(PAGE_ROWS, left)) as R[];
  for (;;) {
    for (let i = 0; i < page.length; i++) yield page[i]!;
    left -= page.length;
    if (page.length < PAGE_ROWS || left <= 0) return;
    page = after.all(id, page[page.length - 1]![0] as number, end, now, Math.min(PAGE_ROWS, left)) as R[];
  }
}

/** Rows of all five columns as the encoder's [time, value, unit]. */
function* mapRows(rows: Iterable<PointRow>): Generator<RecordRow> {
  for (const [time, value, stringValue, boolValue, unit] of rows) yield [time, value ?? stringValue ?? boolValue === 1, unit];
}

function describe(r: SeriesRecord): string {
  return `record ${JSON.stringify(r.name)} at ${r.time}`;
}

/**
 * Refuses, before any write, what could not be served back as Quoalise later. Exported for the adapters
 * that read records from another system (adapters/common/records.ts): one rule for what a record may be.
 */
export function checkBlocks(blocks: DataBlock[]): void {
  const names = new Set<string>();
  for (const block of blocks) {
    try {
      encodeMeta(block.meta);
    } catch (err) {
      if (err instanceof QuoaliseFormatError) throw new StoreDataError(err.message);
      throw err;
    }
    for (const r of block.records) {
      if (!names.has(r.name)) {
        try {
          parseIdentifier(r.name);
        } catch (err) {
          if (err instanceof QuoaliseFormatError) throw new StoreDataError(err.message);
          throw err;
        }
        names.add(r.name);
      }
      if (typeof r.time !== 'number' || !Number.isFinite(r.time)) throw new StoreDataError(`${describe(r)}: the time is not a finite number`);
      // A time no date can show would break every later answer that formats it (list_series, exports)
      // and escape every retention cutoff.
      if (r.time < FIRST_RECORD_TIME || r.time > LAST_RECORD_TIME) throw new StoreDataError(`${describe(r)}: the time ${r.time} is outside 1970-01-01 to 9999-12-31`);
      const kinds = (r.value !== undefined ? 1 : 0) + (r.stringValue !== undefined ? 1 : 0) + (r.boolValue !== undefined ? 1 : 0);
      if (kinds !== 1) throw new StoreDataError(`${describe(r)}: needs exactly one of a number, a string or a boolean value`);
      if (r.value !== undefined && !Number.isFinite(r.value)) throw new StoreDataError(`${describe(r)}: the value is not a finite number`);
      if (r.unit !== undefined && r.unit.length > MAX_UNIT_LENGTH) throw new StoreDataError(`${describe(r)}: the unit is longer than ${MAX_UNIT_LENGTH} characters`);
      if (r.stringValue !== undefined && r.stringValue.length > MAX_STRING_VALUE_LENGTH) {
        throw new StoreDataError(`${describe(r)}: the string value is longer than ${MAX_STRING_VALUE_LENGTH} characters`);
      }
      for (const [what, s] of [['string value', r.stringValue], ['unit', r.unit]] as const) {
        const bad = s === undefined ? null : illegalXmlChar(s);
        if (bad !== null) throw new StoreDataError(`${describe(r)}: the ${what} contains ${bad}, which XML cannot carry`);
      }
    }
  }
}

/** The store's statements, compiled once per connection (a worker may serve a thousand store apps). */
function statements(db: Db) {
  const q = <P extends unknown[]>(sql: string, mode?: 'raw' | 'pluck') => cachedStatement<P>(db, sql, mode);
  /** A page of a series' unexpired rows in [start, end), or past the last time read: (series, start, end, now, limit). */
  const range = (columns: string, bound: 'from' | 'after') =>
    q<[number, number, number, number, number]>(
      `SELECT ${columns} FROM store_points WHERE series = ? AND time ${bound === 'from' ? '>=' : '>'} ? AND time < ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY time LIMIT ?`,
      'raw',
    );
  return {
    seriesId: q<[string, string]>('SELECT id FROM store_series WHERE app = ? AND identifier = ?', 'pluck'),
    insertSeries: q<[string, string, string, number, number]>(
      'INSERT INTO store_series (app, identifier, meta, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (app, identifier) DO NOTHING',
    ),
    updateMeta: q<[string, number, number, string]>('UPDATE store_series SET meta = ?, updated_at = ? WHERE id = ? AND meta <> ?'),
    touchSeries: q<[number, number, number]>('UPDATE store_series SET last_seq = ?, updated_at = ? WHERE id = ?'),
    readSeq: q<[]>('SELECT seq FROM store_sequence WHERE id = 1', 'pluck'),
    writeSeq: q<[number]>('UPDATE store_sequence SET seq = ? WHERE id = 1'),
    // A correction (same time, other value or unit) replaces the row and takes the new seq; the same
    // record again changes nothing. A versioned write (a delivery carrying its origin's version)
    // never replaces what a newer version of the same origin wrote, and moves the version forward
    // even when the value is the same (so that an older one arriving later stays out).
    upsert: q<[number, number, number | null, string | null, number | null, string | null, number, number | null, number | null, number | null]>(
      `INSERT INTO store_points (series, time, value, string_value, bool_value, unit, seq, origin, version, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (series, time) DO UPDATE SET value = excluded.value, string_value = excluded.string_value,
         bool_value = excluded.bool_value, unit = excluded.unit, origin = excluded.origin, version = excluded.version,
         expires_at = excluded.expires_at,
         seq = CASE WHEN ${CHANGED} THEN excluded.seq ELSE seq END
       WHERE NOT (excluded.origin IS NOT NULL AND origin IS excluded.origin AND version > excluded.version)
         AND (${CHANGED} OR (excluded.origin IS NOT NULL AND origin IS excluded.origin AND version < excluded.version))
       RETURNING seq`,
      'pluck',
    ),
    origin: q<[string]>('INSERT INTO store_origins (origin) VALUES (?) ON CONFLICT (origin) DO UPDATE SET origin = origin RETURNING id', 'pluck'),
    // Records past the retention their source set are no longer served, even before the purge deletes them.
    history: range(ALL_COLUMNS, 'from'),
    // get_history's fast path: three columns read per row when the range holds numbers only.
    numericRows: range(NUMERIC_COLUMNS, 'from'),
    // The next page of either (after the last time read).
    historyAfter: range(ALL_COLUMNS, 'after'),
    numericRowsAfter: range(NUMERIC_COLUMNS, 'after'),
    hasOtherValues: q<[number, number, number]>(
      'SELECT EXISTS (SELECT 1 FROM store_points WHERE series = ? AND time >= ? AND time < ? AND value IS NULL)',
      'pluck',
    ),
    seriesMeta: q<[string, string]>('SELECT id, meta FROM store_series WHERE app = ? AND identifier = ?'),
    // A page of the catalogue: every series' entry without its records, then the span of the shown
    // ones only (the primary key (series, time) gives min and max at once, the count by one range).
    seriesEntries: q<[string]>('SELECT id, identifier, meta FROM store_series WHERE app = ?'),
    seriesSpan: q<[number]>('SELECT count(*) AS count, min(time) AS first, max(time) AS last FROM store_points WHERE series = ?'),
    catalogue: q<[string]>(
      `SELECT s.identifier, s.meta, count(p.time) AS count, min(p.time) AS first, max(p.time) AS last
       FROM store_series s LEFT JOIN store_points p ON p.series = s.id
       WHERE s.app = ? GROUP BY s.id ORDER BY s.identifier`,
    ),
    matching: q<[string, string]>('SELECT id, identifier, meta FROM store_series WHERE app = ? AND identifier GLOB ?'),
    extract: q<[number, string, string, number]>(
      `SELECT series, time, value, string_value, bool_value, unit, seq FROM store_points
       WHERE seq > ? AND series IN (SELECT id FROM store_series WHERE app = ? AND identifier GLOB ?)
       ORDER BY seq LIMIT ?`,
      'raw',
    ),
    // One series (a subscription): the (series, seq) index finds its new records without walking the
    // records written to other series meanwhile.
    extractOne: q<[number, number, number]>(
      'SELECT series, time, value, string_value, bool_value, unit, seq FROM store_points WHERE series = ? AND seq > ? ORDER BY seq LIMIT ?',
      'raw',
    ),
    delivery: q<[string, string]>('SELECT 1 FROM store_deliveries WHERE app = ? AND key = ?'),
    replay: q<[string, string]>('UPDATE store_deliveries SET redelivered = redelivered + 1 WHERE app = ? AND key = ?'),
    recordDelivery: q<[string, string, string, number, number, number, number]>(
      'INSERT INTO store_deliveries (app, key, sender, records, written, duplicate_points, applied_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
  };
}

export class SeriesStore {
  /** identifier → series id, for series known to exist (cleared if a transaction fails). */
  private ids = new Map<string, number>();
  private readonly q: ReturnType<typeof statements>;

  constructor(private readonly db: Db, readonly app: string) {
    this.q = statements(db);
  }

  /** Stores records (validated first, then one transaction). Throws StoreDataError for bad records. */
  ingest(blocks: DataBlock[]): IngestResult {
    checkBlocks(blocks);
    return this.write(() => this.writeBlocks(blocks));
  }

  /**
   * Applies deliveries exactly once, all in one transaction: each key is recorded with its records,
   * so a delivery that comes again changes no data (its `redelivered` count goes up). Any invalid
   * record fails the whole batch before anything is written.
   */
  deliver(deliveries: ReadonlyArray<Pick<Delivery, 'key' | 'from' | 'blocks' | 'version' | 'retention'>>): DeliveryResult[] {
    for (const d of deliveries) checkBlocks(d.blocks);
    return this.write(() =>
      deliveries.map(({ key, from, blocks, version, retention }) => {
        const records = blocks.reduce((n, b) => n + b.records.length, 0);
        if (this.q.delivery.get(this.app, key)) {
          this.q.replay.run(this.app, key);
          return { records, written: 0, unchanged: 0, changed: [], replayed: true };
        }
        const result = this.writeBlocks(blocks, version, retention);
        this.q.recordDelivery.run(this.app, key, from, result.records, result.written, result.unchanged, Date.now());
        return { ...result, replayed: false };
      }),
    );
  }

  /**
   * Records of one series in [start, end), oldest first, at most `limit`, as rows read when the core
   * encodes them (get_history: no object per record); null when the series does not exist. A range of
   * numbers only — the usual case — reads three columns per row; any other value, all five.
   */
  historyRows(series: string, start: number, end: number, limit: number): RowBlock | null {
    const row = this.q.seriesMeta.get(this.app, series) as { id: number; meta: string } | undefined;
    if (!row) return null;
    const { id } = row;
    const { numericRows, numericRowsAfter, hasOtherValues, history, historyAfter } = this.q;
    const now = Date.now() / 1000;
    const rows = {
      [Symbol.iterator]: (): Iterator<RecordRow> =>
        hasOtherValues.get(id, start, end)
          ? mapRows(pages<PointRow>(history, historyAfter, id, start, end, now, limit))
          : pages<RecordRow>(numericRows, numericRowsAfter, id, start, end, now, limit),
    };
    return { meta: JSON.parse(row.meta) as Meta, series, rows };
  }

  /** The same records as objects (for tests and tools). */
  history(series: string, start: number, end: number, limit: number): DataBlock | null {
    const block = this.historyRows(series, start, end, limit);
    if (!block) return null;
    const records: SeriesRecord[] = [];
    for (const [time, v, unit] of block.rows) {
      const r: SeriesRecord = { name: series, time };
      if (typeof v === 'number') r.value = v;
      else if (typeof v === 'string') r.stringValue = v;
      else r.boolValue = v;
      if (unit !== null) r.unit = unit;
      records.push(r);
    }
    return { meta: block.meta, records };
  }

  /**
   * Every series of the app with its metadata, time span and number of records — or, given `shown`,
   * the span and number of the shown series only: counting every record of the store for each page
   * took 0.8 s of the worker at 100,000 series of 10 records (seventh session's left items).
   */
  catalogue(shown?: CatalogueShown): SeriesInfo[] {
    if (!shown) {
      const rows = this.q.catalogue.all(this.app) as Array<{ identifier: string; meta: string } & Span>;
      return rows.map((r) => ({ identifier: r.identifier, meta: JSON.parse(r.meta) as Meta, ...spanOf(r) }));
    }
    const rows = this.q.seriesEntries.all(this.app) as Array<{ id: number; identifier: string; meta: string }>;
    const picked = shown(rows.map((r) => r.identifier));
    return rows.map((r) => ({
      identifier: r.identifier,
      meta: JSON.parse(r.meta) as Meta,
      ...(picked.has(r.identifier) && spanOf(this.q.seriesSpan.get(r.id) as Span)),
    }));
  }

  /**
   * Records written after `cursor` (a seq, as text) to series matching `pattern`, in seq order, at most
   * `limit`, grouped into one block per series. `limit: 0` reads nothing and returns the current end.
   * When the batch is not full, the cursor moves to the store's end so that later calls skip the
   * records of other series at once.
   */
  extract(pattern: string, cursor: string | null, limit: number): ExtractBatch {
    if (cursor !== null && !/^\d+$/.test(cursor)) throw new Error(`store cursor ${JSON.stringify(cursor)} is not a sequence number`);
    const after = cursor === null ? 0 : Number(cursor);
    const one = isPattern(pattern) || pattern.includes('[') ? null : pattern;
    return this.db.transaction((): ExtractBatch => {
      const end = this.q.readSeq.get() as number;
      if (limit === 0) return { blocks: [], cursor: String(end), more: false };
      const id = one === null ? null : (this.q.seriesId.get(this.app, one) as number | undefined);
      if (id === undefined) return { blocks: [], cursor: String(Math.max(after, end)), more: false };
      const rows = (id === null ? this.q.extract.all(after, this.app, pattern, limit + 1) : this.q.extractOne.all(id, after, limit + 1)) as ExtractRow[];
      const more = rows.length > limit;
      if (more) rows.length = limit;
      if (rows.length === 0) return { blocks: [], cursor: String(Math.max(after, end)), more: false };
      const series = new Map<number, { identifier: string; block: DataBlock }>();
      for (const s of this.q.matching.all(this.app, pattern) as Array<{ id: number; identifier: string; meta: string }>) {
        series.set(s.id, { identifier: s.identifier, block: { meta: JSON.parse(s.meta) as Meta, records: [] } });
      }
      const blocks: DataBlock[] = [];
      for (const [id, time, value, stringValue, boolValue, unit] of rows) {
        const s = series.get(id)!;
        if (s.block.records.length === 0) blocks.push(s.block);
        s.block.records.push(toRecord(s.identifier, [time, value, stringValue, boolValue, unit]));
      }
      const last = rows[rows.length - 1]![6];
      return { blocks, cursor: String(more ? last : Math.max(last, end)), more };
    })();
  }

  /**
   * Runs `fn` — which may await between its `ingest` calls, e.g. while reading a file — inside ONE
   * IMMEDIATE transaction: everything or nothing is written (a CLI import that meets a bad line late,
   * or a full disk, leaves the store as it was). The store file's write lock is held meanwhile.
   */
  async inOneTransaction<T>(fn: () => Promise<T>): Promise<T> {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = await fn();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      // SQLite may already have rolled back (SQLITE_FULL at commit, for one).
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.ids.clear();
      throw err;
    }
  }

  /**
   * Runs `work` with this connection's automatic WAL checkpoints off, and returns a function that
   * checkpoints (PASSIVE: never waits for readers or writers). A long run of deletions calls it between
   * its transactions, so that no commit of its own pays for a checkpoint while others wait to write.
   */
  async withManualCheckpoints<T>(work: (checkpoint: () => void) => Promise<T>): Promise<T> {
    const before = this.db.pragma('wal_autocheckpoint', { simple: true }) as number;
    this.db.pragma('wal_autocheckpoint = 0');
    try {
      return await work(() => void this.db.pragma('wal_checkpoint(PASSIVE)'));
    } finally {
      this.db.pragma(`wal_autocheckpoint = ${before}`);
    }
  }

  /**
   * Deletes at most `limit` records matching a GDPR request in one short transaction (the caller loops,
   * letting others write in between). Returns how many it deleted, or with `dryRun` how many match in all.
   */
  forgetBatch(req: ForgetRequest, limit: number): number {
    // Several globs (an erasure request's) are matched at once: the points are scanned once for them all.
    const globs = typeof req.series === 'string' ? [req.series] : [...new Set(req.series)];
    if (globs.length === 0) return 0;
    const ids = this.db
      .prepare(`SELECT id FROM store_series WHERE app = ? AND (${globs.map(() => 'identifier GLOB ?').join(' OR ')})`)
      .pluck()
      .all(this.app, ...globs) as number[];
    if (ids.length === 0) return 0;
    const list = ids.join(',');
    const before = req.before ?? Infinity;
    if (req.expired !== undefined || req.from !== undefined) {
      const where = [`series IN (${list})`];
      const args: number[] = [];
      if (req.expired !== undefined) (where.push('expires_at <= ?'), args.push(req.expired));
      if (req.from !== undefined) {
        // Records written by deliveries from that source: its origins are '<bare JID> <its database>'.
        const origins = this.db.prepare('SELECT id FROM store_origins WHERE substr(origin, 1, ?) = ?').pluck().all(req.from.length + 1, `${req.from} `) as number[];
        if (origins.length === 0) return 0;
        where.push(`origin IN (${origins.join(',')})`);
      }
      if (before !== Infinity) (where.push('time < ?'), args.push(before));
      const sql = where.join(' AND ');
      if (req.dryRun) return this.db.prepare(`SELECT count(*) FROM store_points WHERE ${sql}`).pluck().get(...args) as number;
      return this.db.transaction(
        () => this.db.prepare(`DELETE FROM store_points WHERE (series, time) IN (SELECT series, time FROM store_points WHERE ${sql} LIMIT ?)`).run(...args, limit).changes,
      ).immediate();
    }
    if (req.dryRun) return this.db.prepare(`SELECT count(*) FROM store_points WHERE series IN (${list}) AND time < ?`).pluck().get(before) as number;
    return this.db.transaction(() => {
      let left = limit;
      for (const id of ids) {
        if (left <= 0) break;
        // The time of the last record this batch may take in this series: the deletion is one index range.
        const last = this.db.prepare('SELECT time FROM store_points WHERE series = ? AND time < ? ORDER BY time LIMIT 1 OFFSET ?').pluck().get(id, before, left - 1) as
          | number
          | undefined;
        const { changes } =
          last === undefined
            ? this.db.prepare('DELETE FROM store_points WHERE series = ? AND time < ?').run(id, before)
            : this.db.prepare('DELETE FROM store_points WHERE series = ? AND time <= ?').run(id, last);
        left -= changes;
      }
      return limit - left;
    }).immediate();
  }

  /**
   * Everything kept of the series matching `pattern` (GDPR access and portability): each series' entry,
   * then its records oldest first in chunks of `chunk` — records past their retention included (they
   * are still held until the purge deletes them). One short read transaction per chunk.
   */
  *readAll(pattern: string, records: boolean, chunk = 5000): Generator<{ series: SeriesInfo; records: SeriesRecord[] }> {
    const wanted = new Set((this.q.matching.all(this.app, pattern) as Array<{ identifier: string }>).map((s) => s.identifier));
    const all = this.catalogue((ids) => new Set(ids.filter((id) => wanted.has(id)))).filter((s) => wanted.has(s.identifier));
    const page = this.db.prepare('SELECT time, value, string_value, bool_value, unit FROM store_points WHERE series = ? AND time > ? ORDER BY time LIMIT ?').raw();
    for (const info of all) {
      if (!records || !info.count) {
        yield { series: info, records: [] };
        continue;
      }
      const id = this.q.seriesId.get(this.app, info.identifier) as number;
      let after = -Number.MAX_VALUE;
      for (;;) {
        const rows = page.all(id, after, chunk) as PointRow[];
        if (rows.length === 0) break;
        yield { series: info, records: rows.map((r) => toRecord(info.identifier, r)) };
        after = rows[rows.length - 1]![0];
        if (rows.length < chunk) break;
      }
    }
  }

  private write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      // Series rows created by the rolled-back transaction no longer exist.
      this.ids.clear();
      throw err;
    }
  }

  private writeBlocks(blocks: DataBlock[], version?: Delivery['version'], retention?: Delivery['retention']): IngestResult {
    const now = Date.now();
    const origin = version ? (this.q.origin.get(version.origin) as number) : null;
    const seqOfVersion = version ? version.seq : null;
    let seq = this.q.readSeq.get() as number;
    let records = 0;
    let written = 0;
    const touched = new Map<number, number>();
    const changed = new Set<string>();
    for (const block of blocks) {
      const meta = JSON.stringify(block.meta);
      const hasMeta = meta !== '{}';
      const metaChecked = new Set<number>();
      for (const r of block.records) {
        records++;
        const id = this.seriesId(r.name, meta, now);
        if (hasMeta && !metaChecked.has(id)) {
          this.q.updateMeta.run(meta, now, id, meta);
          metaChecked.add(id);
        }
        const stored = this.q.upsert.get(
          id,
          r.time,
          r.value ?? null,
          r.stringValue ?? null,
          r.boolValue === undefined ? null : r.boolValue ? 1 : 0,
          r.unit ?? null,
          seq + 1,
          origin,
          seqOfVersion,
          retention ? recordExpiry(retention, r.name, r.time) : null,
        );
        if (stored === seq + 1) {
          seq++;
          written++;
          touched.set(id, seq);
          changed.add(r.name);
        }
      }
    }
    if (written > 0) {
      this.q.writeSeq.run(seq);
      for (const [id, last] of touched) this.q.touchSeries.run(last, now, id);
    }
    return { records, written, unchanged: records - written, changed: [...changed] };
  }

  private seriesId(identifier: string, meta: string, now: number): number {
    let id = this.ids.get(identifier);
    if (id === undefined) {
      this.q.insertSeries.run(this.app, identifier, meta, now, now);
      id = this.q.seriesId.get(this.app, identifier) as number;
      this.ids.set(identifier, id);
    }
    return id;
  }
}
