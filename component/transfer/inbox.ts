/**
 * The inbox: data received for our apps, committed before it is acknowledged (schema/002_transfer.sql).
 * The receive job applies rows per app in id order; applied rows become 'done' tombstones so that a
 * duplicate (same app, same sender, same stanza id) is recognised and acknowledged without being
 * stored again. The same id sent to two of our apps is two messages.
 */
import type { Db } from '../store/database.js';
import { moveInboxRowToDeadLetters } from './dead-letters.js';
import { recordChange } from '../changes/feed.js';
import { sourceKey, type BacklogCounts } from './backlog.js';

export type InboxFormat = 'quoalise' | 'sen1';

export interface InboundMessage {
  app: string;
  sender: string;
  stanzaId: string;
  format: InboxFormat;
  payload: string;
  records: number;
  /** A fedgate sender's version of the records (urn:fedgate:delivery:0 `epoch`/`version`), else null. */
  origin: string | null;
  version: number | null;
  /** The retention the message carried (urn:fedgate:gdpr:0), as JSON (component/gdpr/retention.ts), or null. */
  retention: string | null;
  /** When all its records are past that retention (ms), or null. */
  expiresAt: number | null;
  /** The series of its records, one per line (an erasure finds a person's data by them). */
  series?: string;
}

export interface InboxRow extends InboundMessage {
  id: number;
  state: 'pending' | 'done' | 'dead';
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  receivedAt: number;
}

/** The columns under the names of InboxRow: rows come out of SQLite already in shape. */
const COLUMNS = `id, app, sender, stanza_id AS stanzaId, format, payload, records, state, attempts,
  next_attempt_at AS nextAttemptAt, last_error AS lastError, received_at AS receivedAt, origin, version, retention, expires_at AS expiresAt`;

export class Inbox {
  private readonly insert;
  private readonly pendingRows;
  private readonly done;
  private readonly failOne;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO inbox (app, sender, stanza_id, format, payload, records, next_attempt_at, received_at, origin, version, retention, expires_at, series)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app, sender, stanza_id) DO NOTHING`,
    );
    this.pendingRows = db.prepare(`SELECT ${COLUMNS} FROM inbox WHERE app = ? AND state = 'pending' AND id > ? ORDER BY id LIMIT ?`);
    this.done = db.prepare("UPDATE inbox SET state = 'done', payload = '', done_at = ?, last_error = NULL WHERE id = ? AND state = 'pending'");
    this.failOne = db.prepare("UPDATE inbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ? AND state = 'pending' RETURNING attempts");
  }

  /**
   * One transaction: stores new messages (for each, true if new, false if a duplicate). IMMEDIATE, so
   * that a busy database fails at BEGIN with nothing half-done.
   */
  commit(messages: readonly InboundMessage[], now = Date.now()): boolean[] {
    return this.db
      .transaction(() =>
        messages.map(
          (m) => this.insert.run(m.app, m.sender, m.stanzaId, m.format, m.payload, m.records, now, now, m.origin, m.version, m.retention, m.expiresAt, m.series ?? '').changes === 1,
        ),
      )
      .immediate();
  }

  /** Marks applied rows done (the receive job, right after its adapter applied them). */
  markDone(ids: readonly number[], now = Date.now()): void {
    this.db.transaction(() => {
      for (const id of ids) this.done.run(now, id);
    }).immediate();
  }

  /** The first pending rows of an app after `afterId`, in order (due or not: a held row holds the app). */
  head(app: string, afterId: number, limit: number): InboxRow[] {
    return this.pendingRows.all(app, afterId, limit) as InboxRow[];
  }

  /**
   * Counts a failed attempt and holds the row until retryAt. Returns the attempt count, or null (and
   * nothing changed) when the row is no longer pending: applied meanwhile (transfer/poison.ts asks late).
   */
  fail(id: number, error: string, retryAt: number): number | null {
    const r = this.failOne.get(error, retryAt, id) as { attempts: number } | undefined;
    return r?.attempts ?? null;
  }

  /** Moves a pending row to the dead letters; false if it is not pending (applied meanwhile). */
  kill(id: number, reason: string): boolean {
    return this.db.transaction(() => moveInboxRowToDeadLetters(this.db, id, reason)).immediate();
  }



  /** Unapplied messages per app and per source of an app, for back-pressure (transfer/backlog.ts). */
  backlogCounts(): BacklogCounts {
    const rows = this.db.prepare("SELECT app, sender, count(*) AS n FROM inbox WHERE state = 'pending' GROUP BY app, sender").all() as Array<{ app: string; sender: string; n: number }>;
    const counts: BacklogCounts = { perApp: new Map(), perSource: new Map() };
    for (const r of rows) {
      counts.perApp.set(r.app, (counts.perApp.get(r.app) ?? 0) + r.n);
      counts.perSource.set(sourceKey(r.app, r.sender), r.n);
    }
    return counts;
  }

  /** Forgets applied messages older than `before` (ms): past that, a duplicate is no longer recognised. */
  purge(before: number): number {
    return this.db.prepare("DELETE FROM inbox WHERE state <> 'pending' AND done_at < ?").run(before).changes;
  }

  get(id: number): InboxRow | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM inbox WHERE id = ?`).get(id) as InboxRow | undefined;
  }

  list(opts: { app?: string; state?: 'pending' | 'done' | 'dead'; limit?: number } = {}): InboxRow[] {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (opts.app) (where.push('app = ?'), args.push(opts.app));
    if (opts.state) (where.push('state = ?'), args.push(opts.state));
    const sql = `SELECT ${COLUMNS} FROM inbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
    return this.db.prepare(sql).all(...args, opts.limit ?? 100) as InboxRow[];
  }

  /** Brings a pending row's next attempt forward to `until` when it is later (a hold written while the clock was ahead). */
  holdAtMost(id: number, until: number): boolean {
    return this.db.prepare("UPDATE inbox SET next_attempt_at = ? WHERE id = ? AND state = 'pending' AND next_attempt_at > ?").run(until, id, until).changes === 1;
  }

  /** Makes pending rows due now, and tells the running gateway (the change feed) whose they are. */
  retryNow(filter: { id?: number; app?: string } = {}): number {
    const now = Date.now();
    const [where, args] = filter.id !== undefined ? ['id = ?', [filter.id]] : filter.app ? ['app = ?', [filter.app]] : ['1', []];
    return this.db.transaction(() => {
      const rows = this.db.prepare(`UPDATE inbox SET next_attempt_at = ? WHERE ${where} AND state = 'pending' RETURNING app`).pluck().all(now, ...args) as string[];
      for (const app of new Set(rows)) recordChange(this.db, 'inbox', { app });
      return rows.length;
    }).immediate();
  }
}
