/**
 * Records read from an application's system (a database row, an API's JSON, an MQTT payload) become
 * the contract's records here, and are checked by the same rule as the `store`'s (adapters/store/
 * series-store.ts `checkBlocks`): what could not be served back as Quoalise is refused as a whole,
 * as a failure of that system (`upstream`, code `malformed-data`), and nothing of it is kept or sent.
 */
import { AdapterError } from '../contract.js';
import type { DataBlock, SeriesRecord } from '../../component/quoalise/types.js';
import { checkBlocks, StoreDataError } from '../store/series-store.js';

/** A value as a system gives it → a record's value field; null when it is none of number, boolean or text. */
export function valueFields(value: unknown): Pick<SeriesRecord, 'value' | 'stringValue' | 'boolValue'> | null {
  if (typeof value === 'number') return { value };
  if (typeof value === 'bigint') return { value: Number(value) };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'string') return { stringValue: value };
  return null;
}

/** Builds one record; throws `malformed-data` naming `where` when the value cannot be one. */
export function record(name: string, time: number, value: unknown, unit: string | null | undefined, issuer: string, where: string): SeriesRecord {
  const v = valueFields(value);
  if (v === null) throw malformed(issuer, `${where}: the value ${describeValue(value)} is not a number, a boolean or a text`);
  return { name, time, ...v, ...(unit ? { unit } : {}) };
}

/** A short description of an upstream value for an error message: never the whole of it (it may nest a thousand levels). */
function describeValue(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value).slice(0, 80);
  // Keys too are the system's text: five of them may still be long.
  return Array.isArray(value) ? `an array of ${value.length}` : `an object (${Object.keys(value).slice(0, 5).join(', ').slice(0, 80)})`;
}

/** Checks blocks read from a system; throws `upstream` / `malformed-data` for the first bad record, its message prefixed by `where` when given. */
export function checkFromSystem(blocks: DataBlock[], issuer: string, where?: string): DataBlock[] {
  try {
    checkBlocks(blocks);
  } catch (err) {
    if (err instanceof StoreDataError) throw malformed(issuer, where ? `${where}: ${err.message}` : err.message);
    throw err;
  }
  return blocks;
}

export function malformed(issuer: string, message: string): AdapterError {
  return new AdapterError('upstream', `${issuer} sent data fedgate cannot carry: ${message}`, { issuer, code: 'malformed-data' });
}
