/**
 * `fedgate store import APP FILE.csv`: records from a CSV file into a store app, through the same
 * `SeriesStore.ingest` as deliveries.
 *
 * The format (UTF-8, RFC 4180 quoting, LF or CRLF):
 * - a header naming the columns `identifier,time,value,unit` (any order; `unit` may be left empty);
 * - `identifier`: the series identifier (RFC 9039 URN, as in quoalise.md);
 * - `time`: ISO 8601 with a UTC offset (`2024-01-01T00:00:00+01:00`) or epoch seconds (`1704063600`,
 *   fractions allowed); a value that covers a period is stamped at the period's start;
 * - `value`: an unquoted number is a number (`0` is a reading), unquoted `true`/`false` a boolean,
 *   anything else — and any quoted value, so `"42"` — a string.
 * Metadata comes from an optional JSON sidecar, `FILE.meta.json` next to the file by default: an object
 * mapping an identifier to its Quoalise `meta` in the current generation (nested objects and strings).
 *
 * The whole file is checked before anything is written: a file with an error imports nothing, and the
 * error names its line. Importing the same file again changes nothing (same values are not rewritten).
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { encodeMeta } from '../../component/quoalise/meta.js';
import { parseIdentifier } from '../../component/quoalise/identifier.js';
import { parseIsoWithOffset } from '../../component/quoalise/time.js';
import { QuoaliseFormatError } from '../../component/quoalise/errors.js';
import { illegalXmlChar } from '../../component/xmpp/xml.js';
import type { DataBlock, Meta, SeriesRecord } from '../../component/quoalise/types.js';
import type { IngestResult, SeriesStore } from './series-store.js';

export class CsvImportError extends Error {
  override name = 'CsvImportError';
}

const CSV_COLUMNS = ['identifier', 'time', 'value', 'unit'] as const;
/** Rows per ingest call (all in one transaction): bounds the memory of a batch, not the transaction. */
const BATCH_ROWS = 10_000;
const EPOCH_SECONDS = /^-?\d+(?:\.\d+)?$/;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

interface Field {
  text: string;
  quoted: boolean;
}

/** The sidecar's default path: `data.csv` → `data.meta.json`. */
export function sidecarPath(csvPath: string): string {
  return csvPath.replace(/\.csv$/i, '') + '.meta.json';
}

