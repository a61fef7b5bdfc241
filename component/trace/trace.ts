/**
 * The log's append API, the same on every thread and in every process (gateway, workers, CLI):
 *
 *   traceOf(db).append('app.added', { app: 'meters', adapter: 'store' })   // buffered
 *   const index = traceOf(db).write('transfer.received', { … })          // now, in the caller's transaction
 *
 * `append` buffers and writes at the end of the current turn of the event loop, in the transaction the
 * thread opens next for its own work (the intake's inbox commit flushes the buffer into it) or in one of
 * its own: leaves are batched per commit, never one transaction per entry. `write` inserts at once and
 * returns the entry's index — inside the caller's transaction, so that the entry commits or rolls back
 * with what it records.
 *
 * Leaves get their index and hash here; the tree above them and the signed checkpoints are built by the
 * log's job (log-job.ts) on its own thread.
 */
import { withoutBusyWait, type Db } from '../store/database.js';
import { encodeEntry, type EntryFields } from './entry.js';
import { leafHash } from './merkle.js';

export interface TraceOptions {
  /** Config `trace.enabled`: when false nothing is logged (the benchmark's "off"). */
  enabled: boolean;
  /**
   * For the XMPP thread's connection: never wait for another thread's write lock (SQLite's busy handler
   * would sleep the event loop); a busy flush is tried again on the next turn.
   */
  nonBlocking?: boolean;
  /** Who acts through this connection, for the entries of operator changes: `gateway`, or `operator <user>` in the CLI. */
  actor?: string;
}

/** An event to record: its kind, its fields, when (ms since the epoch; now by default). */
export interface NewEntry {
  kind: string;
  fields: EntryFields;
  at?: number;
}

export class Trace {
  private buffer: NewEntry[] = [];
  /** Entries whose callers wait for their commit (`appendCommitted`): written only by this class's own transactions. */
  private awaited: Array<NewEntry & { committed(): void; failed(err: unknown): void }> = [];
  private scheduled = false;
  private readonly next;
  private readonly insert;

  constructor(
    private readonly db: Db,
    readonly options: TraceOptions,
  ) {
    this.next = db.prepare('SELECT coalesce(max(idx) + 1, 0) FROM trace_entries').pluck();
    this.insert = db.prepare('INSERT INTO trace_entries (idx, at, kind, entry, hash) VALUES (?, ?, ?, ?, ?)');
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  get actor(): string {
    return this.options.actor ?? 'gateway';
  }

  /** Records an event; written with this thread's next commit (at the latest at the end of this turn). */
  append(kind: string, fields: EntryFields, at = Date.now()): void {
    if (!this.options.enabled) return;
    encodeEntry(at, kind, fields); // a malformed entry fails here, in its caller, not later in a flush
    this.buffer.push({ kind, fields, at });
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flushSoon());
    }
  }

  /**
   * Records an event and resolves once it is committed: for what must be in the log before the gateway
   * answers (an access decision). Batched with this turn's other entries, in a transaction of its own;
   * on the XMPP thread a busy database is tried again on the next turn, never waited for.
   */
  appendCommitted(kind: string, fields: EntryFields, at = Date.now()): Promise<void> {
    if (!this.options.enabled) return Promise.resolve();
    encodeEntry(at, kind, fields);
    return new Promise((committed, failed) => {
      this.awaited.push({ kind, fields, at, committed, failed });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.flushSoon());
      }
    });
  }

  /** Records an event now and returns its index in the log (-1 when the log is off). Call it inside the transaction of what it records. */
  write(kind: string, fields: EntryFields, at = Date.now()): number {
    return this.writeAll([{ kind, fields, at }])[0]!;
  }

  /**
   * Records events now, in order, and returns their indexes (all -1 when the log is off). Inside the
   * caller's transaction when there is one: the next index is read once, under the write lock, for all.
   */
  writeAll(entries: readonly NewEntry[]): number[] {
    if (!this.options.enabled) return entries.map(() => -1);
    const rows = entries.map((e) => {
      const at = e.at ?? Date.now();
      const entry = encodeEntry(at, e.kind, e.fields);
      return [at, e.kind, entry, leafHash(entry)] as const;
    });
    const run = () => {
      const first = this.next.get() as number;
      rows.forEach((r, i) => this.insert.run(first + i, ...r));
      return rows.map((_, i) => first + i);
    };
    return this.db.inTransaction ? run() : this.db.transaction(run).immediate();
  }

  /**
   * Writes the buffered entries now (inside the caller's transaction when there is one). Returns what
   * puts them back in the buffer: for the caller whose transaction rolls back (a full disk), so that
   * they are written with a later commit instead of being lost with this one.
   */
  flush(): () => void {
    if (this.buffer.length === 0) return () => {};
    const batch = this.buffer;
    this.buffer = [];
    try {
      this.writeAll(batch);
    } catch (err) {
      this.buffer = batch.concat(this.buffer);
      throw err;
    }
    return () => {
      this.buffer = batch.concat(this.buffer);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flushSoon());
      }
    };
  }

  private flushSoon(): void {
    this.scheduled = false;
    if ((this.buffer.length === 0 && this.awaited.length === 0) || !this.db.open) return;
    if (this.db.inTransaction && this.awaited.length > 0) {
      // Awaited entries commit in a transaction of their own, whose end this class sees: after this one.
      this.scheduled = true;
      setImmediate(() => this.flushSoon());
      return;
    }
    const nonBlocking = this.options.nonBlocking && !this.db.inTransaction;
    const batch = this.buffer;
    const awaited = this.awaited;
    this.buffer = [];
    this.awaited = [];
    try {
      const entries = [...batch, ...awaited];
      if (nonBlocking) withoutBusyWait(this.db, () => this.writeAll(entries));
      else this.writeAll(entries);
    } catch (err) {
      // Nothing was written: every entry goes back, in order, before what was appended meanwhile.
      this.buffer = batch.concat(this.buffer);
      this.awaited = awaited.concat(this.awaited);
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') {
        for (const a of this.awaited.splice(0)) a.failed(err);
        throw err;
      }
      this.scheduled = true;
      setImmediate(() => this.flushSoon());
      return;
    }
    for (const a of awaited) a.committed();
  }
}

const traces = new WeakMap<Db, Trace>();

/** Sets how the log behaves on this connection (the gateway and its workers do, from the configuration). */
export function configureTrace(db: Db, options: TraceOptions): Trace {
  const t = new Trace(db, options);
  traces.set(db, t);
  return t;
}

/** The log of this connection: enabled unless configured otherwise. */
export function traceOf(db: Db): Trace {
  let t = traces.get(db);
  if (!t) traces.set(db, (t = new Trace(db, { enabled: true })));
  return t;
}
