/**
 * What can be done with consent records, and by whom — the same rules whether it comes from XMPP (the
 * requester, the subject, the owner) or from the CLI (the operator):
 *
 * - a requester asks (`request`), renews before the end (`renew`) and withdraws its own access;
 * - a record about a data subject is decided by that subject's JID; one about no subject by the app's
 *   owners; the operator may decide anything; automatic rules decide what they match, at once;
 * - anyone who decides for a record may withdraw it.
 *
 * A decision counts only from the party it concerns (the caller passes the bare JID of the stanza's
 * sender); every table a requester can grow has a limit per requester and per app.
 */
import type { Db } from '../store/database.js';
import { formatIsoUtc } from '../quoalise/time.js';
import { domainOf } from '../xmpp/jid.js';
import { quoted } from '../xmpp/stanza-error.js';
import { isPattern, patternCovers } from '../transfer/series-pattern.js';
import { ConsentStore, TransitionError, type Actor } from './consent-store.js';
import { addDuration, parseCalendarDuration, type CalendarDuration } from './duration.js';
import { awaitsDecision, DPV_TERM, isLive, type ConsentRecord, type Processing } from './model.js';
import { checkSeries, Parties, PartyError } from './parties.js';
import { describeRule, firstMatch, ruleUntil, RuleStore, type ConsentRule } from './rules.js';
import { parsePeriod, RetentionError } from '../gdpr/retention.js';

export type ConsentErrorKind = 'not-found' | 'forbidden' | 'bad-request' | 'not-allowed' | 'limit';

export class ConsentError extends Error {
  override name = 'ConsentError';
  constructor(readonly kind: ConsentErrorKind, message: string) {
    super(message);
  }
}

/**
 * Whether `jid` is the record's recipient, as a person: a recipient pattern (`*@domain`, `*`) names
 * everyone it covers, and none of them — not even an account literally named `*@domain` — may renew or
 * withdraw for all the others.
 */
function isRecipient(rec: ConsentRecord, jid: string): boolean {
  // A recipient holding `*` or `?` is a pattern (requester-pattern.ts reads them as series globs do).
  return rec.recipient === jid && !isPattern(rec.recipient);
}

export interface ConsentPolicy {
  /** Longest validity of a consent from the moment it is asked or renewed (config consent.max_validity). */
  maxValidity: CalendarDuration;
  maxPendingPerRequester: number;
  maxPendingPerApp: number;
  /** Requests waiting on one app from all the requesters of one domain: many JIDs of one domain must not fill the app's slots. */
  maxPendingPerDomain: number;
  maxRequestsPerDay: number;
  /** Requests and renewals all the requesters of one domain may make in 24 hours. */
  maxRequestsPerDomainPerDay: number;
}

/** The policy from the configuration's `consent:` section. */
export function consentPolicy(c: {
  max_validity: string;
  max_pending_per_requester: number;
  max_pending_per_app: number;
  max_pending_per_domain: number;
  max_requests_per_day: number;
  max_requests_per_domain_per_day: number;
}): ConsentPolicy {
  return {
    maxValidity: parseCalendarDuration(c.max_validity),
    maxPendingPerRequester: c.max_pending_per_requester,
    maxPendingPerApp: c.max_pending_per_app,
    maxPendingPerDomain: c.max_pending_per_domain,
    maxRequestsPerDay: c.max_requests_per_day,
    maxRequestsPerDomainPerDay: c.max_requests_per_domain_per_day,
  };
}

export interface AccessRequest {
  app: string;
  series: string;
  purpose: string;
  purposeTerm?: string | null;
  processing: Processing[];
  /** The end asked for, ms; absent = the longest allowed. */
  until?: number;
  notice?: string;
}

/** An approval may shorten the validity, narrow the series, and limit how long the recipient may keep the data (`retention`, ISO 8601). */
export type Decision = { approve: true; until?: number; series?: string; retention?: string } | { approve: false; reason?: string };

/** A refusal's or a withdrawal's reason: kept for ever in the consent history and sent to the other side, so bounded like the purpose. */
const MAX_REASON = 500;
function checkedReason(reason: string | undefined): string | undefined {
  const r = reason?.trim();
  if (r && r.length > MAX_REASON) throw new ConsentError('bad-request', `the reason is too long: at most ${MAX_REASON} characters`);
  return r || undefined;
}

