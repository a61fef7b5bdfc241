/**
 * Automatic rules ("automated authorization"): per app, tried in order on every new request and
 * renewal; the first that matches decides, and the decision is recorded as the rule's, with the
 * rule as evidence. A rule leaves requests about a data subject's series alone unless it says so
 * (`subjects`): a person's data wait for the person.
 */
import type { Db } from '../store/database.js';
import { normalizeRequester, requesterMatches, RequesterPatternError } from '../authz/requester-pattern.js';
import { patternCovers } from '../transfer/series-pattern.js';
import { addDuration, DurationError, parseCalendarDuration } from './duration.js';
import { DPV_TERM, LEGAL_BASES, parseProcessing, processingText, type LegalBasis, type Processing } from './model.js';
import { checkSeries, PartyError } from './parties.js';

export interface ConsentRule {
  id: number;
  app: string;
  decision: 'approve' | 'refuse';
  requester: string;
  series: string;
  purpose: string | null;
  purposeTerm: string | null;
  /** The processing a matching request may ask for. */
  processing: Processing[];
  /** ISO 8601 duration: an approval lasts at most this long from the decision. */
  maxDuration: string | null;
  /** Also decides requests about a data subject's series. */
  subjects: boolean;
  legalBasis: LegalBasis;
  createdAt: number;
}

export type NewRule = Omit<ConsentRule, 'id' | 'createdAt' | 'requester' | 'series' | 'processing' | 'subjects' | 'legalBasis'> &
  Partial<Pick<ConsentRule, 'requester' | 'series' | 'processing' | 'subjects' | 'legalBasis'>>;

/** What a rule looks at in a request. */
export interface RuleInput {
  requester: string;
  series: string;
  purpose: string;
  purposeTerm: string | null;
  processing: readonly Processing[];
  subject: string | null;
}

export function ruleMatches(rule: ConsentRule, r: RuleInput): boolean {
  return (
    (r.subject === null || rule.subjects) &&
    requesterMatches(rule.requester, r.requester) &&
    patternCovers(rule.series, r.series) &&
    (rule.purpose === null || rule.purpose.toLowerCase() === r.purpose.trim().toLowerCase()) &&
    (rule.purposeTerm === null || rule.purposeTerm === r.purposeTerm) &&
    r.processing.every((p) => rule.processing.includes(p))
  );
}

/** The first rule that decides this request, or undefined. */
export function firstMatch(rules: readonly ConsentRule[], r: RuleInput): ConsentRule | undefined {
  return rules.find((rule) => ruleMatches(rule, r));
}

/** The end of an approval by this rule: the asked end, capped by the rule's longest duration from `at`. */
export function ruleUntil(rule: ConsentRule, asked: number | null, at: number): number | null {
  if (rule.maxDuration === null) return asked;
  const cap = addDuration(at, parseCalendarDuration(rule.maxDuration));
  return asked === null ? cap : Math.min(asked, cap);
}

export function describeRule(r: ConsentRule): string {
  const parts = [`${r.decision} requests from ${r.requester} on ${r.series}`];
  if (r.purpose !== null) parts.push(`for the purpose "${r.purpose}"`);
  if (r.purposeTerm !== null) parts.push(`(${r.purposeTerm})`);
  parts.push(`asking at most ${processingText(r.processing).replace(' ', ' and ')}`);
  if (r.maxDuration !== null) parts.push(`for at most ${r.maxDuration}`);
  if (r.subjects) parts.push('including data subjects\' series');
  return parts.join(' ');
}

const COLUMNS = `id, app, decision, requester, series, purpose, purpose_term AS purposeTerm, processing, max_duration AS maxDuration,
  subjects, legal_basis AS legalBasis, created_at AS createdAt`;
type Row = Omit<ConsentRule, 'processing' | 'subjects'> & { processing: string; subjects: number };
const toRule = (r: Row): ConsentRule => ({ ...r, processing: parseProcessing(r.processing), subjects: r.subjects === 1 });

export class RuleStore {
  constructor(private readonly db: Db) {}

  add(r: NewRule): ConsentRule {
    let requester: string;
    try {
      requester = normalizeRequester(r.requester ?? '*');
    } catch (err) {
      if (err instanceof RequesterPatternError) throw new PartyError(err.message);
      throw err;
    }
    const series = checkSeries(r.series ?? '*');
    if (r.purposeTerm !== null && !DPV_TERM.test(r.purposeTerm)) throw new PartyError(`purpose term "${r.purposeTerm}" must be a DPV term such as dpv:ServiceProvision`);
    const processing = r.processing ?? ['read', 'subscribe'];
    if (processing.length === 0) throw new PartyError('processing must name read, subscribe or both');
    if (r.maxDuration !== null) {
      try {
        parseCalendarDuration(r.maxDuration);
      } catch (err) {
        if (err instanceof DurationError) throw new PartyError(`max duration: ${err.message}`);
        throw err;
      }
    }
    const basis = r.legalBasis ?? 'consent';
    if (!(basis in LEGAL_BASES)) throw new PartyError(`legal basis "${basis}" must be one of ${Object.keys(LEGAL_BASES).join(', ')}`);
    if (!this.db.prepare('SELECT 1 FROM apps WHERE name = ?').get(r.app)) throw new PartyError(`no app named "${r.app}"`);
    const { lastInsertRowid } = this.db
      .prepare(
        `INSERT INTO consent_rules (app, decision, requester, series, purpose, purpose_term, processing, max_duration, subjects, legal_basis, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(r.app, r.decision, requester, series, r.purpose, r.purposeTerm, processingText(processing), r.maxDuration, r.subjects ? 1 : 0, basis, Date.now());
    return this.get(Number(lastInsertRowid))!;
  }

  get(id: number): ConsentRule | undefined {
    const r = this.db.prepare(`SELECT ${COLUMNS} FROM consent_rules WHERE id = ?`).get(id) as Row | undefined;
    return r && toRule(r);
  }

  /** The rules of one app (in the order they are tried), or of every app. */
  list(app?: string): ConsentRule[] {
    const rows = app === undefined
      ? this.db.prepare(`SELECT ${COLUMNS} FROM consent_rules ORDER BY app, id`).all()
      : this.db.prepare(`SELECT ${COLUMNS} FROM consent_rules WHERE app = ? ORDER BY id`).all(app);
    return (rows as Row[]).map(toRule);
  }

  remove(id: number): void {
    if (this.db.prepare('DELETE FROM consent_rules WHERE id = ?').run(id).changes === 0) throw new PartyError(`no rule with id ${id}`);
  }
}
