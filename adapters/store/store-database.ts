/**
 * The store's own SQLite file, next to fedgate's (`fedgate.sqlite` → `fedgate-store.sqlite`), with
 * its own migrations (schema/store/). Its own file, so that storing records never waits for the
 * write lock of fedgate's inbox and outbox, nor makes them wait: SQLite has one writer per file.
 */
import { basename, dirname, extname, join } from 'node:path';
import { openDatabase, type Db, type OpenOptions } from '../../component/store/database.js';
import { SCHEMA_DIR } from '../../component/paths.js';

export const STORE_SCHEMA_DIR = join(SCHEMA_DIR, 'store');

export function storeDatabasePath(fedgateDatabasePath: string): string {
  const ext = extname(fedgateDatabasePath);
  return join(dirname(fedgateDatabasePath), `${basename(fedgateDatabasePath, ext)}-store${ext || '.sqlite'}`);
}

export function openStoreDatabase(fedgateDatabasePath: string, opts: Omit<OpenOptions, 'schemaDir'> = {}): Db {
  return openDatabase(storeDatabasePath(fedgateDatabasePath), { ...opts, schemaDir: STORE_SCHEMA_DIR });
}
