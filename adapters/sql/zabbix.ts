/**
 * The `zabbix` preset of the `sql` adapter: series are Zabbix items, read from Zabbix's own PostgreSQL
 * tables (the schema shipped by zabbix-server-pgsql 6.0): `items` + `hosts` for the catalogue,
 * `history` (floats, value_type 0) and `history_uint` (unsigned, value_type 3) for the records, whose
 * time is `clock` + `ns` nanoseconds. The extract cursor is the position (clock, ns, itemid) of the last
 * record taken — the primary key order, never "+1 s" — written `clock:ns:itemid`.
 *
 * Zabbix writes history roughly in clock order; a value stamped earlier than one already extracted (a
 * proxy catching up) would be behind the cursor. `settle_seconds` holds extraction back by that long.
 */
import type { Adapter, ExtractBatch, SeriesInfo } from '../contract.js';
import { AdapterError } from '../contract.js';
import type { DataBlock, Meta, RecordRow, SeriesRecord } from '../../component/quoalise/types.js';
import { seriesMatcher } from '../../component/transfer/series-pattern.js';
import { checkFromSystem, malformed } from '../common/records.js';
import type { Connection } from './connection.js';

export interface ZabbixOptions {
  /** Identifier of an item's series, with `{itemid}` in it, e.g. `urn:dev:org:60060-lyon:{itemid}`. */
  identifier: string;
  /** Items by id. */
  items: string[];
  /** Items by host name(s) and key pattern(s) (`*` any run of characters), e.g. `system.cpu.load*`. */
  hosts: string[];
  keys: string[];
  settleSeconds: number;
}

interface Item {
  itemid: string;
  key: string;
  name: string;
  units: string;
  host: string;
  identifier: string;
  meta: Meta;
}

/** Item list refreshed this often: items added in Zabbix appear without a restart. */
const ITEMS_TTL_MS = 30_000;

const ITEMS_SQL = `
SELECT i.itemid::text AS itemid, i.key_ AS key, i.name, i.units, h.host
FROM items i JOIN hosts h ON h.hostid = i.hostid
WHERE i.value_type IN (0, 3) AND i.flags <> 2 AND h.status IN (0, 1)
  AND (i.itemid = ANY($1::bigint[])
       OR ((cardinality($2::text[]) + cardinality($3::text[]) > 0)
           AND (cardinality($2::text[]) = 0 OR h.host = ANY($2::text[]))
           AND (cardinality($3::text[]) = 0 OR i.key_ LIKE ANY($3::text[]))))
ORDER BY i.itemid`;

// Both value tables, the same columns; itemid = ANY lets PostgreSQL walk the (itemid, clock, ns) key per item.
const both = (where: string, cols = 'itemid, clock, ns, value::float8 AS value') =>
  `SELECT ${cols} FROM history WHERE ${where} UNION ALL SELECT ${cols} FROM history_uint WHERE ${where}`;

const EXTRACT_SQL = `SELECT itemid::text, clock, ns, value FROM (${both(
  'itemid = ANY($1::bigint[]) AND clock >= $2 AND (clock, ns, itemid) > ($2, $3, $4::bigint) AND clock <= $5',
)}) h ORDER BY clock, ns, itemid LIMIT $6`;

const END_SQL = `SELECT clock, ns, itemid::text FROM (${both(
  'itemid = ANY($1::bigint[]) AND clock = (SELECT max(c) FROM (' +
    'SELECT max(clock) AS c FROM history WHERE itemid = ANY($1::bigint[]) AND clock <= $2 UNION ALL ' +
    'SELECT max(clock) FROM history_uint WHERE itemid = ANY($1::bigint[]) AND clock <= $2) m)',
  'clock, ns, itemid',
)}) e ORDER BY clock DESC, ns DESC, itemid DESC LIMIT 1`;

const HISTORY_SQL = `SELECT clock, ns, value FROM (${both(
  'itemid = $1 AND clock >= $2 AND clock <= $3 AND clock + ns / 1e9 >= $4 AND clock + ns / 1e9 < $5',
)}) h ORDER BY clock, ns LIMIT $6`;

const CATALOGUE_SQL = `SELECT itemid::text, count(*)::float8 AS count, min(clock + ns / 1e9)::float8 AS first, max(clock + ns / 1e9)::float8 AS last
FROM (${both('itemid = ANY($1::bigint[])', 'itemid, clock, ns')}) h GROUP BY itemid`;

/** `*` globs → SQL LIKE patterns (the LIKE metacharacters of the key itself escaped). */
function likePattern(glob: string): string {
  return glob.replace(/[\\%_]/g, '\\$&').replace(/\*/g, '%');
}

function parseCursor(cursor: string | null): [number, number, string] {
  if (cursor === null) return [0, -1, '0'];
  const m = /^(\d+):(\d+):(\d+)$/.exec(cursor);
  if (!m) throw new Error(`zabbix cursor ${JSON.stringify(cursor)} is not clock:ns:itemid`);
  return [Number(m[1]), Number(m[2]), m[3]!];
}

