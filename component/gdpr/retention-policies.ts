/**
 * Retention policies (schema/008_gdpr.sql): how long each app keeps the records of its series, set by
 * the operator (`fedgate retention set APP GLOB P3Y`). Read by the extract job (what a message carries),
 * by the purge (what is deleted) and by the register.
 */
import { cachedStatement, type Db } from '../store/database.js';
import { seriesMatcher } from '../transfer/series-pattern.js';
import { cutoff, parsePeriod, RetentionError, type CarriedRetention, type Period } from './retention.js';

export interface RetentionPolicy {
  id: number;
  app: string;
  series: string;
  period: string;
  createdAt: number;
  updatedAt: number;
}

const COLUMNS = 'id, app, series, period, created_at AS createdAt, updated_at AS updatedAt';

export class RetentionPolicies {
  constructor(private readonly db: Db) {}

  /** Sets the period of (app, series glob), replacing the one it had. */
  set(app: string, series: string, period: string, now = Date.now()): RetentionPolicy {
    parsePeriod(period);
    if (!series || /\s/.test(series)) throw new RetentionError(`series "${series}" must be an identifier or a glob without spaces`);
    if (!this.db.prepare('SELECT 1 FROM apps WHERE name = ?').get(app)) throw new RetentionError(`no app named "${app}"`);
    this.db
      .prepare(
        `INSERT INTO retention_policies (app, series, period, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (app, series) DO UPDATE SET period = excluded.period, updated_at = excluded.updated_at`,
      )
      .run(app, series, period.trim(), now, now);
    return this.db.prepare(`SELECT ${COLUMNS} FROM retention_policies WHERE app = ? AND series = ?`).get(app, series) as RetentionPolicy;
  }

  list(app?: string): RetentionPolicy[] {
    // Statements compiled once per connection: every get_history answer reads its app's policies.
    return (app === undefined
      ? cachedStatement(this.db, `SELECT ${COLUMNS} FROM retention_policies ORDER BY app, series`).all()
      : cachedStatement(this.db, `SELECT ${COLUMNS} FROM retention_policies WHERE app = ? ORDER BY series`).all(app)) as RetentionPolicy[];
  }

  remove(id: number): void {
    if (this.db.prepare('DELETE FROM retention_policies WHERE id = ?').run(id).changes === 0) throw new RetentionError(`no retention policy with id ${id}`);
  }

  /** The app's policies, compiled: the period that applies to a series (the shortest of those matching), or null. */
  forApp(app: string): (series: string) => Period | null {
    const compiled = this.list(app).map((p) => ({ match: seriesMatcher(p.series), period: parsePeriod(p.period) }));
    const now = Date.now() / 1000;
    return (series) => {
      let best: Period | null = null;
      for (const c of compiled) if (c.match(series) && (best === null || cutoff(now, c.period) > cutoff(now, best))) best = c.period;
      return best;
    };
  }

  /** What a message of `app` carrying these series says of their retention. */
  carried(app: string, series: Iterable<string>): CarriedRetention {
    const periodOf = this.forApp(app);
    const out: CarriedRetention = new Map();
    for (const s of series) {
      const p = periodOf(s);
      if (p) out.set(s, { maxAge: p });
    }
    return out;
  }
}
