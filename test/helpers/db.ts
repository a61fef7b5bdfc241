/** Read-only looks into a fedgate's SQLite database, to observe what tests cannot see on the wire. */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { Fedgate } from './fedgate.js';

/** fedgate's own file, or the `store` adapter's (`fedgate-store.sqlite`). */
export type DbFile = 'fedgate' | 'store';

export function query<T = Record<string, unknown>>(fg: Fedgate, sql: string, ...args: unknown[]): T[] {
  return queryFile<T>(fg, 'fedgate', sql, ...args);
}

/** Queries the store adapter's database. */
export function queryStore<T = Record<string, unknown>>(fg: Fedgate, sql: string, ...args: unknown[]): T[] {
  return queryFile<T>(fg, 'store', sql, ...args);
}

function queryFile<T>(fg: Fedgate, file: DbFile, sql: string, ...args: unknown[]): T[] {
  const db = new Database(join(fg.dir, file === 'fedgate' ? 'fedgate.sqlite' : 'fedgate-store.sqlite'), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return db.prepare(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

/** The first column of the first row (a count, a sum): of fedgate's file, or of the store's. */
export function scalar<T = number>(fg: Fedgate, sql: string, ...args: unknown[]): T {
  return firstValue<T>(query(fg, sql, ...args));
}

export function storeScalar<T = number>(fg: Fedgate, sql: string, ...args: unknown[]): T {
  return firstValue<T>(queryStore(fg, sql, ...args));
}

function firstValue<T>(rows: Array<Record<string, unknown>>): T {
  return (rows[0] ? Object.values(rows[0])[0] : undefined) as T;
}

/**
 * Polls `check` until it returns true; throws with `describe()` after timeoutMs. A check that throws
 * counts as "not yet" (a file a gateway has not created yet, a table its migration has not made: a
 * loaded machine made `ops/sender-disk-full` read the receiver's store before it existed); the last
 * such error is in the time-out's message.
 */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  const t0 = Date.now();
  let lastError: unknown = null;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() - t0 > timeoutMs) {
      let said: string;
      try {
        said = describe();
      } catch (err) {
        said = `(describing failed: ${(err as Error).message})`;
      }
      throw new Error(`timed out after ${timeoutMs} ms: ${said}${lastError ? `; the check last threw: ${(lastError as Error).message ?? String(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
