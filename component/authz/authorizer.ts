/**
 * The one authorization check of the gateway: may this requester read this series of this app, now?
 * Deny by default. Grants are held in memory (the XMPP thread must not query SQLite on every request)
 * and reloaded when `grants_version` changes, polled like the app registry.
 *
 * Each answer says why, in words meant for the requester (it becomes the `not-authorized` text).
 * Validity windows are checked here, so consent records (with purposes and windows) can replace grants
 * behind the same three functions.
 */
import type { Logger } from '../log/logger.js';
import { formatIsoUtc } from '../quoalise/time.js';
import { seriesMatcher } from '../transfer/series-pattern.js';
import type { Grant, GrantStore } from './grant-store.js';
import { requesterMatches } from './requester-pattern.js';

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
  /** app name → its grants. */
  private byApp = new Map<string, LoadedGrant[]>();
  private version = -1;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly store: GrantStore, private readonly log?: Logger) {
    this.refresh();
  }

  /** Polls for grant changes every `pollMs` (CLI edits reach the running gateway within that delay). */
  start(pollMs = 250): void {
    this.timer = setInterval(() => this.refresh(), pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reloads the grants if they changed since the last load (one single-row read otherwise). */
  refresh(): void {
    const version = this.store.version();
    if (version === this.version) return;
    const byApp = new Map<string, LoadedGrant[]>();
    for (const g of this.store.list()) {
      let list = byApp.get(g.app);
      if (!list) byApp.set(g.app, (list = []));
      list.push({ ...g, matchesSeries: seriesMatcher(g.series) });
    }
    this.byApp = byApp;
    this.version = version;
    this.log?.debug({ grants: [...byApp.values()].reduce((n, l) => n + l.length, 0) }, 'grants loaded');
  }

  authorize(req: AuthorizationRequest): AuthorizationDecision {
    const covering = (this.byApp.get(req.app) ?? []).filter((g) => requesterMatches(g.requester, req.requester) && g.matchesSeries(req.series));
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
    return (this.byApp.get(app) ?? []).filter((g) => requesterMatches(g.requester, requester) && isValidAt(g, at));
  }
}
