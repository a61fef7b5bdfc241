/**
 * Backups of a gateway's SQLite files while it runs, and their restore.
 *
 * A gateway keeps fedgate's file and companion files next to it, named after it (`fedgate.sqlite`,
 * `fedgate-store.sqlite` for the `store` adapter, and any other `fedgate-<name>.sqlite` an adapter
 * owns). `backup` copies each with SQLite's online backup API, each as one consistent snapshot (the
 * remaining pages are copied in one step, so writers cannot make it restart forever), into
 * `FILE` and `FILE`'s companions (`backup.sqlite`, `backup-store.sqlite`…), through temporary files
 * renamed when all are complete (companions first, the main file last), then checks each copy (`PRAGMA
 * quick_check`). Every copy of one backup carries the same backup id (table `fedgate_backup`): a backup
 * cut short (killed while renaming, with `--force` over an older one) leaves copies of two backups side
 * by side, and `restore` refuses such a set instead of restoring a store older than its inbox says.
 *
 * fedgate's own file is copied first: a delivery is recorded in the store before the inbox marks it
 * applied, and an extract's cursor (in fedgate's file) never points past records the store has; so a
 * store copied after fedgate's file holds everything that file says was applied or extracted. A
 * restored gateway then applies again, exactly once, what was pending, and extracts again what
 * followed the cursor.
 *
 * `restore` puts the copies in place of a stopped gateway's files: the files it replaces are kept
 * (renamed `*.before-restore-<time>`), stale write-ahead logs are moved away with them (replayed onto
 * the restored file they would corrupt it), and the restored database gets a new instance token —
 * its outbox ids start again from the backup's, and must not be taken by receivers for messages they
 * already have. What the gateway sent after the backup is sent again under new ids: receivers that
 * are fedgates recognise records they already hold (stored as unchanged), nothing is lost.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { restoreMarkerOf, unfinishedRestore } from '../store/database.js';
import { randomBytes } from 'node:crypto';
import { pidAlive } from '../runtime-status.js';

export class BackupError extends Error {
  override name = 'BackupError';
}

export interface DatabaseFile {
  /** `fedgate` for the main file, else the companion's name (`store`). */
  name: string;
  path: string;
}

/** `dir/base.ext` + `store` → `dir/base-store.ext` (the store adapter's naming, store-database.ts). */
export function companionPath(mainPath: string, name: string): string {
  const ext = extname(mainPath);
  return join(dirname(mainPath), `${basename(mainPath, ext)}-${name}${ext || '.sqlite'}`);
}

/** The main file and its companions that exist, the main one first. */
export function databaseFiles(mainPath: string): DatabaseFile[] {
  const ext = extname(mainPath) || '.sqlite';
  const base = basename(mainPath, extname(mainPath));
  const dir = dirname(mainPath);
  const companions = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.startsWith(`${base}-`) && f.endsWith(ext) && !f.includes('.before-restore-'))
        .map((f) => f.slice(base.length + 1, f.length - ext.length))
        .filter((name) => /^[a-z0-9_]+$/.test(name))
        .sort()
    : [];
  return [{ name: 'fedgate', path: mainPath }, ...companions.map((name) => ({ name, path: companionPath(mainPath, name) }))];
}

export interface CopiedFile {
  name: string;
  source: string;
  copy: string;
  bytes: number;
}

function targetOf(target: string, name: string): string {
  return name === 'fedgate' ? target : companionPath(target, name);
}

/**
 * Makes a fresh copy a self-contained file (rollback journal, no -wal or -shm next to it) and checks it
 * (`PRAGMA quick_check`); throws BackupError unless it is sound. The gateway turns WAL on again when
 * it opens a restored file.
 */
function seal(path: string, backupId?: string): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('journal_mode = DELETE');
    if (backupId !== undefined) {
      db.exec('CREATE TABLE IF NOT EXISTS fedgate_backup (id TEXT NOT NULL)');
      db.prepare('DELETE FROM fedgate_backup').run();
      db.prepare('INSERT INTO fedgate_backup (id) VALUES (?)').run(backupId);
    }
    const result = db.pragma('quick_check', { simple: true });
    if (result !== 'ok') throw new BackupError(`${path}: the copy fails SQLite's check: ${String(result)}`);
  } finally {
    db.close();
  }
}

