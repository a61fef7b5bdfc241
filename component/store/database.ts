/**
 * Opens fedgate's SQLite database: WAL (readers never block the writer, workers open their own
 * connections), a busy timeout instead of SQLITE_BUSY errors, foreign keys on, migrations applied.
 */
import Database from 'better-sqlite3';
import { DatabaseError } from './sqlite-errors.js';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrate } from './migrations.js';
import { namingFile } from './sqlite-errors.js';

export type Db = Database.Database;

/** How long a connection waits for another's write lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 10_000;

/** Connections set to wait otherwise than BUSY_TIMEOUT_MS (setBusyTimeout). */
const busyTimeouts = new WeakMap<Db, number>();

/**
 * How long this connection waits for a lock. An adapter thread's connections wait less than its
 * calls' time limit and the stop's grace: a thread ended while SQLite waits for a lock aborts the whole
 * process (better-sqlite3 #842), so a wait must end, in SQLITE_BUSY, before anyone ends the thread.
 */
export function setBusyTimeout(db: Db, ms: number): void {
  db.pragma(`busy_timeout = ${ms}`);
  busyTimeouts.set(db, ms);
}

/**
 * Runs `fn` with SQLite's busy handler off: a write that finds the lock taken throws SQLITE_BUSY at
 * once instead of sleeping the whole thread (the XMPP thread tries again on its next turn). Afterwards
 * the connection waits as long as before.
 */
export function withoutBusyWait<T>(db: Db, fn: () => T): T {
  cachedStatement(db, 'PRAGMA busy_timeout = 0').get();
  try {
    return fn();
  } finally {
    cachedStatement(db, `PRAGMA busy_timeout = ${busyTimeouts.get(db) ?? BUSY_TIMEOUT_MS}`).get();
  }
}

export interface OpenOptions {
  synchronous?: 'NORMAL' | 'FULL';
  /** Apply pending migrations (the gateway and the CLI do; workers open an already migrated file). */
  migrate?: boolean;
  /** Where the migrations are: fedgate's own by default; an adapter with a database of its own passes its folder. */
  schemaDir?: string;
  /**
   * Leave WAL checkpoints to other connections. A checkpoint fsyncs, which can take tens of
   * milliseconds: the XMPP thread's connection must never be the one that pays for it.
   */
  noCheckpoints?: boolean;
  readonly?: boolean;
}

/**
 * Opens (and migrates) a database. Any SQLite failure — a file that is not a database, read-only,
 * unreadable, a full disk — is a DatabaseError whose message names the file and what to do.
 */
export function openDatabase(path: string, opts: OpenOptions = {}): Db {
  const restoring = path === ':memory:' ? null : unfinishedRestore(path);
  if (restoring !== null) {
    throw new DatabaseError(path, 'FEDGATE_RESTORING', `a restore of ${path} from ${restoring} was cut short: its files are half replaced; run fedgate restore ${restoring} again (nothing opens them until it has ended)`);
  }
  if (path !== ':memory:' && !opts.readonly) {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (err) {
      throw new DatabaseError(path, 'SQLITE_CANTOPEN', `cannot create the folder of ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  }
  let db: Db | null = null;
  try {
    return namingFile(path, () => {
      db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      if (!opts.readonly) {
        db.pragma('journal_mode = WAL');
        // NORMAL in WAL mode: a commit survives a crash of the process; only power loss can drop the last ones.
        db.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`);
        if (opts.noCheckpoints) db.pragma('wal_autocheckpoint = 0');
      }
      db.pragma('foreign_keys = ON');
      if (opts.migrate ?? true) migrate(db, opts.schemaDir);
      // A file we may read but not write opens without complaint (SQLite falls back to read-only);
      // a write that changes nothing finds out now rather than at the first real write.
      if (!opts.readonly && (opts.migrate ?? true)) db.prepare('DELETE FROM schema_migrations WHERE 0').run();
      return db;
    });
  } catch (err) {
    (db as Db | null)?.close();
    throw err;
  }
}

/** Written by `fedgate restore` before it replaces a file, removed when every file is in place (component/backup/backup.ts). */
export function restoreMarkerOf(path: string): string {
  return `${path}.restoring`;
}

/** The backup a restore cut short was restoring into `path` (null: none). */
export function unfinishedRestore(path: string): string | null {
  try {
    return readFileSync(restoreMarkerOf(path), 'utf8').trim() || '(unknown backup)';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

const statements = new WeakMap<Db, Map<string, Database.Statement>>();

/**
 * A prepared statement of `db`, compiled once and shared by every caller (one thread may serve many
 * apps: a statement per app would cost memory and compile time per app). `mode` sets how rows come
 * out — objects (default), arrays (`raw`) or the first column (`pluck`) — and is part of the key, so a
 * caller never changes another's mode. Never toggle `raw`/`pluck` on the statement returned.
 */
export function cachedStatement<P extends unknown[] = unknown[]>(db: Db, sql: string, mode?: 'raw' | 'pluck'): Database.Statement<P> {
  let byDb = statements.get(db);
  if (!byDb) statements.set(db, (byDb = new Map()));
  const key = mode ? `${mode}:${sql}` : sql;
  let s = byDb.get(key);
  if (!s) {
    s = db.prepare(sql);
    if (mode === 'raw') s.raw();
    else if (mode === 'pluck') s.pluck();
    byDb.set(key, s);
  }
  return s as Database.Statement<P>;
}
