/**
 * The one authorization check of the gateway: may this requester read (or subscribe to) this series of
 * this app, now? Deny by default. It reads the current state of consent records only — a record allows
 * when it is 'given' or 'renewed', inside its validity window, for that processing; an operator's grant
 * is such a record (schema/006_consent.sql).
 *
 * Records are held in memory (the XMPP thread must not query SQLite on every request), indexed by app,
 * then by recipient pattern, then by exact series (globs apart): a check costs the same with 1 or
 * 100,000 records. Reloads are incremental (only the rows changed since the last load are read, by
 * their `rev`), and happen when the change feed's `consents` topic says something changed (`refresh`).
 *
 * Each answer says why, in words meant for the requester (it becomes the `not-authorized` text).
 */
import type { Logger } from '../log/logger.js';
import { formatIsoUtc } from '../quoalise/time.js';
import { isPattern, seriesMatcher } from '../transfer/series-pattern.js';
import { isLive, processingText, type AuthorizationRecord, type Processing } from '../consent/model.js';
import { bareJid } from '../xmpp/jid.js';

export interface AuthorizationRequest {
  /** The application's name (JID localpart). */
  app: string;
  /** The requester's bare JID. */
  requester: string;
  /** A series identifier (not a pattern). */
  series: string;
  /** When, in ms since the epoch; the request's arrival. */
  at: number;
  /** What the requester wants to do: read history (the default) or receive pushes of new records. */
  processing?: Processing;
}

export interface AuthorizationDecision {
  allowed: boolean;
  /** Why: names the record that allows, or what is missing. */
  reason: string;
  /** The consent record (or grant) that allows the request. */
  grantId?: number;
  /** How long the recipient may keep what it receives under that record (ISO 8601 period), if it says. */
  retention?: string;
  /** The data subject reading their own series (allowed without any record). */
  subject?: string;
}

/** Where the records come from: the consent store (or the grant facade over it). */
export interface ConsentSource {
  /** A number that changes whenever any record changes. */
  version(): number;
  /** Records changed after that version (of one app, and of these recipient patterns, if given), in the order of their change. */
  changedSince(version: number, app?: string, recipients?: string[]): AuthorizationRecord[];
}

/**
 * The data subjects bound to a JID, and their series (schema/006_consent.sql: subjects, subject_series):
 * the person the data are about may always read them, without any record.
 */
export interface SubjectSource {
  /** A number that changes whenever a subject or its series change. */
  subjectsVersion(): number;
  boundSubjects(): Array<{ name: string; jid: string; series: string[] }>;
}

type Rec = AuthorizationRecord;

/** The records of one (app, recipient pattern): by exact series, and the globs apart with their matchers. */
interface Bucket {
  exact: Map<string, Rec[]>;
  globs: Array<{ rec: Rec; matches(series: string): boolean }>;
}

const iso = (ms: number) => formatIsoUtc(Math.floor(ms / 1000));

function inWindow(r: Rec, at: number): boolean {
  return (r.notBefore === null || at >= r.notBefore) && (r.notAfter === null || at < r.notAfter);
}

function allows(r: Rec, at: number, processing: Processing | undefined): boolean {
  return isLive(r.state) && inWindow(r, at) && (processing === undefined || r.processing.includes(processing));
}

/** When a record stopped allowing: the end of its window, or the event that ended it. */
function endedAt(r: Rec): number {
  return isLive(r.state) || r.state === 'expired' ? r.notAfter ?? r.stateAt : r.stateAt;
}

/** How a record is named to the requester. */
function label(r: Rec): string {
  return r.origin === 'grant' ? `grant ${r.id}` : `consent ${r.id}`;
}

/** The recipient patterns that cover a bare JID: itself, its domain, anyone. */
export function patternsCovering(requester: string): string[] {
  const bare = bareJid(requester);
  const at = bare.indexOf('@');
  return at >= 0 ? [bare, `*@${bare.slice(at + 1)}`, '*'] : [`*@${bare}`, '*'];
}

