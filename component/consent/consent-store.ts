/**
 * Consent records and their events in SQLite (schema/006_consent.sql). Every event of every record —
 * asked over XMPP, typed at the CLI, decided by a rule, found expired by the job — goes through ONE
 * function, `appendEvent`: it checks the transition (lifecycle.ts), appends the event and updates the
 * record's current state in one transaction, then calls the hooks (a transparency log can hook here).
 */
import { recordChange } from '../changes/feed.js';
import type { Db } from '../store/database.js';
import { seriesMatcher } from '../transfer/series-pattern.js';
import { logConsentEvent } from '../trace/consent-hook.js';
import { applyEvent, TransitionError } from './lifecycle.js';
import {
  awaitsDecision,
  parseProcessing,
  storedProcessing,
  type AuthorizationRecord,
  processingText,
  type ConsentEvent,
  type ConsentEventType,
  type ConsentRecord,
  type ConsentState,
  type EventDetails,
  type LegalBasis,
  type Processing,
  type Role,
} from './model.js';

export { TransitionError };

/** Who does something, and the evidence of it. */
export interface Actor {
  /** A bare JID, 'operator', 'rule 3', 'gateway'. */
  id: string;
  role: Role;
  evidence: Record<string, unknown>;
}

export interface NewConsent {
  app: string;
  subject: string | null;
  recipient: string;
  series: string;
  purpose: string;
  purposeTerm?: string | null;
  legalBasis: LegalBasis;
  processing: readonly Processing[];
  notice?: string;
  notBefore?: number | null;
  notAfter: number | null;
  /** 'grant': given by the operator at once; 'request': asked, waiting for a decision. */
  origin: 'grant' | 'request';
  requestedBy?: string | null;
  /** How long the recipient may keep what it receives (ISO 8601 period), for a grant. */
  retention?: string | null;
}

/** Called inside the transaction of every appended event, after it is written. */
export type ConsentEventHook = (event: ConsentEvent, record: ConsentRecord, db: Db) => void;
export const consentEventHooks: ConsentEventHook[] = [logConsentEvent];

const COLUMNS = `id, app, subject, recipient, series, purpose, purpose_term AS purposeTerm, legal_basis AS legalBasis,
  processing, notice, origin, requested_by AS requestedBy, created_at AS createdAt, state, state_at AS stateAt,
  not_before AS notBefore, not_after AS notAfter, renewal_until AS renewalUntil, retention, rev`;

type Row = Omit<ConsentRecord, 'processing'> & { processing: string };
const toRecord = (r: Row): ConsentRecord => ({ ...r, processing: parseProcessing(r.processing) });

type EventRow = Omit<ConsentEvent, 'evidence' | 'details'> & { evidence: string; details: string };
const toEvent = (r: EventRow): ConsentEvent => ({ ...r, evidence: JSON.parse(r.evidence) as Record<string, unknown>, details: JSON.parse(r.details) as EventDetails });
const EVENT_COLUMNS = 'id, consent_id AS consentId, type, at, actor, role, evidence, details';

export interface ConsentFilter {
  app?: string;
  state?: ConsentState;
  /** A data subject's name; null: records about no identified subject. */
  subject?: string | null;
  /** Records whose recipient or requester is this bare JID. */
  party?: string;
  limit?: number;
}

export class ConsentStore {
  constructor(private readonly db: Db) {}