/** Copies the gateway's files (it may be running) to `target` and its companions. */
export async function backupDatabases(mainPath: string, target: string, opts: { force?: boolean } = {}): Promise<CopiedFile[]> {
  if (!existsSync(mainPath)) throw new BackupError(`${mainPath} does not exist: nothing to back up`);
  const files = databaseFiles(mainPath);
  for (const f of files) {
    const to = targetOf(target, f.name);
    if (existsSync(to) && !opts.force) throw new BackupError(`${to} exists already: choose another FILE, or --force to replace it`);
  }
  mkdirSync(dirname(target), { recursive: true });
  removeStalePartials(files.map((f) => targetOf(target, f.name)));
  const backupId = randomBytes(8).toString('hex');
  const partials: Array<{ f: DatabaseFile; to: string; partial: string }> = [];
  for (const f of files) {
    const to = targetOf(target, f.name);
    const partial = `${to}.partial-${process.pid}`;
    partials.push({ f, to, partial });
    // Read-write: a read-only connection to a WAL file of a stopped gateway may not open its -shm.
    const db = new Database(f.path, { fileMustExist: true });
    try {
      // A copy holds everything the database holds: private while it is written (chmod too: a file of
      // that name may be there already), then the database's own mode less what other users could do
      // (a backup folder is often shared), whatever the umask.
      writeFileSync(partial, '', { mode: 0o600 });
      chmodSync(partial, 0o600);
      db.pragma('busy_timeout = 10000');
      // First step: the default 100 pages; then every remaining page in one step — a snapshot that a
      // write in between can only restart, not drag on.
      await db.backup(partial, { progress: () => 1 << 30 });
      db.close();
      seal(partial, backupId);
      chmodSync(partial, statSync(f.path).mode & 0o770);
    } catch (err) {
      if (db.open) db.close();
      for (const p of partials) rmSync(p.partial, { force: true });
      // Only the copy is written: a full disk is the copy's, not the database's ("the disk holding the
      // database is full" sent an operator to the wrong disk).
      const code = (err as { code?: unknown }).code;
      if (code === 'SQLITE_FULL' || code === 'ENOSPC') throw new BackupError(`the disk holding ${to} is full: no copy was made; free some space there and run the backup again`);
      throw err;
    }
  }
  // Every copy made: in place, the companions first, the main file (the one restore is given) last.
  // A companion an older backup of this name had and this one has not (an app removed since) goes:
  // restore would take it for part of this backup.
  const made = new Set(partials.map((p) => p.to));
  for (const old of databaseFiles(target)) if (old.name !== 'fedgate' && !made.has(old.path)) rmSync(old.path, { force: true });
  const copied: CopiedFile[] = [];
  for (const { f, to, partial } of [...partials.slice(1), partials[0]!]) {
    renameSync(partial, to);
    copied.push({ name: f.name, source: f.path, copy: to, bytes: statSync(to).size });
  }
  return [copied.at(-1)!, ...copied.slice(0, -1)];
}

/** Copies left by a backup that was killed (`*.partial-<pid>` of a process that is gone, and their journals). */
function removeStalePartials(targets: string[]): void {
  for (const to of targets) {
    const dir = dirname(to);
    const prefix = `${basename(to)}.partial-`;
    for (const f of readdirSync(dir)) {
      const pid = /^(\d+)(-journal)?$/.exec(f.slice(prefix.length));
      if (!f.startsWith(prefix) || !pid || pidAlive(Number(pid[1]))) continue;
      rmSync(join(dir, f), { force: true });
    }
  }
}

/** The backup id stamped in a copy (null: a copy made before backups were stamped). */
function backupIdOf(path: string): string | null {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'fedgate_backup'").get();
    return has ? ((db.prepare('SELECT id FROM fedgate_backup').pluck().get() as string | undefined) ?? null) : null;
  } finally {
    db.close();
  }
}

export interface RestoredFile {
  name: string;
  from: string;
  to: string;
  /** Where the file it replaced (with its -wal and -shm) was moved, if there was one. */
  keptAs: string | null;
}

/** Moves `path` and its -wal/-shm aside, suffixed; returns the new name of `path` (null if absent). */
function moveAside(path: string, suffix: string): string | null {
  let moved: string | null = null;
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    if (!existsSync(p)) continue;
    renameSync(p, `${p}${suffix}`);
    if (p === path) moved = `${p}${suffix}`;
  }
  return moved;
}