const DAY_MS = 86_400_000;
const iso = (ms: number) => formatIsoUtc(Math.floor(ms / 1000));

/** Runs `fn`; an error of class `from` (an expected refusal of a lower layer) becomes a ConsentError of that kind. */
function as<T>(kind: ConsentErrorKind, from: abstract new (...a: never[]) => Error, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof from) throw new ConsentError(kind, err.message);
    throw err;
  }
}

/** A transition refused by the lifecycle is not-allowed. */
const transition = <T>(fn: () => T): T => as('not-allowed', TransitionError, fn);

export class ConsentService {
  readonly store: ConsentStore;
  readonly parties: Parties;
  readonly rules: RuleStore;

  constructor(private readonly db: Db, private readonly policy: ConsentPolicy) {
    this.store = new ConsentStore(db);
    this.parties = new Parties(db);
    this.rules = new RuleStore(db);
  }

  /** A requester (bare JID) asks for access; rules may decide at once. Returns the record as it stands. */
  request(requester: string, r: AccessRequest, actor: Actor, at = Date.now()): ConsentRecord {
    // `*@partner.org` may be a real account (RFC 7622 allows `*`), but as a recipient it is the pattern
    // "everyone at partner.org": what one account asks for must never open to a whole domain.
    if (isPattern(requester)) throw new ConsentError('bad-request', `${requester} holds * or ?, which consent records read as a pattern: ask from an address without them`);
    const series = this.checked(() => checkSeries(r.series));
    const purpose = r.purpose.trim();
    if (!purpose) throw new ConsentError('bad-request', 'say why you ask: the purpose is shown to whoever decides');
    if (purpose.length > 500) throw new ConsentError('bad-request', 'the purpose is too long: at most 500 characters');
    if ((r.notice ?? '').length > 2000) throw new ConsentError('bad-request', 'the notice is too long: at most 2000 characters (give a URL)');
    if (r.purposeTerm && !DPV_TERM.test(r.purposeTerm)) throw new ConsentError('bad-request', `purpose_term ${quoted(r.purposeTerm)} must be a DPV purpose such as dpv:ServiceProvision`);
    if (r.processing.length === 0) throw new ConsentError('bad-request', 'processing must name read, subscribe or both');
    const until = this.validUntil(r.until, at);
    const concern = this.parties.concern(series);
    if (concern.kind === 'mixed') {
      throw new ConsentError('bad-request', `the series ${series} covers personal data of a data subject together with other data: ask for the series about one person at a time, and for the others separately`);
    }
    const subject = concern.kind === 'subject' ? concern.subject : null;

    return this.db.transaction(() => {
      const same = this.store
        .awaitingDecision(r.app)
        .find((c) => c.state === 'requested' && c.requestedBy === requester && c.series === series && c.purpose === purpose && c.processing.join() === [...r.processing].sort().join());
      if (same) return same; // asking twice is asking once
      this.checkLimits(requester, r.app, at);
      const record = this.store.create(
        { app: r.app, subject, recipient: requester, series, purpose, purposeTerm: r.purposeTerm ?? null, legalBasis: 'consent', processing: r.processing, notice: r.notice ?? '', notAfter: until, origin: 'request', requestedBy: requester },
        actor,
        at,
      );
      return this.applyRules(record, until, at);
    }).immediate();
  }