  /** Creates a record with its first event ('requested', or 'given' for an operator's grant). */
  create(c: NewConsent, actor: Actor, at = Date.now()): ConsentRecord {
    return this.db.transaction(() => {
      const state: ConsentState = c.origin === 'grant' ? 'given' : 'requested';
      const { lastInsertRowid } = this.db
        .prepare(
          `INSERT INTO consents (app, subject, recipient, series, purpose, purpose_term, legal_basis, processing, notice, origin,
             requested_by, created_at, state, state_at, not_before, not_after, retention)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(c.app, c.subject, c.recipient, c.series, c.purpose, c.purposeTerm ?? null, c.legalBasis, processingText(c.processing), c.notice ?? '',
          c.origin, c.requestedBy ?? null, at, state, at, c.notBefore ?? null, c.notAfter, c.retention ?? null);
      const id = Number(lastInsertRowid);
      this.appendEvent(id, state, actor, { ...(c.notAfter === null ? {} : { until: c.notAfter }), ...(c.retention ? { retention: c.retention } : {}) }, at, { first: true });
      return this.get(id)!;
    }).immediate();
  }

  /**
   * THE one place where a consent event is written. Checks that the event may happen now (throws
   * TransitionError), appends it, updates the record's current state, and runs the hooks — all in
   * one transaction (nested in the caller's when there is one).
   */
  appendEvent(id: number, type: ConsentEventType, actor: Actor, details: EventDetails, at = Date.now(), opts: { first?: boolean } = {}): { record: ConsentRecord; event: ConsentEvent } {
    return this.db.transaction(() => {
      const before = this.get(id);
      if (!before) throw new TransitionError(`no consent record with id ${id}`);
      if (!opts.first) {
        const next = applyEvent(id, before, type, at, details);
        this.db
          .prepare('UPDATE consents SET state = ?, state_at = ?, series = ?, not_before = ?, not_after = ?, renewal_until = ?, legal_basis = ?, retention = ? WHERE id = ?')
          .run(next.state, next.stateAt, next.series, next.notBefore, next.notAfter, next.renewalUntil, next.legalBasis, next.retention, id);
      }
      const clean = Object.fromEntries(Object.entries(details).filter(([, v]) => v !== undefined));
      const { lastInsertRowid } = this.db
        .prepare('INSERT INTO consent_events (consent_id, type, at, actor, role, evidence, details) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(id, type, at, actor.id, actor.role, JSON.stringify(actor.evidence), JSON.stringify(clean));
      const event: ConsentEvent = { id: Number(lastInsertRowid), consentId: id, type, at, actor: actor.id, role: actor.role, evidence: actor.evidence, details: clean };
      const record = this.get(id)!;
      // The running gateway (this process or another) learns of it through its change feed.
      recordChange(this.db, 'consents', { id, app: record.app });
      for (const hook of consentEventHooks) hook(event, record, this.db);
      return { record, event };
    }).immediate();
  }

  get(id: number): ConsentRecord | undefined {
    const r = this.db.prepare(`SELECT ${COLUMNS} FROM consents WHERE id = ?`).get(id) as Row | undefined;
    return r && toRecord(r);
  }

  /** The history of one record, oldest first. */
  events(id: number): ConsentEvent[] {
    return (this.db.prepare(`SELECT ${EVENT_COLUMNS} FROM consent_events WHERE consent_id = ? ORDER BY id`).all(id) as EventRow[]).map(toEvent);
  }

  /** Events appended after `afterId` (the effects' cursor), oldest first. */
  eventsAfter(afterId: number, limit: number): ConsentEvent[] {
    return (this.db.prepare(`SELECT ${EVENT_COLUMNS} FROM consent_events WHERE id > ? ORDER BY id LIMIT ?`).all(afterId, limit) as EventRow[]).map(toEvent);
  }

  list(f: ConsentFilter = {}): ConsentRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    // With a party, its two indexes find the few rows; the app's index would walk all of the app's (`+` keeps SQLite off it).
    if (f.app !== undefined) (where.push(f.party === undefined ? 'app = ?' : '+app = ?'), args.push(f.app));
    if (f.state !== undefined) (where.push('state = ?'), args.push(f.state));
    if (f.subject === null) where.push('subject IS NULL');
    else if (f.subject !== undefined) (where.push('subject = ?'), args.push(f.subject));
    if (f.party !== undefined) (where.push('(recipient = ? OR requested_by = ?)'), args.push(f.party, f.party));
    const sql = `SELECT ${COLUMNS} FROM consents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, f.limit ?? 1000) as Row[]).map(toRecord).reverse();
  }

  /** Requests and renewals waiting for a decision, of one app or all, oldest first. */
  awaitingDecision(app?: string, limit = 1000): ConsentRecord[] {
    const rows = this.db
      .prepare(
        `SELECT ${COLUMNS} FROM consents WHERE (state = 'requested' OR renewal_until IS NOT NULL)
         ${app === undefined ? '' : 'AND app = ?'} ORDER BY id LIMIT ?`,
      )
      .all(...(app === undefined ? [] : [app]), limit) as Row[];
    return rows.map(toRecord).filter(awaitsDecision);
  }

  /**
   * What authorization needs of the records changed after `rev` (see consents_version) — of one app, and
   * of some recipient patterns, if given — in the order of their change.
   */
  changedSince(rev: number, app?: string, recipients?: string[]): AuthorizationRecord[] {
    const where = ['rev > ?'];
    const args: unknown[] = [rev];
    // With recipients, their index finds the few rows; the app's would walk all of the app's (`+` keeps SQLite off it).
    if (app !== undefined) (where.push(recipients === undefined ? 'app = ?' : '+app = ?'), args.push(app));
    if (recipients !== undefined) (where.push(`recipient IN (${recipients.map(() => '?').join(', ')})`), args.push(...recipients));
    const rows = this.db
      .prepare(`SELECT id, app, recipient, series, purpose, origin, state, state_at AS stateAt, not_before AS notBefore, not_after AS notAfter, processing, retention
                FROM consents WHERE ${where.join(' AND ')} ORDER BY rev`)
      .all(...args) as Array<Omit<AuthorizationRecord, 'processing'> & { processing: string }>;
    for (const r of rows) (r as unknown as AuthorizationRecord).processing = storedProcessing(r.processing);
    return rows as unknown as AuthorizationRecord[];
  }

  version(): number {
    return this.db.prepare('SELECT version FROM consents_version WHERE id = 1').pluck().get() as number;
  }

  /** How many requests of this requester wait for a decision (a limit per party). */
  pendingOf(requester: string): number {
    return this.db.prepare("SELECT count(*) FROM consents WHERE requested_by = ? AND (state = 'requested' OR renewal_until IS NOT NULL)").pluck().get(requester) as number;
  }

  pendingOn(app: string): number {
    return this.db.prepare("SELECT count(*) FROM consents WHERE app = ? AND (state = 'requested' OR renewal_until IS NOT NULL)").pluck().get(app) as number;
  }

  /** Requests and renewals waiting on `app` from requesters of `domain` (the awaiting index holds at most the app's limit). */
  pendingOnFrom(app: string, domain: string): number {
    return this.db
      .prepare("SELECT count(*) FROM consents WHERE app = ? AND (state = 'requested' OR renewal_until IS NOT NULL) AND substr(requested_by, instr(requested_by, '@') + 1) = ?")
      .pluck()
      .get(app, domain) as number;
  }

  /** Requests and renewals made by the requesters of `domain` since `since` (a limit per domain per day). */
  requestsFromDomainSince(domain: string, since: number): number {
    return this.db
      .prepare("SELECT count(*) FROM consent_events WHERE type = 'requested' AND at >= ? AND substr(actor, instr(actor, '@') + 1) = ?")
      .pluck()
      .get(since, domain) as number;
  }

  /** Requests and renewals this requester asked for since `since` (a limit per party per day). */
  requestsSince(requester: string, since: number): number {
    return this.db.prepare("SELECT count(*) FROM consent_events WHERE actor = ? AND type = 'requested' AND at >= ?").pluck().get(requester, since) as number;
  }

  /** Open records whose end has come. */
  due(now: number): number[] {
    return this.db.prepare("SELECT id FROM consents WHERE state IN ('requested', 'given', 'renewed') AND not_after <= ? ORDER BY not_after").pluck().all(now) as number[];
  }

  /** The earliest end of an open record, or null. */
  nextEnd(): number | null {
    return this.db.prepare("SELECT min(not_after) FROM consents WHERE state IN ('requested', 'given', 'renewed')").pluck().get() as number | null;
  }

  /** Appends 'expired' to every open record whose end has come; returns their ids. */
  expireDue(now: number, actor: Actor): number[] {
    return this.db.transaction(() => {
      const ids = this.due(now);
      for (const id of ids) this.appendEvent(id, 'expired', actor, {}, now);
      return ids;
    }).immediate();
  }

  /**
   * Ends the open records of an app about the device of `series` when the data subject's authorization
   * is gone at its source (the app's system says so): they can no longer be honoured. Records about a
   * data subject, or naming that device (`urn:dev:prm:<PRM>…`), that cover the series; not a broad record
   * (`*`) that also covers other people's data. Returns how many.
   */
  invalidateSeries(app: string, series: string, reason: string, actor: Actor, at = Date.now()): number {
    const device = series.split('_')[0]!;
    return this.db.transaction(() => {
      const open = this.db
        .prepare("SELECT id, series, subject FROM consents WHERE app = ? AND state IN ('requested', 'given', 'renewed') ORDER BY id")
        .all(app) as Array<{ id: number; series: string; subject: string | null }>;
      const ids = open.filter((r) => seriesMatcher(r.series)(series) && (r.subject !== null || r.series.includes(device))).map((r) => r.id);
      for (const id of ids) this.appendEvent(id, 'invalidated', actor, { reason }, at);
      return ids.length;
    }).immediate();
  }

  /** Ends every open record of an app that is being removed: they can no longer be honoured. */
  invalidateApp(app: string, actor: Actor, at = Date.now()): number {
    return this.db.transaction(() => {
      const ids = this.db.prepare("SELECT id FROM consents WHERE app = ? AND state IN ('requested', 'given', 'renewed') ORDER BY id").pluck().all(app) as number[];
      for (const id of ids) this.appendEvent(id, 'invalidated', actor, { reason: `the app ${app} was removed` }, at);
      return ids.length;
    }).immediate();
  }
}