/**
 * Replaces a stopped gateway's files by the backup `source` (and its companions). A restore cut short
 * must never leave a gateway that starts on half the files (the main file's cursors past an empty
 * store, or its old instance id: the receivers would take new messages for ones they have). So: a
 * marker first, which makes every open of the files refuse (store/database.ts); every copy made aside,
 * the new instance id written into the main copy; then in place, the companions first and the main
 * file last; the marker removed at the end. Running the same restore again finishes one cut short.
 */
export function restoreDatabases(source: string, mainPath: string, now = new Date()): RestoredFile[] {
  if (!existsSync(source)) throw new BackupError(`${source} does not exist`);
  const backups = databaseFiles(source);
  // One backup's copies only: a backup cut short may have left another backup's copy beside this one.
  const ids = new Map(backups.map((b) => [b.path, backupIdOf(b.path)]));
  const mainId = ids.get(source) ?? null;
  for (const [path, id] of ids) {
    if (id !== mainId) {
      throw new BackupError(`${path} and ${source} come from different backups (a backup was cut short, maybe killed while it replaced an older one): restore from another backup, or make a new one`);
    }
  }
  mkdirSync(dirname(mainPath), { recursive: true });
  // A restore cut short before this one may have half replaced the files: its marker then stays until one ends.
  const resumed = unfinishedRestore(mainPath) !== null;
  writeDurably(restoreMarkerOf(mainPath), `${resolve(source)}\n`);
  const suffix = `.before-restore-${now.toISOString().replace(/[:.]/g, '-')}`;
  // The live files the backup has no copy of are set aside too: they belong to the state being replaced.
  const targets = new Map(databaseFiles(mainPath).map((f) => [f.name, f.path]));
  for (const b of backups) targets.set(b.name, targetOf(mainPath, b.name));
  const copies = new Map<string, string>();
  try {
    copyAside(targets, backups, copies);
  } catch (err) {
    // Nothing live was touched yet by this run (a full disk, an unreadable copy): unless an earlier run
    // had, the files are whole, and the marker must not say otherwise.
    for (const p of copies.values()) rmSync(p, { force: true });
    if (!resumed) rmSync(restoreMarkerOf(mainPath), { force: true });
    throw err;
  }
  const restored: RestoredFile[] = [];
  const order = [...targets].sort(([a], [b]) => (a === 'fedgate' ? 1 : 0) - (b === 'fedgate' ? 1 : 0));
  for (const [name, path] of order) {
    const keptAs = moveAside(path, suffix);
    const partial = copies.get(name);
    if (partial) renameSync(partial, path);
    restored.push({ name, from: backups.find((x) => x.name === name)?.path ?? '', to: path, keptAs });
  }
  rmSync(restoreMarkerOf(mainPath));
  return [...restored.filter((r) => r.name === 'fedgate'), ...restored.filter((r) => r.name !== 'fedgate')];
}

/**
 * Restore's first half: each backup copy beside the file it will replace (`*.restore-partial`), its
 * backup stamp dropped and, in the main one, a new instance token. Fills `copies` (name → partial) as
 * it goes, so that a failure can remove what was made.
 */
function copyAside(targets: ReadonlyMap<string, string>, backups: readonly DatabaseFile[], copies: Map<string, string>): void {
  for (const [name, path] of targets) {
    const b = backups.find((x) => x.name === name);
    if (!b) continue;
    // A fixed name, its journals cleared: a copy left by a restore killed earlier is replaced, never rolled into this one.
    const partial = `${path}.restore-partial`;
    for (const p of [partial, `${partial}-journal`, `${partial}-wal`, `${partial}-shm`]) rmSync(p, { force: true });
    copies.set(name, partial);
    copyFileSync(b.path, partial);
    const db = new Database(partial, { fileMustExist: true });
    try {
      db.exec('DROP TABLE IF EXISTS fedgate_backup');
      // New stanza ids: receivers remember the ids of the messages sent after the backup.
      if (name === 'fedgate') db.prepare("UPDATE settings SET value = lower(hex(randomblob(6))) WHERE name = 'instance'").run();
    } finally {
      db.close();
    }
    seal(partial);
  }
}

/** Written and flushed to the disk before anything else happens. */
function writeDurably(path: string, text: string): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