export class Authorizer {
  private readonly byId = new Map<number, Rec>();
  private readonly byApp = new Map<string, Map<string, Bucket>>();
  private version = -1;
  /** Bare JID → the subjects it is, with matchers of their series. */
  private subjects = new Map<string, Array<{ name: string; series: string; matches(series: string): boolean }>>();
  private subjectsVersion = -1;

  /**
   * `only`: hold the records of one app alone — and of one requester, if given (one check in a worker,
   * which then reads the few records that concern it instead of holding all of them). `subjects`: let
   * data subjects read their own series (the gateway's check; sends and extracts check subscriptions only).
   */
  constructor(
    private readonly source: ConsentSource,
    private readonly log?: Logger,
    private readonly only?: { app: string; requester?: string },
    private readonly subjectSource?: SubjectSource,
  ) {
    this.refresh();
  }

  /** Loads the records changed since the last load (one single-row read when nothing changed). */
  refresh(): void {
    if (this.subjectSource) this.refreshSubjects(this.subjectSource);
    const version = this.source.version();
    if (version === this.version) return;
    const changed = this.source.changedSince(this.version, this.only?.app, this.only?.requester === undefined ? undefined : patternsCovering(this.only.requester));
    for (const rec of changed) {
      const old = this.byId.get(rec.id);
      if (old) this.unindex(old);
      this.index(rec);
    }
    this.version = version;
    this.log?.debug({ changed: changed.length, records: this.byId.size }, 'consent records loaded');
  }

  authorize(req: AuthorizationRequest): AuthorizationDecision {
    const processing = req.processing ?? 'read';
    const covering = this.candidates(req.app, req.requester, req.series);
    const valid = covering.find((r) => allows(r, req.at, processing));
    const verb = processing === 'read' ? 'read' : 'subscribe to';
    if (valid) {
      const purpose = valid.purpose ? ` for ${valid.purpose}` : '';
      return { allowed: true, reason: `${label(valid)} lets ${req.requester} ${verb} ${req.series} from ${req.app}${purpose}`, grantId: valid.id, ...(valid.retention ? { retention: valid.retention } : {}) };
    }
    const own = processing === 'read' ? this.ownSubject(req.requester, req.series) : undefined;
    if (own) return { allowed: true, reason: `${req.requester} is ${own}, whom ${req.series} is about: the person the data are about may always read them`, subject: own };
    return { allowed: false, reason: `${req.requester} may not ${verb} ${req.series} from ${req.app}: ${this.whyNot(covering, req.at, req.app, 'no grant covers this series')}` };
  }

  /** The series patterns this requester may read from this app now (for the catalogue). */
  visibleSeriesPatterns(app: string, requester: string, at: number): string[] {
    const own = this.subjects.get(bareJid(requester))?.map((s) => s.series) ?? [];
    return [...new Set([...this.candidates(app, requester).filter((r) => allows(r, at, 'read')).map((r) => r.series), ...own])];
  }

  /** True when the requester holds at least one record in force on this app, or is a data subject (to list its commands). */
  hasAnyGrant(app: string, requester: string, at: number): boolean {
    return this.candidates(app, requester).some((r) => allows(r, at, undefined)) || this.subjects.has(bareJid(requester));
  }

  /** The subject this bare JID is whose series include `series`, if any. */
  private ownSubject(requester: string, series: string): string | undefined {
    return this.subjects.get(bareJid(requester))?.find((s) => s.matches(series))?.name;
  }

  private refreshSubjects(source: SubjectSource): void {
    const version = source.subjectsVersion();
    if (version === this.subjectsVersion) return;
    const subjects = new Map<string, Array<{ name: string; series: string; matches(series: string): boolean }>>();
    for (const s of source.boundSubjects()) {
      let list = subjects.get(s.jid);
      if (!list) subjects.set(s.jid, (list = []));
      for (const g of s.series) list.push({ name: s.name, series: g, matches: seriesMatcher(g) });
    }
    this.subjects = subjects;
    this.subjectsVersion = version;
  }

