/**
 * The log's entry for a consent event (issue 8: consent records with an append-only history, written by
 * ONE function that calls hooks inside its transaction). Registering this function as that hook logs
 * every event — requested, given, refused, renewed, withdrawn, expired, invalidated — in the transaction
 * that writes it:
 *
 *   consentEventHooks.push(logConsentEvent);      // component/consent/consent-store.ts
 *
 * The entry names the record and its parties; the event's free-text details and evidence are kept as
 * digests (they stay in the consent history, which the digests bind).
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
  evidence: Record<string, unknown>;
  details: Record<string, unknown>;
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
  state: string;
  notBefore: number | null;
  notAfter: number | null;
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
      state: record.state,
      from: record.notBefore,
      until: record.notAfter,
      by: event.actor,
      role: event.role,
      details: sha256Hex(JSON.stringify(event.details)),
      evidence: sha256Hex(JSON.stringify(event.evidence)),
    },
    event.at,
  );
}
