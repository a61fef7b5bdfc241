/**
 * Grants: the operator's way to let a requester read series, typed at the CLI. Since schema 006 a grant
 * is a consent record given by the operator at once, on the legal basis the operator chooses
 * (component/consent/); this class is the operator's view of those records, and a ConsentSource for the
 * Authorizer like the consent store itself.
 */
import type { Db } from '../store/database.js';
import { normalizeRequester, RequesterPatternError } from './requester-pattern.js';
import { ConsentStore, TransitionError, type Actor } from '../consent/consent-store.js';
import { isLive, LEGAL_BASES, PROCESSINGS, type AuthorizationRecord, type ConsentRecord, type LegalBasis, type Processing } from '../consent/model.js';
import type { ConsentSource } from './authorizer.js';
import { parsePeriod, RetentionError } from '../gdpr/retention.js';

export interface Grant {
  id: number;
  /** The application's name (JID localpart). */
  app: string;
  /** Normalized requester pattern: `alice@example.net`, `*@example.net` or `*`. */
  requester: string;
  /** A series identifier or a glob over identifiers. */
  series: string;
  purpose: string;
  legalBasis: LegalBasis;
  processing: Processing[];
  /** Valid from (inclusive), ms since the epoch; null = since creation. */
  notBefore: number | null;
  /** Valid until (exclusive), ms since the epoch; null = no end. */
  notAfter: number | null;
  /** How long the requester may keep what it receives (ISO 8601 period), or null. */
  retention: string | null;
  createdAt: number;
}

export interface NewGrant {
  app: string;
  requester: string;
  series: string;
  purpose?: string;
  /** Default: public-task for anyone ('*', open data), contract otherwise. */
  legalBasis?: LegalBasis;
  processing?: Processing[];
  notBefore?: number | null;
  notAfter?: number | null;
  /** How long the requester may keep what it receives, from the transfer (ISO 8601 period). */
  retention?: string;
}

export class GrantError extends Error {
  override name = 'GrantError';
}

/** The operator, acting through the CLI (or a program embedding fedgate). */
export const OPERATOR: Actor = { id: 'operator', role: 'operator', evidence: { via: 'grant' } };

const toGrant = (r: ConsentRecord): Grant => ({
  id: r.id,
  app: r.app,
  requester: r.recipient,
  series: r.series,
  purpose: r.purpose,
  legalBasis: r.legalBasis,
  processing: r.processing,
  notBefore: r.notBefore,
  notAfter: r.notAfter,
  retention: r.retention,
  createdAt: r.createdAt,
});

export class GrantStore implements ConsentSource {
  private readonly consents: ConsentStore;

  constructor(private readonly db: Db) {
    this.consents = new ConsentStore(db);
  }

  add(g: NewGrant, actor: Actor = OPERATOR): Grant {
    let requester: string;
    try {
      requester = normalizeRequester(g.requester);
    } catch (err) {
      if (err instanceof RequesterPatternError) throw new GrantError(err.message);
      throw err;
    }
    if (!g.series || /\s/.test(g.series)) throw new GrantError(`series "${g.series}" must be an identifier or a glob without spaces`);
    const notBefore = g.notBefore ?? null;
    const notAfter = g.notAfter ?? null;
    if (notBefore !== null && notAfter !== null && notBefore >= notAfter) throw new GrantError('the grant would end before it starts (--from must be before --until)');
    const legalBasis = g.legalBasis ?? (requester === '*' ? 'public-task' : 'contract');
    if (!(legalBasis in LEGAL_BASES)) throw new GrantError(`legal basis "${legalBasis}" must be one of ${Object.keys(LEGAL_BASES).join(', ')}`);
    if (!this.db.prepare('SELECT 1 FROM apps WHERE name = ?').get(g.app)) throw new GrantError(`no app named "${g.app}"`);
    if (g.retention !== undefined) {
      try {
        parsePeriod(g.retention);
      } catch (err) {
        if (err instanceof RetentionError) throw new GrantError(`--retention: ${err.message}`);
        throw err;
      }
    }
    const rec = this.consents.create(
      { app: g.app, subject: null, recipient: requester, series: g.series, purpose: g.purpose ?? '', legalBasis, processing: g.processing ?? [...PROCESSINGS], notBefore, notAfter, origin: 'grant', retention: g.retention?.trim() ?? null },
      actor,
    );
    return toGrant(rec);
  }

  get(id: number): Grant | undefined {
    const r = this.consents.get(id);
    return r && r.origin === 'grant' && isLive(r.state) ? toGrant(r) : undefined;
  }

  /** The grants in force (or whose window has not begun, or has just passed), of every app or one, oldest first. */
  list(app?: string): Grant[] {
    return this.consents
      .list({ ...(app === undefined ? {} : { app }), limit: Number.MAX_SAFE_INTEGER })
      .filter((r) => r.origin === 'grant' && isLive(r.state))
      .map(toGrant);
  }

  /** Ends a grant: the record is withdrawn by the operator (its history stays). */
  remove(id: number, actor: Actor = OPERATOR): void {
    if (!this.get(id)) throw new GrantError(`no grant with id ${id}`);
    try {
      this.consents.appendEvent(id, 'withdrawn', actor, { reason: 'grant removed' });
    } catch (err) {
      if (err instanceof TransitionError) throw new GrantError(err.message);
      throw err;
    }
  }

  version(): number {
    return this.consents.version();
  }

  changedSince(version: number, app?: string, recipients?: string[]): AuthorizationRecord[] {
    return this.consents.changedSince(version, app, recipients);
  }
}