  /** A decider approves (optionally shorter, or narrower) or refuses a request or a renewal. */
  decide(id: number, d: Decision, actor: Actor, at = Date.now()): ConsentRecord {
    const rec = this.find(id);
    const role = this.deciderRole(rec, actor);
    if (!awaitsDecision(rec)) throw new ConsentError('not-allowed', `consent ${id} is ${rec.state}: there is nothing to decide`);
    const who = { ...actor, role };
    if (!d.approve) {
      const reason = checkedReason(d.reason);
      return transition(() => this.store.appendEvent(id, 'refused', who, { reason, renewal: rec.state !== 'requested' || undefined }, at).record);
    }
    const renewal = rec.state !== 'requested';
    const asked = renewal ? rec.renewalUntil : rec.notAfter;
    if (d.until !== undefined) {
      if (d.until <= at) throw new ConsentError('bad-request', `until (${iso(d.until)}) is already past`);
      if (asked !== null && d.until > asked) throw new ConsentError('bad-request', `the validity can only be shortened: at most ${iso(asked)}, as asked`);
    }
    if (d.series !== undefined) {
      if (renewal) throw new ConsentError('bad-request', 'a renewal keeps its series: approve or refuse it');
      this.checked(() => checkSeries(d.series!));
      if (!patternCovers(rec.series, d.series)) throw new ConsentError('bad-request', `the series can only be narrowed: ${d.series} is not within ${rec.series}`);
    }
    if (d.retention !== undefined) as('bad-request', RetentionError, () => parsePeriod(d.retention!));
    const until = d.until ?? asked;
    return transition(() => this.store.appendEvent(id, renewal ? 'renewed' : 'given', who, { until, series: d.series, retention: d.retention?.trim() }, at).record);
  }

  /** Ends a record: by its requester, by whoever decides for it, or by the operator. */
  withdraw(id: number, actor: Actor, reason: string | undefined, at = Date.now()): ConsentRecord {
    const rec = this.find(id);
    const role = actor.role === 'operator' ? 'operator' : this.roleOf(rec, actor.id);
    if (role === null) throw new ConsentError('forbidden', `${actor.id} may not withdraw consent ${id}: only its requester, the person or owner it is about, or the operator can`);
    const why = checkedReason(reason);
    return transition(() => this.store.appendEvent(id, 'withdrawn', { ...actor, role }, { reason: why }, at).record);
  }

  /** The requester asks to extend a consent in force before its end; rules may decide at once. */
  renew(id: number, until: number | undefined, actor: Actor, at = Date.now()): ConsentRecord {
    const rec = this.find(id);
    if (actor.role !== 'operator' && rec.requestedBy !== actor.id && !isRecipient(rec, actor.id)) {
      throw new ConsentError('forbidden', `${actor.id} may not renew consent ${id}: only its requester can ask for a renewal`);
    }
    if (!isLive(rec.state)) throw new ConsentError('not-allowed', `consent ${id} is ${rec.state}: only a consent in force can be renewed (ask again with request_access)`);
    const end = this.validUntil(until, at);
    if (rec.notAfter !== null && end <= rec.notAfter) throw new ConsentError('bad-request', `a renewal must end after the current end (${iso(rec.notAfter)})`);
    return this.db.transaction(() => {
      this.checkLimits(rec.requestedBy ?? actor.id, rec.app, at);
      const asked = transition(() => this.store.appendEvent(id, 'requested', { ...actor, role: 'requester' }, { renewal: true, until: end }, at).record);
      return this.applyRules(asked, end, at);
    }).immediate();
  }

  /** The role in which this bare JID may act on the record (requester, subject or owner), or null. */
  roleOf(rec: ConsentRecord, jid: string): 'requester' | 'subject' | 'owner' | null {
    if (this.parties.deciders(rec.app, rec.subject).includes(jid)) return rec.subject === null ? 'owner' : 'subject';
    if (rec.requestedBy === jid || isRecipient(rec, jid)) return 'requester';
    return null;
  }

  /** True when this JID decides for some records of the app (an owner, or a subject with a JID). */
  isDecider(app: string, jid: string): boolean {
    return this.parties.owners(app).includes(jid) || this.parties.subjectsOf(jid).length > 0;
  }

  /** Records of the app this JID decides for (the newest 1000 of each kind), oldest first. */
  decidedBy(app: string, jid: string): ConsentRecord[] {
    const mine = this.parties.subjectsOf(jid).flatMap((subject) => this.store.list({ app, subject }));
    if (this.parties.owners(app).includes(jid)) mine.push(...this.store.list({ app, subject: null }));
    return mine.sort((a, b) => a.id - b.id);
  }

  find(id: number): ConsentRecord {
    const rec = this.store.get(id);
    if (!rec) throw new ConsentError('not-found', `no consent record with id ${id}`);
    return rec;
  }

