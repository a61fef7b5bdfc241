/**
 * Applies schema/NNN_name.sql in order, each in its own transaction, and records it in
 * schema_migrations. The SQL files are the documentation of the storage; never edit an applied one,
 * add the next number.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { SCHEMA_DIR } from '../paths.js';
import { DatabaseError } from './sqlite-errors.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function listMigrations(dir = SCHEMA_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f.slice(4, -4), sql: readFileSync(join(dir, f), 'utf8') }));
}

export function migrate(db: Database.Database, dir: string = SCHEMA_DIR): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  const done: number[] = [];
  for (const m of listMigrations(dir)) {
    if (applied.has(m.version)) continue;
    // IMMEDIATE: a CLI command and the gateway starting together must not both apply the same file.
    db.transaction(() => {
      const again = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version);
      if (again) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      done.push(m.version);
    }).immediate();
  }
  const newest = listMigrations(dir).at(-1)?.version ?? 0;
  const dbNewest = (db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
  if (dbNewest > newest) {
    throw new DatabaseError(db.name, 'SCHEMA_NEWER', `${db.name} has schema version ${dbNewest}, newer than this fedgate knows (${newest}): upgrade fedgate`);
  }
  return done;
}
