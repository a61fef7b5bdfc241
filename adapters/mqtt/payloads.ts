/**
 * Payload decoders of the `mqtt` adapter, as pure functions: bytes of one MQTT message → a value, an
 * optional time and unit, or the reason it is malformed. Formats:
 * - `number`: the payload is a decimal number (`342`, `-1.5e3`), nothing else.
 * - `json`: a JSON object; the value at `value_field` (a dotted path, default `value`), the time at
 *   `time_field` (epoch seconds, or ISO 8601 with an offset), the unit at `unit_field`.
 * - `homie` (Homie 3/4): the payload is the property's value as text: a number, `true`/`false`, or a
 *   string; its unit comes from the retained `…/$unit` attribute topic of the property.
 * - `homeassistant` (Home Assistant MQTT discovery): the state payload is a number, or JSON read with
 *   the `value_template` (`{{ value_json.field }}`) of the discovery message whose `state_topic` is this
 *   topic; its unit is that message's `unit_of_measurement`. `unknown`/`unavailable` are not values.
 */
import { MAX_UNIT_LENGTH } from '../../component/quoalise/senml.js';
import { parseIsoWithOffset } from '../../component/quoalise/time.js';

export interface Decoded {
  value: number | string | boolean;
  /** Epoch seconds from the payload; absent: the time of reception. */
  time?: number;
  unit?: string;
}

export type DecodeResult = { ok: true; decoded: Decoded } | { ok: false; reason: string };

export interface JsonFields {
  value_field: string;
  time_field?: string | undefined;
  unit_field?: string | undefined;
}

/** Largest payload decoded: a meter's reading is a few bytes; anything bigger is refused unread. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;
/** Topics learnt from discovery messages or Homie attributes, at most (characters); their units as any unit (MAX_UNIT_LENGTH). */
export const MAX_LEARNT_TOPIC = 1024;

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

const fail = (reason: string): DecodeResult => ({ ok: false, reason });

function text(payload: Buffer): string | null {
  if (payload.length > MAX_PAYLOAD_BYTES) return null;
  const s = payload.toString('utf8');
  // A replacement character means the bytes were not UTF-8.
  return s.includes('\uFFFD') ? null : s;
}

export function decodeNumber(payload: Buffer): DecodeResult {
  const s = text(payload)?.trim();
  if (s === undefined) return fail(`not UTF-8 text of at most ${MAX_PAYLOAD_BYTES} bytes`);
  if (!NUMBER.test(s)) return fail(`not a number: ${JSON.stringify(s.slice(0, 40))}`);
  const n = Number(s);
  return Number.isFinite(n) ? { ok: true, decoded: { value: n } } : fail(`not a finite number: ${s.slice(0, 40)}`);
}

function at(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** A JSON time: epoch seconds (a number) or ISO 8601 with an offset. */
function jsonTime(t: unknown): number | null {
  if (typeof t === 'number') return Number.isFinite(t) ? t : null;
  if (typeof t === 'string') {
    try {
      return parseIsoWithOffset(t);
    } catch {
      return null;
    }
  }
  return null;
}

export function decodeJson(payload: Buffer, fields: JsonFields): DecodeResult {
  const s = text(payload);
  if (s === null) return fail(`not UTF-8 text of at most ${MAX_PAYLOAD_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(s);
  } catch {
    return fail(`not JSON: ${JSON.stringify(s.slice(0, 40))}`);
  }
  const value = at(doc, fields.value_field);
  if (typeof value === 'number' && !Number.isFinite(value)) return fail(`${fields.value_field} is not a finite number`);
  if (typeof value !== 'number' && typeof value !== 'boolean' && typeof value !== 'string') return fail(`no number, boolean or text at ${fields.value_field}`);
  const decoded: Decoded = { value };
  if (fields.time_field) {
    const t = jsonTime(at(doc, fields.time_field));
    if (t === null) return fail(`${fields.time_field} is neither epoch seconds nor ISO 8601 with an offset`);
    decoded.time = t;
  }
  if (fields.unit_field) {
    const u = at(doc, fields.unit_field);
    if (u !== undefined && typeof u !== 'string') return fail(`${fields.unit_field} is not a text`);
    if (u) decoded.unit = u;
  }
  return { ok: true, decoded };
}

/** Homie: numbers and booleans by their text, anything else a string. */
export function decodeHomie(payload: Buffer, unit: string | undefined): DecodeResult {
  const s = text(payload);
  if (s === null) return fail(`not UTF-8 text of at most ${MAX_PAYLOAD_BYTES} bytes`);
  if (s === '') return fail('empty payload (Homie: the value was removed)');
  const value = NUMBER.test(s) && Number.isFinite(Number(s)) ? Number(s) : s === 'true' ? true : s === 'false' ? false : s;
  return { ok: true, decoded: { value, ...(unit ? { unit } : {}) } };
}

/** What a Home Assistant discovery message says about one state topic. */
export interface HaEntity {
  unit?: string;
  /** The field of `value_json` read by the entity's value_template, if any. */
  valueField?: string;
}

/** Reads a discovery config payload: its state topic and how to read it; null when it has none. */
export function haDiscovery(payload: Buffer): { stateTopic: string; entity: HaEntity } | null {
  let doc: unknown;
  try {
    doc = JSON.parse(text(payload) ?? '');
  } catch {
    return null;
  }
  const d = doc as Record<string, unknown> | null;
  const stateTopic = d?.state_topic ?? d?.stat_t;
  // Each entity is kept in memory until the app stops: bounded in size too, not only in number.
  if (typeof stateTopic !== 'string' || stateTopic.length > MAX_LEARNT_TOPIC) return null;
  const unit = d!.unit_of_measurement ?? d!.unit_of_meas;
  const template = d!.value_template ?? d!.val_tpl;
  const field = typeof template === 'string' ? /^\{\{\s*value_json\.([A-Za-z0-9_.]+)\s*\}\}$/.exec(template.trim())?.[1] : undefined;
  const keptUnit = typeof unit === 'string' && unit && unit.length <= MAX_UNIT_LENGTH ? { unit } : {};
  return { stateTopic, entity: { ...keptUnit, ...(field && field.length <= MAX_UNIT_LENGTH ? { valueField: field } : {}) } };
}

export function decodeHomeAssistant(payload: Buffer, entity: HaEntity | undefined): DecodeResult {
  if (entity?.valueField) {
    const r = decodeJson(payload, { value_field: entity.valueField });
    return r.ok && entity.unit ? { ok: true, decoded: { ...r.decoded, unit: entity.unit } } : r;
  }
  const s = text(payload)?.trim();
  if (s === 'unknown' || s === 'unavailable') return fail(`the state is ${s}`);
  const r = decodeNumber(payload);
  return r.ok && entity?.unit ? { ok: true, decoded: { ...r.decoded, unit: entity.unit } } : r;
}
