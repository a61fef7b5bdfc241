/** Migrations: applied in order, recorded, idempotent, and refused when the database is newer. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../component/store/database.js';
import { listMigrations, migrate } from '../../component/store/migrations.js';

test('migrations apply once, in order, and are recorded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-mig-'));
  try {
    const db = openDatabase(join(dir, 'a.sqlite'));
    const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
    assert.equal(versions, listMigrations().map((m) => m.version));
    assert.equal(migrate(db), [], 'nothing left to apply');
    assert.is(db.pragma('journal_mode', { simple: true }), 'wal');
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, 0)').run('future');
    assert.throws(() => migrate(db), /newer than this fedgate/);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
