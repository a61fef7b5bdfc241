/**
 * The inbox's back-pressure: how many messages wait to be applied, per app and per source of an app, and
 * whether one more may be taken. Past `perApp` an app takes nothing more; past `perSource` one source
 * takes nothing more, so that one entitled sender flooding an app (or one whose data the app keeps
 * failing on) cannot lock its other sources out.
 *
 * The counts follow the intake's commits (+1) and the receive jobs' reports (per app). A source's count
 * is not told when its rows are applied: it only grows between counts, and is counted again from the
 * inbox when it looks full (at most once per RECOUNT_MS), or reset when its app has nothing waiting.
 * Rows purged or erased meanwhile by other threads are found the same way. Pure: the inbox query and
 * the clock are given.
 */

/** Unapplied rows per app, and per app and source (`${app}\u0000${sender}`). */
export interface BacklogCounts {
  perApp: Map<string, number>;
  perSource: Map<string, number>;
}

export interface BacklogLimits {
  perApp: number;
  perSource: number;
}

/** How often, at most, the backlog is counted again from the inbox (when an app or a source looks full). */
export const RECOUNT_MS = 1000;

/** The key of a source of an app in `BacklogCounts.perSource`. */
export const sourceKey = (app: string, sender: string): string => `${app}\u0000${sender}`;

export class Backlog {
  private counts: BacklogCounts;
  private countedAt: number;

  constructor(
    private readonly count: () => BacklogCounts,
    private readonly limits: BacklogLimits,
    now: number,
  ) {
    this.counts = count();
    this.countedAt = now;
  }

  /**
   * Why one more message of `sender` for `app` is refused now, or null. `queued`: messages of the same
   * app (`app`) and source (`source`) taken but not committed yet.
   */
  refusal(app: string, sender: string, queued: { app: number; source: number }, now: number): string | null {
    let over = this.over(app, sender, queued);
    if (over && now - this.countedAt >= RECOUNT_MS) {
      this.counts = this.count();
      this.countedAt = now;
      over = this.over(app, sender, queued);
    }
    return over;
  }

  /** A message of `sender` for `app` was stored. */
  committed(app: string, sender: string): void {
    this.counts.perApp.set(app, (this.counts.perApp.get(app) ?? 0) + 1);
    const k = sourceKey(app, sender);
    this.counts.perSource.set(k, (this.counts.perSource.get(k) ?? 0) + 1);
  }

  /** The receive job of `app` applied (and marked done) `done` rows and dead-lettered `dead` others. */
  settled(app: string, done: number, dead: number): void {
    const left = Math.max(0, (this.counts.perApp.get(app) ?? 0) - done - dead);
    this.counts.perApp.set(app, left);
    if (left === 0) {
      // Nothing waits for the app: none of its sources has anything waiting either.
      const prefix = `${app}\u0000`;
      for (const k of this.counts.perSource.keys()) if (k.startsWith(prefix)) this.counts.perSource.delete(k);
    }
  }

  private over(app: string, sender: string, queued: { app: number; source: number }): string | null {
    const ofApp = (this.counts.perApp.get(app) ?? 0) + queued.app;
    if (ofApp >= this.limits.perApp) return `${ofApp} messages are waiting to be applied`;
    const ofSource = (this.counts.perSource.get(sourceKey(app, sender)) ?? 0) + queued.source;
    if (ofSource >= this.limits.perSource) return `${ofSource} messages of ${sender} are waiting to be applied (at most ${this.limits.perSource} per source)`;
    return null;
  }
}
