/**
 * The one authorization check of the gateway: may this requester read this series of this app, now?
 * Deny by default. Grants are held in memory (the XMPP thread must not query SQLite on every request),
 * loaded per app at its first use and indexed by requester pattern, so that a check costs a few map
 * lookups whatever the number of apps and grants. The change feed tells the owner which apps' grants
 * changed (`invalidate`); they are read again at their next use.
 *
 * Each answer says why, in words meant for the requester (it becomes the `not-authorized` text).
 * Validity windows are checked here, so consent records (with purposes and windows) can replace grants
 * behind the same three functions.
 */
import type { Logger } from '../log/logger.js';
import { formatIsoUtc } from '../quoalise/time.js';
import { seriesMatcher } from '../transfer/series-pattern.js';
import type { Grant, GrantStore } from './grant-store.js';
import { patternsCovering } from './requester-pattern.js';

export interface AuthorizationRequest {
  /** The application's name (JID localpart). */
  app: string;
  /** The requester's bare JID. */
  requester: string;
  /** A series identifier (not a pattern). */
  series: string;
  /** When, in ms since the epoch; the request's arrival. */
  at: number;
}

export interface AuthorizationDecision {
  allowed: boolean;
  /** Why: names the grant that allows, or what is missing. */
  reason: string;
  /** The grant that allows the request (for logs, and for consent records later). */
  grantId?: number;
}

interface LoadedGrant extends Grant {
  matchesSeries(series: string): boolean;
}

function isValidAt(g: Grant, at: number): boolean {
  return (g.notBefore === null || at >= g.notBefore) && (g.notAfter === null || at < g.notAfter);
}

export class Authorizer {
  /** app name → requester pattern → grants; an app absent here is loaded at its next check. */
  private byApp = new Map<string, Map<string, LoadedGrant[]>>();

  constructor(private readonly store: GrantStore, private readonly log?: Logger) {}

  /** The grants of these apps changed: read them again at their next use. */
  invalidate(apps: Iterable<string>): void {
    for (const app of apps) this.byApp.delete(app);
  }

  /** Forgets every app's grants (all are read again at their next use). */
  invalidateAll(): void {
    this.byApp.clear();
  }

  authorize(req: AuthorizationRequest): AuthorizationDecision {
    const covering = this.candidates(req.app, req.requester).filter((g) => g.matchesSeries(req.series));
    const valid = covering.find((g) => isValidAt(g, req.at));
    if (valid) {
      const purpose = valid.purpose ? ` for ${valid.purpose}` : '';
      return { allowed: true, reason: `grant ${valid.id} lets ${req.requester} read ${req.series} from ${req.app}${purpose}`, grantId: valid.id };
    }
    const what = `${req.requester} may not read ${req.series} from ${req.app}`;
    // Prefer the most telling window problem: a grant that has not started yet, else the latest to expire.
    const future = covering.filter((g) => g.notBefore !== null && req.at < g.notBefore).sort((a, b) => a.notBefore! - b.notBefore!)[0];
    if (future) return { allowed: false, reason: `${what}: the grant starts on ${formatIsoUtc(future.notBefore! / 1000)}` };
    const expired = covering.filter((g) => g.notAfter !== null && req.at >= g.notAfter).sort((a, b) => b.notAfter! - a.notAfter!)[0];
    if (expired) return { allowed: false, reason: `${what}: the grant expired on ${formatIsoUtc(expired.notAfter! / 1000)}` };
    return { allowed: false, reason: `${what}: no grant covers this series (ask the operator of ${req.app} for one)` };
  }

  /** The series patterns this requester may read from this app now (for the catalogue). */
  visibleSeriesPatterns(app: string, requester: string, at: number): string[] {
    return [...new Set(this.grantsFor(app, requester, at).map((g) => g.series))];
  }

  /** True when the requester holds at least one valid grant on this app (to list its commands). */
  hasAnyGrant(app: string, requester: string, at: number): boolean {
    return this.grantsFor(app, requester, at).length > 0;
  }

  private grantsFor(app: string, requester: string, at: number): LoadedGrant[] {
    return this.candidates(app, requester).filter((g) => isValidAt(g, at));
  }

  /** The app's grants whose requester pattern covers this requester, oldest first. */
  private candidates(app: string, requester: string): LoadedGrant[] {
    const byRequester = this.grantsOf(app);
    if (byRequester.size === 0) return [];
    const out: LoadedGrant[] = [];
    for (const p of patternsCovering(requester)) out.push(...(byRequester.get(p) ?? []));
    return out.length > 1 ? out.sort((a, b) => a.id - b.id) : out;
  }

  private grantsOf(app: string): Map<string, LoadedGrant[]> {
    let byRequester = this.byApp.get(app);
    if (byRequester) return byRequester;
    byRequester = new Map();
    const grants = this.store.list(app);
    for (const g of grants) {
      let list = byRequester.get(g.requester);
      if (!list) byRequester.set(g.requester, (list = []));
      list.push({ ...g, matchesSeries: seriesMatcher(g.series) });
    }
    this.byApp.set(app, byRequester);
    this.log?.debug({ app, grants: grants.length }, 'grants loaded');
    return byRequester;
  }
}
