/**
 * What a worker thread died of, in words. Its uncaught error reaches the main thread by structured
 * clone, where better-sqlite3's SqliteError (not a true Error) arrives as a plain object holding only
 * its `code`: a full disk was logged "worker failed" with no cause at all.
 */
export function describeWorkerError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return String(err);
  if (code === 'SQLITE_FULL') return `SQLITE_FULL: the disk holding the database is full`;
  if (code.startsWith('SQLITE_IOERR')) return `${code}: an input/output error on the database; check the disk`;
  if (code.startsWith('SQLITE_READONLY')) return `${code}: the database (or its -wal, -shm or folder) is read-only`;
  if (code.startsWith('SQLITE_BUSY')) return `${code}: the database was locked by another process for too long`;
  return `${code} (its message does not cross threads)`;
}
