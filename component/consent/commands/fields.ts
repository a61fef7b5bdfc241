/**
 * The fields of the consent commands, read and checked (every problem is a `bad-request` saying what
 * to change), the records shown as table rows and list choices, and consent errors as stanza errors.
 */
import { StanzaError, quoted, type Condition } from '../../xmpp/stanza-error.js';
import { formatIsoUtc, parseIsoWithOffset, TimeFormatError } from '../../quoalise/time.js';
import { ConsentError, type ConsentErrorKind } from '../service.js';
import { PROCESSINGS, processingText, type ConsentRecord, type Processing } from '../model.js';
import type { FieldSpec } from '../../quoalise/commands/form.js';

export const iso = (ms: number | null): string => (ms === null ? '' : formatIsoUtc(Math.floor(ms / 1000)));

export function text(fields: ReadonlyMap<string, string[]>, name: string): string | undefined {
  return fields.get(name)?.[0];
}

export function readId(fields: ReadonlyMap<string, string[]>): number {
  const s = text(fields, 'id');
  if (s === undefined) throw new StanzaError('bad-request', 'the id field is required: the number of the consent record or request');
  if (!/^\d{1,15}$/.test(s)) throw new StanzaError('bad-request', `id ${quoted(s)} is not a record number`);
  return Number(s);
}

export function readTime(fields: ReadonlyMap<string, string[]>, name: string): number | undefined {
  const s = text(fields, name);
  if (s === undefined) return undefined;
  try {
    return Math.round(parseIsoWithOffset(s) * 1000);
  } catch (err) {
    if (err instanceof TimeFormatError) throw new StanzaError('bad-request', `${name}: ${err.message}`);
    throw err;
  }
}

export function readProcessing(fields: ReadonlyMap<string, string[]>): Processing[] {
  const values = fields.get('processing')?.flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);
  if (values === undefined) return [...PROCESSINGS];
  const bad = values.find((v) => !(PROCESSINGS as readonly string[]).includes(v));
  if (bad !== undefined) throw new StanzaError('bad-request', `processing ${quoted(bad)} is not one of read, subscribe`);
  return PROCESSINGS.filter((p) => values.includes(p));
}

const CONDITION: Record<ConsentErrorKind, Condition> = {
  'not-found': 'item-not-found',
  forbidden: 'forbidden',
  'bad-request': 'bad-request',
  'not-allowed': 'not-allowed',
  limit: 'resource-constraint',
};

/** Consent errors as the stanza errors the issue names. */
export function asStanzaError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConsentError) throw new StanzaError(CONDITION[err.kind], err.message);
    throw err;
  }
}

/** A list-single of records to choose from. */
export function recordChoice(label: string, desc: string, records: ConsentRecord[]): FieldSpec {
  return {
    var: 'id',
    type: 'list-single',
    label,
    desc,
    required: true,
    options: records.map((r) => ({ value: String(r.id), label: `#${r.id} ${r.requestedBy ?? r.recipient} · ${r.series} · ${r.purpose || r.legalBasis} (${r.state})` })),
  };
}

export const PROCESSING_FIELD: FieldSpec = {
  var: 'processing',
  type: 'list-multi',
  label: 'Processing',
  desc: 'What you will do with the series: read their history (get_history, list_series), receive new records as they come (subscribe), or both.',
  value: [...PROCESSINGS],
  options: [
    { value: 'read', label: 'Read their history' },
    { value: 'subscribe', label: 'Receive new records (subscribe)' },
  ],
};

export const RECORD_COLUMNS: Record<string, string> = { id: 'Id', recipient: 'Recipient', series: 'Series', purpose: 'Purpose', processing: 'Processing', state: 'State', since: 'In this state since', until: 'Until' };

export function recordRow(r: ConsentRecord): Record<string, string> {
  return {
    id: String(r.id),
    recipient: r.recipient,
    series: r.series,
    purpose: r.purposeTerm ? `${r.purpose} (${r.purposeTerm})` : r.purpose,
    processing: processingText(r.processing),
    state: r.renewalUntil !== null ? `${r.state}, renewal until ${iso(r.renewalUntil)} asked` : r.state,
    since: iso(r.state === 'requested' ? r.createdAt : r.stateAt),
    until: iso(r.notAfter),
  };
}
