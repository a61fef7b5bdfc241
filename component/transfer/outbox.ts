/**
 * The outbox: messages waiting to leave, one SQLite row each (schema/002_transfer.sql). Rows are
 * grouped in lanes by destination and leave a lane in id order. A row is deleted only once its
 * delivery is confirmed; a failure reschedules the whole lane from that row on (go-back-N), so a
 * destination never receives a message before an earlier one that is still due.
 */
import type { Db } from '../store/database.js';
import { moveOutboxRowToDeadLetters } from './dead-letters.js';

export interface OutboxRow {
  id: number;
  consumerId: number | null;
  kind: 'flow' | 'push';
  sender: string;
  destination: string;
  payload: string;
  records: number;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
}

export interface NewOutboxMessage {
  consumerId?: number | null;
  kind?: 'flow' | 'push';
  sender: string;
  destination: string;
  payload: string;
  records: number;
}

/** The columns under the names of OutboxRow: rows come out of SQLite already in shape. */
const COLUMNS = `id, consumer_id AS consumerId, kind, sender, destination, payload, records, attempts,
  next_attempt_at AS nextAttemptAt, last_error AS lastError, created_at AS createdAt`;

/** The stanza id of an outbox row: unique across databases thanks to the instance token. */
export function stanzaIdOf(instance: string, rowId: number): string {
  return `fg${instance}-${rowId}`;
}

/** The outbox row id named by one of our stanza ids, or null if the id is not ours. */
export function rowIdOf(instance: string, stanzaId: string | undefined): number | null {
  const prefix = `fg${instance}-`;
  if (!stanzaId?.startsWith(prefix)) return null;
  const n = Number(stanzaId.slice(prefix.length));
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

export function instanceToken(db: Db): string {
  return db.prepare("SELECT value FROM settings WHERE name = 'instance'").pluck().get() as string;
}

export class Outbox {
  private readonly insert;
  private readonly laneRows;
  private readonly deleteOne;
  private readonly failOne;
  private readonly pushBack;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO outbox (consumer_id, kind, sender, destination, payload, records, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.laneRows = db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE destination = ? AND id > ? ORDER BY id LIMIT ?`);
    this.deleteOne = db.prepare('DELETE FROM outbox WHERE id = ?');
    this.failOne = db.prepare('UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ? RETURNING attempts');
    this.pushBack = db.prepare('UPDATE outbox SET next_attempt_at = max(next_attempt_at, ?) WHERE destination = ? AND id >= ?');
  }

  /** Appends messages in one transaction (nested in the caller's, when other writes must commit with them). */
  enqueue(messages: NewOutboxMessage[], now = Date.now()): number[] {
    return this.db.transaction(() =>
      messages.map(
        (m) => Number(this.insert.run(m.consumerId ?? null, m.kind ?? 'flow', m.sender, m.destination, m.payload, m.records, now, now).lastInsertRowid),
      ),
    )();
  }

  /** Destinations that have rows, with the earliest time their first row may be sent. */
  lanes(): Array<{ destination: string; dueAt: number }> {
    return this.db
      .prepare(
        `SELECT destination, (SELECT next_attempt_at FROM outbox o2 WHERE o2.destination = o.destination ORDER BY id LIMIT 1) AS dueAt
         FROM (SELECT DISTINCT destination FROM outbox) o`,
      )
      .all() as Array<{ destination: string; dueAt: number }>;
  }

  /** Up to `limit` rows of a lane after `afterId`, in order. */
  laneAfter(destination: string, afterId: number, limit: number): OutboxRow[] {
    return this.laneRows.all(destination, afterId, limit) as OutboxRow[];
  }

  /** Confirmed deliveries leave the outbox. */
  confirm(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.db.transaction(() => {
      for (const id of ids) this.deleteOne.run(id);
    })();
  }

  /**
   * A failed attempt: counts it on the row, and holds the row and every later row of its lane until
   * `retryAt`. Returns the row's attempt count (0 if the row is gone).
   */
  fail(id: number, destination: string, error: string, retryAt: number): number {
    return this.db.transaction(() => {
      const r = this.failOne.get(error, id) as { attempts: number } | undefined;
      if (!r) return 0;
      this.pushBack.run(retryAt, destination, id);
      return r.attempts;
    })();
  }

  /** Moves a row to the dead letters with the reason (permanent error, or retries exhausted). */
  kill(id: number, reason: string): void {
    this.db.transaction(() => moveOutboxRowToDeadLetters(this.db, id, reason))();
  }

  get(id: number): OutboxRow | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE id = ?`).get(id) as OutboxRow | undefined;
  }

  list(opts: { destination?: string; limit?: number } = {}): OutboxRow[] {
    const rows = opts.destination
      ? this.db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE destination = ? ORDER BY id LIMIT ?`).all(opts.destination, opts.limit ?? 100)
      : this.db.prepare(`SELECT ${COLUMNS} FROM outbox ORDER BY id LIMIT ?`).all(opts.limit ?? 100);
    return rows as OutboxRow[];
  }

  count(): number {
    return this.db.prepare('SELECT count(*) FROM outbox').pluck().get() as number;
  }

  /** Makes rows due now (all, or one destination's, or one row). Returns how many. */
  retryNow(filter: { id?: number; destination?: string } = {}): number {
    const now = Date.now();
    if (filter.id !== undefined) return this.db.prepare('UPDATE outbox SET next_attempt_at = ? WHERE id = ?').run(now, filter.id).changes;
    if (filter.destination) return this.db.prepare('UPDATE outbox SET next_attempt_at = ? WHERE destination = ?').run(now, filter.destination).changes;
    return this.db.prepare('UPDATE outbox SET next_attempt_at = ?').run(now).changes;
  }
}
