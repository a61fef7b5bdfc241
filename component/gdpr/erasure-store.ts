/**
 * Erasures in SQLite (schema/010_gdpr_rights.sql), both ways:
 * - made here (`fedgate gdpr erase`): what was erased, and one request per recipient, with what became of
 *   it — queued, given up (a dead letter, with the reason), delivered, confirmed by the recipient;
 * - received by our apps from the sources of their data: waiting for the GDPR worker, then applied.
 */
import { pidAlive } from '../runtime-status.js';
import type { Db } from '../store/database.js';
import type { ErasedConfirmation, EraseRequest } from './wire.js';

export interface ErasureRequestStatus {
  request: string;
  /** Our app's JID (the request's from) and the recipient. */
  app: string;
  recipient: string;
  /** queued: waiting in the outbox; not delivered: a dead letter (see reason); delivered: received, no confirmation (yet); confirmed. */
  state: 'queued' | 'not delivered' | 'delivered' | 'confirmed';
  reason?: string;
  confirmedAt?: number;
  /** From the confirmation: records the recipient erased, whether all it holds, its note; the confirmation's log entry. */
  records?: number;
  complete?: boolean;
  note?: string;
  entry?: number;
}

export interface Erasure {
  id: number;
  subject: string;
  series: string[];
  reason: string;
  /** What was deleted here. */
  erased: ErasedHere;
  by: string;
  at: number;
  entry: number | null;
  requests: ErasureRequestStatus[];
}

export interface ErasedHere {
  /** Records deleted per app. */
  records: Record<string, number>;
  outbox: number;
  inbox: number;
  deadLetters: number;
  /** Messages kept without the erased records. */
  rewritten: number;
  /** Consent records ended. */
  consents: number[];
  /** Apps that may hold the data in a system fedgate cannot erase. */
  notErased: string[];
}

export interface ReceivedErasure extends EraseRequest {
  id: number;
  app: string;
  sender: string;
  receivedAt: number;
}

/** An erasure that cannot be made as asked (the reason is for the operator). */
export class ErasureError extends Error {
  override name = 'ErasureError';
}

/** Another live process is making the same erasure. */
export class ErasureRunningError extends ErasureError {
  override name = 'ErasureRunningError';
}

export class ErasureStore {
  constructor(private readonly db: Db) {}

