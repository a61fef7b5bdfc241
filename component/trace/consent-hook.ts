/**
 * The log's entry for a consent event. Consent records (component/consent/, grants included) keep an
 * append-only history written by ONE function, which calls its hooks inside its transaction; this is
 * one of them (registered in consent-store.ts), so every event — requested, given, refused, renewed,
 * withdrawn, expired, invalidated — is logged with the event, by whoever appends it.
 *
 * The entry names the record, its parties and who acted; the event's details (a reason typed by a
 * person) and its evidence are kept as digests: they stay in the consent history, which the digests
 * bind, and can be erased from there without breaking the tree.
 */
import type { Db } from '../store/database.js';
import { sha256Hex } from './digest.js';
import { traceOf } from './trace.js';

/** The shape of a consent event, as component/consent/model.ts has it. */
export interface ConsentEventFacts {
  id: number;
  type: string;
  at: number;
  actor: string;
  role: string;
  evidence: object;
  details: object;
}

/** The shape of a consent record, as component/consent/model.ts has it. */
export interface ConsentRecordFacts {
  id: number;
  app: string;
  subject: string | null;
  recipient: string;
  series: string;
  purpose: string;
  legalBasis: string;
  processing: readonly string[];
  origin: string;
  state: string;
  notBefore: number | null;
  notAfter: number | null;
  /** How long the recipient may keep what it receives (ISO 8601 period), if the record limits it. */
  retention?: string | null;
}

export function logConsentEvent(event: ConsentEventFacts, record: ConsentRecordFacts, db: Db): void {
  traceOf(db).write(
    `consent.${event.type}`,
    {
      consent: record.id,
      event: event.id,
      app: record.app,
      subject: record.subject,
      recipient: record.recipient,
      series: record.series,
      purpose: record.purpose,
      legalBasis: record.legalBasis,
      processing: record.processing,
      origin: record.origin,
      state: record.state,
      from: record.notBefore,
      until: record.notAfter,
      retention: record.retention ?? undefined,
      by: event.actor,
      role: event.role,
      details: sha256Hex(JSON.stringify(event.details)),
      evidence: sha256Hex(JSON.stringify(event.evidence)),
    },
    event.at,
  );
}
