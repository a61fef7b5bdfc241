/**
 * A log entry: what happened, when, as the exact bytes that become a Merkle leaf — JSON,
 * `{"at":<ms since the epoch>,"kind":"<kind>",<fields>}`. The log keeps these bytes verbatim and the
 * leaf is their hash, so any third party reads an entry with any JSON library and recomputes its leaf
 * from the bytes alone (nobody ever re-encodes an entry: no canonical form is needed).
 *
 * Entries hold identifiers (JIDs, series identifiers, message ids, grant ids) and SHA-256 digests, never
 * the data itself: erasing a subject's data deletes nothing the tree depends on.
 */

/** A field value: identifiers, digests, counts, outcomes. Undefined fields are left out. */
export type FieldValue =
  | string
  | number
  | boolean
  | null
  | readonly string[]
  | { readonly [k: string]: FieldValue }
  | ReadonlyArray<{ readonly [k: string]: FieldValue }>
  | undefined;
export type EntryFields = Readonly<Record<string, FieldValue>>;

export interface Entry {
  at: number;
  kind: string;
  fields: Record<string, FieldValue>;
}

/** Kinds are lower-case words separated by dots, e.g. `access`, `consent.given`, `transfer.received`. */
const KIND = /^[a-z][a-z-]*(\.[a-z][a-z-]*)*$/;

export class EntryError extends Error {
  override name = 'EntryError';
}

/** The start of every entry of this time and kind: the verifier checks the indexed columns against it. */
export function entryPrefix(at: number, kind: string): string {
  return `{"at":${at},"kind":${JSON.stringify(kind)}`;
}

/** The entry's bytes: time and kind first, then the fields in the order given (undefined ones left out). */
export function encodeEntry(at: number, kind: string, fields: EntryFields): string {
  if (!KIND.test(kind)) throw new EntryError(`invalid entry kind "${kind}"`);
  if (!Number.isSafeInteger(at) || at < 0) throw new EntryError(`invalid entry time ${at}`);
  if ('at' in fields || 'kind' in fields) throw new EntryError('"at" and "kind" are not fields');
  return JSON.stringify({ at, kind, ...fields });
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