  /** Records an erasure made here; returns its id. Inside the caller's transaction. */
  add(e: { subject: string; series: string[]; reason: string; erased: ErasedHere; by: string; at: number }): number {
    return Number(
      this.db
        .prepare('INSERT INTO gdpr_erasures (subject, series, reason, erased, by, at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(e.subject, JSON.stringify(e.series), e.reason, JSON.stringify(e.erased), e.by, e.at).lastInsertRowid,
    );
  }

  /**
   * The run of an erasure of `subject`'s `series`: a new one, or the one a crash left unfinished (with
   * what it erased). Its own transaction: it must be there before anything is deleted.
   */
  erasureRun(subject: string, series: string[], at: number): { run: number; erased: ErasedHere; resumed: boolean } {
    return this.db.transaction(() => {
      const key = JSON.stringify(series);
      const found = this.db.prepare('SELECT id, erased, owner_pid AS owner FROM gdpr_erasure_runs WHERE subject = ? AND series = ?').get(subject, key) as { id: number; erased: string; owner: number } | undefined;
      if (found) {
        if (found.owner !== process.pid && pidAlive(found.owner)) {
          throw new ErasureRunningError(`the erasure of ${subject} (${series.join(', ')}) is being made by process ${found.owner}: wait for it to end (or, if that process is not fedgate, run this again once it is gone)`);
        }
        this.db.prepare('UPDATE gdpr_erasure_runs SET owner_pid = ? WHERE id = ?').run(process.pid, found.id);
        return { run: found.id, erased: JSON.parse(found.erased) as ErasedHere, resumed: true };
      }
      const erased: ErasedHere = { records: {}, outbox: 0, inbox: 0, deadLetters: 0, rewritten: 0, consents: [], notErased: [] };
      const run = Number(
        this.db.prepare('INSERT INTO gdpr_erasure_runs (subject, series, started_at, erased, owner_pid) VALUES (?, ?, ?, ?, ?)').run(subject, key, at, JSON.stringify(erased), process.pid).lastInsertRowid,
      );
      return { run, erased, resumed: false };
    }).immediate();
  }

  /** What a run erased so far, and the destinations it learnt; inside the transaction of the deletions they come from. */
  runProgress(run: number, erased: ErasedHere, destinations: ReadonlyArray<{ app: string; destination: string }> = []): void {
    this.db.prepare('UPDATE gdpr_erasure_runs SET erased = ? WHERE id = ?').run(JSON.stringify(erased), run);
    const add = this.db.prepare('INSERT INTO gdpr_erasure_run_destinations (run, app, destination) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
    for (const d of destinations) add.run(run, d.app, d.destination);
  }

  /** The destinations a run learnt (this run's and a crashed one's). */
  runDestinations(run: number): Array<{ app: string; destination: string }> {
    return this.db.prepare('SELECT app, destination FROM gdpr_erasure_run_destinations WHERE run = ? ORDER BY app, destination').all(run) as Array<{ app: string; destination: string }>;
  }

  /** The run is recorded as an erasure: its rows go. Inside that transaction. */
  endRun(run: number): void {
    this.db.prepare('DELETE FROM gdpr_erasure_run_destinations WHERE run = ?').run(run);
    this.db.prepare('DELETE FROM gdpr_erasure_runs WHERE id = ?').run(run);
  }

  /** Erasures started and not finished (a crash, or a failure in a step): run `gdpr erase` again. */
  unfinished(): Array<{ subject: string; series: string[]; startedAt: number; erased: ErasedHere }> {
    return (this.db.prepare('SELECT subject, series, started_at AS startedAt, erased FROM gdpr_erasure_runs ORDER BY id').all() as Array<{ subject: string; series: string; startedAt: number; erased: string }>).map(
      (r) => ({ subject: r.subject, series: JSON.parse(r.series) as string[], startedAt: r.startedAt, erased: JSON.parse(r.erased) as ErasedHere }),
    );
  }

  setEntry(id: number, entry: number): void {
    this.db.prepare('UPDATE gdpr_erasures SET entry = ? WHERE id = ?').run(entry, id);
  }

  addRequest(r: { request: string; erasure: number; app: string; recipient: string; outboxId: number }): void {
    this.db.prepare('INSERT INTO gdpr_erasure_requests (request, erasure, app, recipient, outbox_id) VALUES (?, ?, ?, ?, ?)').run(r.request, r.erasure, r.app, r.recipient, r.outboxId);
  }

  /** True when we sent request `request` from `app` to `recipient`. */
  isRequest(request: string, app: string, recipient: string): boolean {
    return this.db.prepare('SELECT 1 FROM gdpr_erasure_requests WHERE request = ? AND app = ? AND recipient = ?').get(request, app, recipient) !== undefined;
  }

  /** Whether the recipient confirmed that request already. */
  isConfirmed(request: string, app: string, recipient: string): boolean {
    return this.db.prepare('SELECT 1 FROM gdpr_erasure_requests WHERE request = ? AND app = ? AND recipient = ? AND confirmed_at IS NOT NULL').get(request, app, recipient) !== undefined;
  }

  /**
   * The recipient's confirmation of one of our requests: true when it names a request we sent that
   * recipient from that app (judged by who sent it), false otherwise. A confirmation that comes again
   * changes nothing.
   */
  confirm(app: string, recipient: string, c: ErasedConfirmation, at: number, entry: number): boolean {
    const known = this.db.prepare('SELECT confirmed_at AS confirmedAt FROM gdpr_erasure_requests WHERE request = ? AND app = ? AND recipient = ?').get(c.request, app, recipient) as
      | { confirmedAt: number | null }
      | undefined;
    if (!known) return false;
    if (known.confirmedAt === null) {
      this.db
        .prepare('UPDATE gdpr_erasure_requests SET confirmed_at = ?, entry = ?, records = ?, complete = ?, note = ? WHERE request = ?')
        .run(at, entry, c.records, c.complete ? 1 : 0, c.note ?? null, c.request);
    }
    return true;
  }

  list(): Erasure[] {
    const rows = this.db.prepare('SELECT id, subject, series, reason, erased, by, at, entry FROM gdpr_erasures ORDER BY id').all() as Array<Omit<Erasure, 'series' | 'erased' | 'requests'> & { series: string; erased: string }>;
    return rows.map((r) => ({ ...r, series: JSON.parse(r.series) as string[], erased: JSON.parse(r.erased) as ErasedHere, requests: this.requests(r.id) }));
  }

  private requests(erasure: number): ErasureRequestStatus[] {
    const rows = this.db
      .prepare(
        `SELECT r.request, r.app, r.recipient, r.confirmed_at AS confirmedAt, r.entry, r.records, r.complete, r.note,
           EXISTS (SELECT 1 FROM outbox o WHERE o.id = r.outbox_id) AS queued,
           (SELECT d.reason FROM dead_letters d WHERE d.outbox_id = r.outbox_id AND d.direction = 'outbound' ORDER BY d.id DESC LIMIT 1) AS dead
         FROM gdpr_erasure_requests r WHERE r.erasure = ? ORDER BY r.request`,
      )
      .all(erasure) as Array<{ request: string; app: string; recipient: string; confirmedAt: number | null; entry: number | null; records: number | null; complete: number | null; note: string | null; queued: number; dead: string | null }>;
    return rows.map((r) => {
      const base = { request: r.request, app: r.app, recipient: r.recipient };
      if (r.confirmedAt !== null) {
        return { ...base, state: 'confirmed' as const, confirmedAt: r.confirmedAt, records: r.records ?? 0, complete: r.complete === 1, ...(r.note ? { note: r.note } : {}), ...(r.entry !== null ? { entry: r.entry } : {}) };
      }
      if (r.queued) return { ...base, state: 'queued' as const };
      if (r.dead !== null) return { ...base, state: 'not delivered' as const, reason: r.dead };
      return { ...base, state: 'delivered' as const };
    });
  }

  /** A request received from the source of our app's data: its row id, or null when it was received before. Inside the caller's transaction. */
  receive(app: string, sender: string, r: EraseRequest, at: number): number | null {
    const { changes, lastInsertRowid } = this.db
      .prepare('INSERT INTO gdpr_erasures_received (app, sender, request, series, received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (app, sender, request) DO NOTHING')
      .run(app, sender, r.request, JSON.stringify(r.series), at);
    return changes === 1 ? Number(lastInsertRowid) : null;
  }

  /** Whether this source's request `request` to this app was received already. */
  hasReceived(app: string, sender: string, request: string): boolean {
    return this.db.prepare('SELECT 1 FROM gdpr_erasures_received WHERE app = ? AND sender = ? AND request = ?').pluck().get(app, sender, request) !== undefined;
  }

  /** Requests from this source to this app received since `since`. */
  receivedSince(app: string, sender: string, since: number): number {
    return this.db.prepare('SELECT count(*) FROM gdpr_erasures_received WHERE app = ? AND sender = ? AND received_at >= ?').pluck().get(app, sender, since) as number;
  }

  /** Requests from this source to this app not applied yet. */
  pendingFrom(app: string, sender: string): number {
    return this.db.prepare('SELECT count(*) FROM gdpr_erasures_received WHERE app = ? AND sender = ? AND applied_at IS NULL').pluck().get(app, sender) as number;
  }

  setReceivedEntry(id: number, entry: number): void {
    this.db.prepare('UPDATE gdpr_erasures_received SET entry = ? WHERE id = ?').run(entry, id);
  }

  /** Received requests not applied yet, oldest first. */
  pending(limit = 100): ReceivedErasure[] {
    const rows = this.db
      .prepare('SELECT id, app, sender, request, series, received_at AS receivedAt FROM gdpr_erasures_received WHERE applied_at IS NULL ORDER BY id LIMIT ?')
      .all(limit) as Array<Omit<ReceivedErasure, 'series' | 'reason'> & { series: string }>;
    return rows.map((r) => ({ ...r, series: JSON.parse(r.series) as string[], reason: '' }));
  }

  /**
   * A run starts applying the request: records its start unless an earlier run did, and returns what
   * earlier runs left — when the first started (null: this run is the first) and the records they erased.
   */
  startApplying(id: number, at: number): { firstStartedAt: number | null; erasedSoFar: number } {
    const r = this.db.prepare('SELECT started_at AS startedAt, erased_so_far AS erasedSoFar FROM gdpr_erasures_received WHERE id = ?').get(id) as
      | { startedAt: number | null; erasedSoFar: number }
      | undefined;
    if (r && r.startedAt === null) this.db.prepare('UPDATE gdpr_erasures_received SET started_at = ? WHERE id = ?').run(at, id);
    return { firstStartedAt: r?.startedAt ?? null, erasedSoFar: r?.erasedSoFar ?? 0 };
  }

  /** Adds records erased for the request (kept as they go, for a run cut short); returns the total so far. */
  addErased(id: number, records: number): number {
    return this.db.prepare('UPDATE gdpr_erasures_received SET erased_so_far = erased_so_far + ? WHERE id = ? RETURNING erased_so_far').pluck().get(records, id) as number;
  }

  applied(id: number, c: { records: number; complete: boolean; note?: string }, at: number): void {
    this.db.prepare('UPDATE gdpr_erasures_received SET applied_at = ?, records = ?, complete = ?, note = ? WHERE id = ?').run(at, c.records, c.complete ? 1 : 0, c.note ?? null, id);
  }

  received(): Array<ReceivedErasure & { appliedAt: number | null; records: number | null; complete: boolean | null; note: string | null }> {
    const rows = this.db
      .prepare('SELECT id, app, sender, request, series, received_at AS receivedAt, applied_at AS appliedAt, records, complete, note FROM gdpr_erasures_received ORDER BY id')
      .all() as Array<{ id: number; app: string; sender: string; request: string; series: string; receivedAt: number; appliedAt: number | null; records: number | null; complete: number | null; note: string | null }>;
    return rows.map((r) => ({ ...r, series: JSON.parse(r.series) as string[], reason: '', complete: r.complete === null ? null : r.complete === 1 }));
  }
}
