/**
 * SQLite's errors in words an operator can act on. A `SqliteError` stack trace tells an admin nothing;
 * "the disk holding /var/lib/fedgate/fedgate.sqlite is full" does. Used by the CLI (every command) and
 * by `fedgate start`.
 */

/** The database could not be opened or used at all: a problem of the set-up, named with its file. */
export class DatabaseError extends Error {
  override name = 'DatabaseError';
  constructor(
    readonly path: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface SqliteErrorLike extends Error {
  code: string;
}

export function isSqliteError(err: unknown): err is SqliteErrorLike {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('SQLITE_');
}

function user(): string {
  return process.env.USER ?? (typeof process.getuid === 'function' ? `uid ${process.getuid()}` : 'this user');
}

/**
 * A fault of the storage (disk full, I/O error, file made read-only), not of the operation: what was
 * refused because of it should be retried later, like a busy receiver, not counted as a failure.
 */
export function isStorageFault(err: unknown): boolean {
  if (!isSqliteError(err)) return false;
  const c = err.code;
  return c === 'SQLITE_FULL' || c === 'SQLITE_PERM' || c.startsWith('SQLITE_IOERR') || c.startsWith('SQLITE_READONLY') || c.startsWith('SQLITE_CANTOPEN');
}

/** One line saying what is wrong with `path` (or with "the database" when the file is not known). */
export function describeSqliteError(err: SqliteErrorLike, path?: string): string {
  const file = path ?? 'the database';
  const code = err.code;
  if (code.startsWith('SQLITE_READONLY')) return `${file} is read-only for ${user()}: give it, its -wal and -shm files and its folder write permission`;
  if (code.startsWith('SQLITE_CANTOPEN')) return `cannot open ${file}: check that its folder exists and that ${user()} may read and write the file and the folder`;
  if (code === 'SQLITE_NOTADB') return `${file} is not a SQLite database (damaged, or another kind of file)`;
  if (code.startsWith('SQLITE_CORRUPT')) return `${file} is damaged (${err.message}): restore it from a backup (see fedgate backup)`;
  if (code === 'SQLITE_FULL') return `the disk holding ${file} is full: nothing was changed by this operation; free some space and run it again`;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return `${file} is locked by another process for too long; run the command again`;
  if (code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') return `permission denied on ${file}`;
  if (code.startsWith('SQLITE_IOERR')) return `input/output error on ${file} (${code}): check the disk`;
  return `${file}: ${err.message} (${code})`;
}

/** Runs `fn`; an SQLite error becomes a DatabaseError naming `path`. */
export function namingFile<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isSqliteError(err)) throw new DatabaseError(path, err.code, describeSqliteError(err, path));
    throw err;
  }
}