  /** Why a requester holds nothing in force on this app (the text of a refusal before any series is named). */
  whyNoAccess(app: string, requester: string, at: number): string {
    return this.whyNot(this.candidates(app, requester), at, app, 'no consent or grant for this requester');
  }

  /** The most telling reason for a refusal, among the records that cover the series. */
  private whyNot(covering: Rec[], at: number, app: string, none: string): string {
    const live = covering.filter((r) => isLive(r.state));
    const other = live.find((r) => inWindow(r, at));
    if (other) return `${label(other)} allows ${processingText(other.processing)} only`;
    const future = live.filter((r) => r.notBefore !== null && at < r.notBefore).sort((a, b) => a.notBefore! - b.notBefore!)[0];
    if (future) return `the ${future.origin === 'grant' ? 'grant' : `consent ${future.id}`} starts on ${iso(future.notBefore!)}`;
    const ended = covering
      .filter((r) => !isLive(r.state) || (r.notAfter !== null && at >= r.notAfter))
      .filter((r) => r.state !== 'requested' && r.state !== 'refused')
      .sort((a, b) => endedAt(b) - endedAt(a))[0];
    if (ended) {
      if (isLive(ended.state) || ended.state === 'expired') return `the ${ended.origin === 'grant' ? 'grant' : `consent ${ended.id}`} expired on ${iso(ended.notAfter ?? ended.stateAt)}`;
      return `${label(ended)} was ${ended.state} on ${iso(ended.stateAt)}`;
    }
    const waiting = covering.find((r) => r.state === 'requested');
    if (waiting) return `request ${waiting.id} is waiting for a decision`;
    const refused = covering.filter((r) => r.state === 'refused').sort((a, b) => b.stateAt - a.stateAt)[0];
    if (refused) return `request ${refused.id} was refused on ${iso(refused.stateAt)}`;
    return `${none} (ask for access with the request_access command of ${app})`;
  }

  /** Every record of the app whose recipient covers the requester (and whose series covers `series`, if given). */
  private candidates(app: string, requester: string, series?: string): Rec[] {
    const buckets = this.byApp.get(app);
    if (!buckets) return [];
    const out: Rec[] = [];
    for (const p of patternsCovering(requester)) {
      const b = buckets.get(p);
      if (!b) continue;
      const exact = series === undefined ? [...b.exact.values()].flat() : b.exact.get(series) ?? [];
      for (const r of exact) out.push(r);
      for (const g of b.globs) if (series === undefined || g.matches(series)) out.push(g.rec);
    }
    return out;
  }

  private bucket(r: Rec): Bucket {
    let buckets = this.byApp.get(r.app);
    if (!buckets) this.byApp.set(r.app, (buckets = new Map()));
    let b = buckets.get(r.recipient);
    if (!b) buckets.set(r.recipient, (b = { exact: new Map(), globs: [] }));
    return b;
  }

  private index(r: Rec): void {
    this.byId.set(r.id, r);
    const b = this.bucket(r);
    if (isPattern(r.series)) b.globs.push({ rec: r, matches: seriesMatcher(r.series) });
    else {
      const list = b.exact.get(r.series);
      if (list) list.push(r);
      else b.exact.set(r.series, [r]);
    }
  }

  private unindex(r: Rec): void {
    this.byId.delete(r.id);
    const b = this.bucket(r);
    if (isPattern(r.series)) b.globs.splice(b.globs.findIndex((g) => g.rec === r), 1);
    else {
      const list = b.exact.get(r.series)!;
      list.splice(list.indexOf(r), 1);
      if (list.length === 0) b.exact.delete(r.series);
    }
  }
}
