/**
 * Grants in SQLite (schema/003_authorization.sql): written by the CLI, read by the running gateway's
 * Authorizer, which keeps them in memory and reloads them when `grants_version` changes.
 */
import type { Db } from '../store/database.js';
import { normalizeRequester, RequesterPatternError } from './requester-pattern.js';
import { traceOf } from '../trace/trace.js';

export interface Grant {
  id: number;
  /** The application's name (JID localpart). */
  app: string;
  /** Normalized requester pattern: `alice@example.net`, `*@example.net` or `*`. */
  requester: string;
  /** A series identifier or a glob over identifiers. */
  series: string;
  purpose: string;
  /** Valid from (inclusive), ms since the epoch; null = since creation. */
  notBefore: number | null;
  /** Valid until (exclusive), ms since the epoch; null = no end. */
  notAfter: number | null;
  createdAt: number;
}

export interface NewGrant {
  app: string;
  requester: string;
  series: string;
  purpose?: string;
  notBefore?: number | null;
  notAfter?: number | null;
}

export class GrantError extends Error {
  override name = 'GrantError';
}

/** The columns under the names of Grant: rows come out of SQLite already in shape. */
const COLUMNS = 'id, app, requester, series, purpose, not_before AS notBefore, not_after AS notAfter, created_at AS createdAt';

/** A grant as the log records it: who may read what, why, when. */
function grantFields(g: Grant) {
  return { grant: g.id, app: g.app, requester: g.requester, series: g.series, purpose: g.purpose, from: g.notBefore, until: g.notAfter };
}

export class GrantStore {
  constructor(private readonly db: Db) {}

  add(g: NewGrant): Grant {
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
    if (!this.db.prepare('SELECT 1 FROM apps WHERE name = ?').get(g.app)) throw new GrantError(`no app named "${g.app}"`);
    return this.db.transaction(() => {
      const { lastInsertRowid } = this.db
        .prepare('INSERT INTO grants (app, requester, series, purpose, not_before, not_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(g.app, requester, g.series, g.purpose ?? '', notBefore, notAfter, Date.now());
      const added = this.get(Number(lastInsertRowid))!;
      traceOf(this.db).write('grant.added', { ...grantFields(added), by: traceOf(this.db).actor });
      return added;
    })();
  }

  get(id: number): Grant | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM grants WHERE id = ?`).get(id) as Grant | undefined;
  }

  /** Every grant, or those of one app, oldest first. */
  list(app?: string): Grant[] {
    return (app === undefined
      ? this.db.prepare(`SELECT ${COLUMNS} FROM grants ORDER BY id`).all()
      : this.db.prepare(`SELECT ${COLUMNS} FROM grants WHERE app = ? ORDER BY id`).all(app)) as Grant[];
  }

  remove(id: number): void {
    this.db.transaction(() => {
      const g = this.get(id);
      if (!g || this.db.prepare('DELETE FROM grants WHERE id = ?').run(id).changes === 0) throw new GrantError(`no grant with id ${id}`);
      traceOf(this.db).write('grant.removed', { ...grantFields(g), by: traceOf(this.db).actor });
    })();
  }

  /** A number that changes whenever any grant is added, changed or removed. */
  version(): number {
    return this.db.prepare('SELECT version FROM grants_version WHERE id = 1').pluck().get() as number;
  }
}