export function zabbixAdapter(db: Connection, o: ZabbixOptions, onClose: () => void): Adapter & { probe(): Promise<string> } {
  const [before, after] = o.identifier.split('{itemid}') as [string, string];
  let items: { at: number; list: Item[]; byId: Map<string, Item>; byIdentifier: Map<string, Item> } | null = null;

  async function loadItems(): Promise<NonNullable<typeof items>> {
    if (items && Date.now() - items.at < ITEMS_TTL_MS) return items;
    const rows = await db.rows<Omit<Item, 'identifier' | 'meta'>>(ITEMS_SQL, [o.items, o.hosts, o.keys.map(likePattern)]);
    const list = rows.map((r) => ({ ...r, identifier: `${before}${r.itemid}${after}`, meta: metaOf(r) }));
    items = { at: Date.now(), list, byId: new Map(list.map((i) => [i.itemid, i])), byIdentifier: new Map(list.map((i) => [i.identifier, i])) };
    return items;
  }

  const settled = () => Math.floor(Date.now() / 1000) - o.settleSeconds;

  async function endCursor(ids: string[]): Promise<string> {
    const [row] = await db.arrays<[number, number, string]>(END_SQL, [ids, settled()]);
    return row ? row.join(':') : '0:0:0';
  }

  function toRecord(item: Item, clock: unknown, ns: unknown, value: unknown): SeriesRecord {
    if (typeof clock !== 'number' || typeof ns !== 'number') throw malformed(db.name, `item ${item.itemid}: clock ${String(clock)} / ns ${String(ns)} are not numbers`);
    const r: SeriesRecord = { name: item.identifier, time: clock + ns / 1e9, value: value as number };
    if (item.units) r.unit = item.units;
    return r;
  }

  return {
    /** Where the data of every selected item ends: the change poller's token. */
    async probe() {
      return endCursor((await loadItems()).list.map((i) => i.itemid));
    },

    async history({ series, start, end, limit }) {
      const item = (await loadItems()).byIdentifier.get(series);
      if (!item) throw new AdapterError('not-found', `no Zabbix item of this application has the identifier ${series}`);
      const from = start ?? 0;
      const to = end ?? Date.now() / 1000;
      const rows = await db.arrays<[number, number, number]>(HISTORY_SQL, [item.itemid, Math.floor(from), Math.ceil(to), from, to, limit]);
      if (rows.length === 0) return [{ meta: item.meta, records: [] }];
      // The item's texts (meta, identifier, unit) are checked once, with the first record; then each row
      // needs only finite numbers. Answered as rows: no object per record (the encoder reads them as is).
      checkFromSystem([{ meta: item.meta, records: [toRecord(item, rows[0]![0], rows[0]![1], rows[0]![2])] }], db.name);
      const unit = item.units || null;
      const out = new Array<RecordRow>(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const [clock, ns, value] = rows[i]!;
        if (typeof clock !== 'number' || typeof ns !== 'number') throw malformed(db.name, `item ${item.itemid}: clock ${String(clock)} / ns ${String(ns)} are not numbers`);
        if (typeof value !== 'number' || !Number.isFinite(value)) throw malformed(db.name, `item ${item.itemid} at ${clock}: the value ${String(value)} is not a finite number`);
        out[i] = [clock + ns / 1e9, value, unit];
      }
      return [{ meta: item.meta, series: item.identifier, rows: out }];
    },

    async catalogue() {
      const { list, byId } = await loadItems();
      const stats = new Map(
        (await db.rows<{ itemid: string; count: number; first: number; last: number }>(CATALOGUE_SQL, [list.map((i) => i.itemid)])).map((r) => [r.itemid, r]),
      );
      return list.map((item): SeriesInfo => {
        // Names and units come from Zabbix: a character XML cannot carry is malformed data blamed on Zabbix
        // and naming its item (not an internal error of fedgate); it still fails the whole catalogue.
        checkFromSystem([{ meta: item.meta, records: [] }], db.name, `item ${item.itemid}`);
        const s = stats.get(item.itemid);
        return { identifier: byId.get(item.itemid)!.identifier, meta: item.meta, count: s?.count ?? 0, ...(s && { first: s.first, last: s.last }) };
      });
    },

    async extract({ series, cursor, limit }): Promise<ExtractBatch> {
      const matches = seriesMatcher(series);
      const { list, byId } = await loadItems();
      const ids = list.filter((i) => matches(i.identifier)).map((i) => i.itemid);
      if (limit === 0 || ids.length === 0) return { blocks: [], cursor: limit === 0 ? await endCursor(ids) : cursor, more: false };
      const [clock, ns, itemid] = parseCursor(cursor);
      const rows = await db.arrays<[string, number, number, number]>(EXTRACT_SQL, [ids, clock, ns, itemid, settled(), limit]);
      if (rows.length === 0) return { blocks: [], cursor, more: false };
      const blocks = new Map<string, DataBlock>();
      for (const [id, c, n, value] of rows) {
        const item = byId.get(id)!;
        let b = blocks.get(id);
        if (!b) blocks.set(id, (b = { meta: item.meta, records: [] }));
        b.records.push(toRecord(item, c, n, value));
      }
      const last = rows[rows.length - 1]!;
      return { blocks: checkFromSystem([...blocks.values()], db.name), cursor: `${last[1]}:${last[2]}:${last[0]}`, more: rows.length === limit };
    },

    async close() {
      onClose();
      await db.close();
    },
  };
}

/** Quoalise metadata of an item: the host as the device, the item key as the measurement. */
function metaOf(i: { key: string; name: string; units: string; host: string }): Meta {
  const measurement: Meta = { name: i.key };
  if (i.name) measurement.description = i.name;
  if (i.units) measurement.unit = i.units;
  return { device: { type: 'zabbix-host', identifier: { authority: 'zabbix', type: 'host', value: i.host } }, measurement };
}