/** Reads a meta sidecar: `{ "<identifier>": { …meta… } }`, each meta checked by the Quoalise encoder. */
function readMetaSidecar(path: string): Map<string, Meta> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CsvImportError(`${path}: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new CsvImportError(`${path}: expected an object mapping identifiers to meta objects`);
  const out = new Map<string, Meta>();
  for (const [identifier, meta] of Object.entries(raw)) {
    if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw new CsvImportError(`${path}: the meta of ${identifier} must be an object`);
    try {
      parseIdentifier(identifier);
      encodeMeta(meta as Meta);
    } catch (err) {
      if (err instanceof QuoaliseFormatError) throw new CsvImportError(`${path}: ${identifier}: ${err.message}`);
      throw err;
    }
    out.set(identifier, meta as Meta);
  }
  return out;
}

/** RFC 4180 rows, streamed; `line` is where the row starts. */
async function* csvRows(path: string): AsyncGenerator<{ line: number; fields: Field[] }> {
  type State = 'start' | 'unquoted' | 'quoted' | 'quote-in-quoted';
  let state: State = 'start';
  let field = '';
  let fields: Field[] = [];
  let line = 1;
  let rowLine = 1;
  let first = true;
  const endField = (quoted: boolean) => {
    fields.push({ text: field, quoted });
    field = '';
  };
  for await (const chunk of createReadStream(path, { encoding: 'utf8' }) as AsyncIterable<string>) {
    let i = 0;
    if (first) {
      first = false;
      if (chunk.charCodeAt(0) === 0xfeff) i = 1; // byte-order mark
    }
    for (; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (state === 'quoted') {
        if (c === '"') state = 'quote-in-quoted';
        else {
          if (c === '\n') line++;
          field += c;
        }
        continue;
      }
      if (state === 'quote-in-quoted') {
        if (c === '"') {
          field += '"';
          state = 'quoted';
          continue;
        }
        if (c === '\r') continue;
        if (c !== ',' && c !== '\n') throw new CsvImportError(`line ${line}: text after a closing quote`);
        endField(true);
        state = 'start';
      } else if (c === '"') {
        if (state === 'unquoted') throw new CsvImportError(`line ${line}: a quote inside an unquoted value (quote the whole value and double the quote)`);
        state = 'quoted';
        continue;
      } else if (c === '\r') {
        continue;
      } else if (c !== ',' && c !== '\n') {
        field += c;
        state = 'unquoted';
        continue;
      } else {
        endField(false);
        state = 'start';
      }
      // c is ',' or '\n' and the field has ended.
      if (c === '\n') {
        yield { line: rowLine, fields };
        fields = [];
        line++;
        rowLine = line;
      }
    }
  }
  if (state === 'quoted') throw new CsvImportError(`line ${rowLine}: a quoted value is never closed`);
  if (state !== 'start' || fields.length > 0) {
    endField(state === 'quote-in-quoted');
    yield { line: rowLine, fields };
  }
}

function toRecord(line: number, identifier: Field, time: Field, value: Field, unit: Field | undefined, checked: Set<string>): SeriesRecord {
  const at = `line ${line}`;
  if (!checked.has(identifier.text)) {
    try {
      parseIdentifier(identifier.text);
    } catch (err) {
      if (err instanceof QuoaliseFormatError) throw new CsvImportError(`${at}: ${err.message}`);
      throw err;
    }
    checked.add(identifier.text);
  }
  let seconds: number;
  if (EPOCH_SECONDS.test(time.text)) seconds = Number(time.text);
  else {
    try {
      seconds = parseIsoWithOffset(time.text);
    } catch (err) {
      if (err instanceof QuoaliseFormatError) throw new CsvImportError(`${at}: time ${err.message}`);
      throw err;
    }
  }
  const r: SeriesRecord = { name: identifier.text, time: seconds };
  const v = value.text;
  if (!value.quoted && v === '') throw new CsvImportError(`${at}: the value is empty (a reading needs a value; 0 is a value)`);
  if (!value.quoted && NUMBER.test(v)) r.value = Number(v);
  else if (!value.quoted && (v === 'true' || v === 'false')) r.boolValue = v === 'true';
  else r.stringValue = v;
  if (r.value !== undefined && !Number.isFinite(r.value)) throw new CsvImportError(`${at}: the value ${v} is not a finite number`);
  if (unit && unit.text !== '') r.unit = unit.text;
  for (const [what, s] of [['value', r.stringValue], ['unit', r.unit]] as const) {
    const bad = s === undefined ? null : illegalXmlChar(s);
    if (bad !== null) throw new CsvImportError(`${at}: the ${what} contains ${bad}, which XML cannot carry`);
  }
  return r;
}

/** Reads the file as batches of blocks (one block per series per batch, with its sidecar meta). */
async function* readRecordsCsv(path: string, meta: Map<string, Meta>): AsyncGenerator<DataBlock[]> {
  let columns: Map<string, number> | null = null;
  const checked = new Set<string>();
  let batch = new Map<string, DataBlock>();
  let rows = 0;
  for await (const { line, fields } of csvRows(path)) {
    if (fields.length === 1 && fields[0]!.text === '' && !fields[0]!.quoted) continue; // blank line
    if (columns === null) {
      const names = fields.map((f) => f.text.trim().toLowerCase());
      const unknown = names.find((n) => !(CSV_COLUMNS as readonly string[]).includes(n));
      const missing = CSV_COLUMNS.filter((c) => c !== 'unit' && !names.includes(c));
      if (unknown !== undefined || missing.length > 0 || new Set(names).size !== names.length) {
        throw new CsvImportError(`line ${line}: the header must name the columns ${CSV_COLUMNS.join(',')} (unit may be omitted), got ${names.join(',')}`);
      }
      columns = new Map(names.map((n, i) => [n, i]));
      continue;
    }
    if (fields.length !== columns.size) throw new CsvImportError(`line ${line}: ${fields.length} values for ${columns.size} columns`);
    const col = (name: string) => {
      const i = columns!.get(name);
      return i === undefined ? undefined : fields[i];
    };
    const r = toRecord(line, col('identifier')!, col('time')!, col('value')!, col('unit'), checked);
    let block = batch.get(r.name);
    if (!block) batch.set(r.name, (block = { meta: meta.get(r.name) ?? {}, records: [] }));
    block.records.push(r);
    if (++rows % BATCH_ROWS === 0) {
      yield [...batch.values()];
      batch = new Map();
    }
  }
  if (columns === null) throw new CsvImportError(`${path} is empty: expected a header line ${CSV_COLUMNS.join(',')}`);
  if (batch.size > 0) yield [...batch.values()];
}

export interface ImportResult extends IngestResult {
  series: number;
}

/**
 * Checks the whole file, then writes it in one transaction: all of it or nothing. Throws CsvImportError
 * naming the line at fault.
 */
export async function importCsv(store: SeriesStore, csvPath: string, metaPath?: string): Promise<ImportResult> {
  const defaultSidecar = sidecarPath(csvPath);
  const sidecar = metaPath ?? (existsSync(defaultSidecar) ? defaultSidecar : undefined);
  const meta = sidecar ? readMetaSidecar(sidecar) : new Map<string, Meta>();
  // First pass: validation only (the reader throws at the first bad line), so that nothing is half-imported.
  for await (const _batch of readRecordsCsv(csvPath, meta));
  const total: ImportResult = { records: 0, written: 0, unchanged: 0, series: 0 };
  const series = new Set<string>();
  // Second pass: one transaction for the whole file, so that a failure (a full disk) writes nothing.
  await store.inOneTransaction(async () => {
    for await (const blocks of readRecordsCsv(csvPath, meta)) {
      const r = store.ingest(blocks);
      total.records += r.records;
      total.written += r.written;
      total.unchanged += r.unchanged;
      for (const b of blocks) series.add(b.records[0]!.name);
    }
  });
  total.series = series.size;
  return total;
}