  private deciderRole(rec: ConsentRecord, actor: Actor): Actor['role'] {
    if (actor.role === 'operator' || actor.role === 'rule') return actor.role;
    const role = this.roleOf(rec, actor.id);
    if (role === 'subject' || role === 'owner') return role;
    const whose = rec.subject === null ? `the owners of ${rec.app}` : 'the person it is about';
    throw new ConsentError('forbidden', `${actor.id} may not decide consent ${rec.id}: only ${whose} can`);
  }

  private validUntil(until: number | undefined, at: number): number {
    const max = addDuration(at, this.policy.maxValidity);
    if (until === undefined) return max;
    if (until <= at) throw new ConsentError('bad-request', `until (${iso(until)}) is already past`);
    if (until > max) throw new ConsentError('bad-request', `until is too far: a consent lasts at most ${this.policy.maxValidity.text} (until ${iso(max)} at the latest)`);
    return until;
  }

  private checkLimits(requester: string, app: string, at: number): void {
    const p = this.policy;
    if (this.store.pendingOf(requester) >= p.maxPendingPerRequester) {
      throw new ConsentError('limit', `${requester} already has ${p.maxPendingPerRequester} requests waiting for a decision (the limit): wait for the answers, or withdraw some`);
    }
    const domain = domainOf(requester);
    if (this.store.pendingOnFrom(app, domain) >= p.maxPendingPerDomain) {
      throw new ConsentError('limit', `${app} already has ${p.maxPendingPerDomain} requests from ${domain} waiting for a decision (the limit per domain): retry later`);
    }
    if (this.store.pendingOn(app) >= p.maxPendingPerApp) {
      throw new ConsentError('limit', `${app} has ${p.maxPendingPerApp} requests waiting for a decision (the limit): retry later`);
    }
    if (this.store.requestsSince(requester, at - DAY_MS) >= p.maxRequestsPerDay) {
      throw new ConsentError('limit', `${requester} made ${p.maxRequestsPerDay} requests or renewals in the last 24 hours (the limit): retry tomorrow`);
    }
    if (this.store.requestsFromDomainSince(domain, at - DAY_MS) >= p.maxRequestsPerDomainPerDay) {
      throw new ConsentError('limit', `the requesters of ${domain} made ${p.maxRequestsPerDomainPerDay} requests or renewals in the last 24 hours (the limit per domain): retry tomorrow`);
    }
  }

  /** The first matching rule of the app decides a fresh request or renewal, as itself. */
  private applyRules(rec: ConsentRecord, asked: number, at: number): ConsentRecord {
    const rule = firstMatch(this.rules.list(rec.app), {
      requester: rec.requestedBy ?? rec.recipient,
      series: rec.series,
      purpose: rec.purpose,
      purposeTerm: rec.purposeTerm,
      processing: rec.processing,
      subject: rec.subject,
    });
    if (!rule) return rec;
    const actor = ruleActor(rule);
    if (rule.decision === 'refuse') return this.store.appendEvent(rec.id, 'refused', actor, { reason: `refused by rule ${rule.id}`, renewal: rec.state !== 'requested' || undefined }, at).record;
    const until = ruleUntil(rule, asked, at) ?? undefined;
    if (rec.state === 'requested') return this.store.appendEvent(rec.id, 'given', actor, { until, legalBasis: rule.legalBasis === rec.legalBasis ? undefined : rule.legalBasis }, at).record;
    return this.store.appendEvent(rec.id, 'renewed', actor, { until }, at).record;
  }

  private checked<T>(fn: () => T): T {
    return as('bad-request', PartyError, fn);
  }
}

export function ruleActor(rule: ConsentRule): Actor {
  return { id: `rule ${rule.id}`, role: 'rule', evidence: { via: 'rule', rule: rule.id, says: describeRule(rule) } };
}

/** Evidence of an XMPP action: the stanza's id and the sender's full JID. */
export function xmppActor(bare: string, role: Actor['role'], stanza: { id?: string; from?: string }): Actor {
  return { id: bare, role, evidence: { via: 'xmpp', stanza: stanza.id ?? null, from: stanza.from ?? null } };
}

export const GATEWAY: Actor = { id: 'gateway', role: 'gateway', evidence: { via: 'gateway' } };
