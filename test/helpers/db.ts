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

export function queryFile<T = Record<string, unknown>>(fg: Fedgate, file: DbFile, sql: string, ...args: unknown[]): T[] {
  const db = new Database(join(fg.dir, file === 'fedgate' ? 'fedgate.sqlite' : 'fedgate-store.sqlite'), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return db.prepare(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

export function scalar<T = number>(fg: Fedgate, sql: string, ...args: unknown[]): T {
  const row = query<Record<string, T>>(fg, sql, ...args)[0];
  return row ? (Object.values(row)[0] as T) : (undefined as T);
}

export function storeScalar<T = number>(fg: Fedgate, sql: string, ...args: unknown[]): T {
  const row = queryStore<Record<string, T>>(fg, sql, ...args)[0];
  return row ? (Object.values(row)[0] as T) : (undefined as T);
}

/** Polls `check` until it returns true; throws with `describe()` after timeoutMs. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
