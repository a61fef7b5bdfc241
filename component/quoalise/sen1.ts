/**
 * Reader for the 2019 proof of concept's `Sen1Message` (namespace `http://xmpp.rocks`, see
 * docs/federation-poc.md), turned into the current data model. Read only: fedgate never writes it.
 */
import type { Element } from '../xmpp/xml.js';
import { QuoaliseFormatError } from './errors.js';
import { NS_SEN1 } from './namespaces.js';
import { parseLocalTime, TimeFormatError } from './time.js';
import type { DataBlock, Meta, SeriesRecord } from './types.js';

/** A Sen1Message the gateway cannot read; the message names the missing or bad field. */
export class Sen1Error extends QuoaliseFormatError {
  override name = 'Sen1Error';
}

export interface Sen1Message {
  /** `applicationSrc`: the sending application's name. */
  source: string;
  /** `applicationDst`: the receiving application's name. */
  destination: string;
  /** `username`: the person the data belongs to. */
  username: string;
  block: DataBlock;
}

/** The 2019 proxies' default zone for their zone-less timestamps. */
export const SEN1_DEFAULT_TIME_ZONE = 'Europe/Paris';

const NUMERIC_TYPES = new Set(['dt_integer', 'dt_numeric']);
const STRING_TYPES = new Set(['dt_string', 'dt_date', 'dt_datetime', 'dt_duration', 'dt_time']);
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? s.slice(0, 60) + '…' : s);
}

/** The text of the only `name` child, or undefined when absent; two of them would be ambiguous. */
function childText(el: Element, name: string, where: string): string | undefined {
  const found = el.getChildren(name, NS_SEN1);
  if (found.length > 1) throw new Sen1Error(`${where}: ${name} appears ${found.length} times`);
  return found[0]?.getText();
}

function required(el: Element, name: string): string {
  const text = childText(el, name, 'Sen1Message')?.trim();
  if (text === undefined || text === '') throw new Sen1Error(`Sen1Message: ${name} is missing or empty`);
  return text;
}

function optional(el: Element, name: string): string | undefined {
  const text = childText(el, name, 'Sen1Message')?.trim();
  return text === undefined || text === '' ? undefined : text;
}

/**
 * Reads a Sen1Message into one DataBlock.
 * - Each Sen1Data becomes a record named after the `name` field, with `unite` as unit.
 * - `dt_integer`/`dt_numeric` → `value` (0 is a reading: the 2019 code wrongly dropped it),
 *   `dt_boolean` → `boolValue` (`true`/`false`/`1`/`0`, any case), the other types → `stringValue`
 *   (kept verbatim, not trimmed).
 * - Timestamps are zone-less local times, read in `opts.timeZone` (default Europe/Paris) with that
 *   instant's DST offset; see parseLocalTime for the hours that occur twice or never.
 * - meta is `{ sen1: { type, metaname?, metavalue? } }`. The username is returned beside the block, not
 *   put in meta, so that it does not travel on with the data if the block is forwarded.
 * Throws Sen1Error naming the missing or bad field.
 */
export function decodeSen1(el: Element, opts: { timeZone?: string } = {}): Sen1Message {
  if (!el.is('Sen1Message', NS_SEN1)) {
    throw new Sen1Error(`expected <Sen1Message xmlns="${NS_SEN1}">, got <${el.name}> in ${el.getNS() ?? 'no namespace'}`);
  }
  const timeZone = opts.timeZone ?? SEN1_DEFAULT_TIME_ZONE;
  const username = required(el, 'username');
  const source = required(el, 'applicationSrc');
  const destination = required(el, 'applicationDst');
  const name = required(el, 'name');
  const type = required(el, 'type');
  if (!NUMERIC_TYPES.has(type) && !STRING_TYPES.has(type) && type !== 'dt_boolean') {
    throw new Sen1Error(`Sen1Message: type ${quote(type)} is not one of dt_string, dt_integer, dt_numeric, dt_date, dt_datetime, dt_duration, dt_time, dt_boolean`);
  }
  const unit = optional(el, 'unite');
  const metaname = optional(el, 'metaname');
  const metavalue = optional(el, 'metavalue');

  const datas = el.getChildren('Sen1Datas', NS_SEN1);
  if (datas.length > 1) throw new Sen1Error(`Sen1Message: Sen1Datas appears ${datas.length} times`);
  const items = datas[0]?.getChildren('Sen1Data', NS_SEN1) ?? [];
  if (items.length === 0) throw new Sen1Error('Sen1Message: Sen1Datas holds no Sen1Data, at least one value is required');

  const records = items.map((item, i): SeriesRecord => {
    const where = `Sen1Data ${i}`;
    const rawValue = childText(item, 'value', where);
    const timestamp = childText(item, 'timestamp', where)?.trim();
    if (rawValue === undefined) throw new Sen1Error(`${where}: value is missing`);
    if (timestamp === undefined || timestamp === '') throw new Sen1Error(`${where}: timestamp is missing or empty`);
    let time: number;
    try {
      time = parseLocalTime(timestamp, timeZone);
    } catch (e) {
      throw new Sen1Error(`${where}: timestamp ${e instanceof TimeFormatError ? e.message : quote(timestamp)}`);
    }
    const record: SeriesRecord = { name, time };
    if (NUMERIC_TYPES.has(type)) {
      const text = rawValue.trim();
      const value = NUMBER.test(text) ? Number(text) : NaN;
      if (!Number.isFinite(value)) throw new Sen1Error(`${where}: value ${quote(rawValue)} is not a number (type ${type})`);
      if (type === 'dt_integer' && !Number.isInteger(value)) throw new Sen1Error(`${where}: value ${quote(rawValue)} is not an integer`);
      record.value = value;
    } else if (type === 'dt_boolean') {
      const text = rawValue.trim().toLowerCase();
      if (text !== 'true' && text !== 'false' && text !== '1' && text !== '0') {
        throw new Sen1Error(`${where}: value ${quote(rawValue)} is not a boolean (true, false, 1 or 0)`);
      }
      record.boolValue = text === 'true' || text === '1';
    } else {
      record.stringValue = rawValue;
    }
    if (unit !== undefined) record.unit = unit;
    return record;
  });

  const sen1: Meta = { type };
  if (metaname !== undefined) sen1.metaname = metaname;
  if (metavalue !== undefined) sen1.metavalue = metavalue;
  return { source, destination, username, block: { meta: { sen1 }, records } };
}
