/**
 * A log entry: what happened, when, as the exact bytes that become a Merkle leaf. Canonical JSON —
 * `{"at":<ms since the epoch>,"kind":"<kind>",<fields, keys sorted>}` — so that any third party can
 * read an entry with any JSON library and recompute its leaf hash from the bytes alone.
 *
 * Entries hold identifiers (JIDs, series identifiers, message ids, grant ids) and SHA-256 digests, never
 * the data itself: erasing a subject's data deletes nothing the tree depends on.
 */

/** A field value: identifiers, digests, counts, outcomes. Undefined fields are left out. */
export type FieldValue = string | number | boolean | null | readonly string[] | { readonly [k: string]: FieldValue } | undefined;
export type EntryFields = Readonly<Record<string, FieldValue>>;

export interface Entry {
  at: number;
  kind: string;
  fields: Record<string, FieldValue>;
}

/** Kinds are lower-case words separated by dots, e.g. `access`, `grant.added`, `transfer.received`. */
const KIND = /^[a-z][a-z-]*(\.[a-z][a-z-]*)*$/;

export class EntryError extends Error {
  override name = 'EntryError';
}

function canonical(value: FieldValue): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => canonical(v as FieldValue));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) if ((value as Record<string, FieldValue>)[k] !== undefined) out[k] = canonical((value as Record<string, FieldValue>)[k]);
  return out;
}

/** The start of every entry of this time and kind: the verifier checks the indexed columns against it. */
export function entryPrefix(at: number, kind: string): string {
  return `{"at":${at},"kind":${JSON.stringify(kind)}`;
}

export function encodeEntry(at: number, kind: string, fields: EntryFields): string {
  if (!KIND.test(kind)) throw new EntryError(`invalid entry kind "${kind}"`);
  if (!Number.isSafeInteger(at) || at < 0) throw new EntryError(`invalid entry time ${at}`);
  if ('at' in fields || 'kind' in fields) throw new EntryError('"at" and "kind" are not fields');
  const body = JSON.stringify(canonical(fields as FieldValue));
  return body === '{}' ? `${entryPrefix(at, kind)}}` : `${entryPrefix(at, kind)},${body.slice(1)}`;
}

export function decodeEntry(text: string): Entry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new EntryError('entry is not JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new EntryError('entry is not a JSON object');
  const { at, kind, ...fields } = parsed as Record<string, FieldValue>;
  if (typeof at !== 'number' || typeof kind !== 'string') throw new EntryError('entry has no "at" time or no "kind"');
  return { at, kind, fields };
}
