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

/** Polls `check` until it returns true; throws with `describe()` after timeoutMs. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
