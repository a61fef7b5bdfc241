/**
 * A worker thread ended by an SQLite error: the main thread's log says which. better-sqlite3's
 * SqliteError crosses threads as an object holding only its `code`, so a thread ended by a full disk
 * was logged "worker failed" with no cause (fourth crash campaign).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { WorkerPool } from '../../component/workers/pool.js';
import { createLogger } from '../../component/log/logger.js';
import { until } from '../helpers/db.js';

test('a thread ended by SQLITE_FULL: "worker failed" names the full disk', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-worker-error-'));
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const file = join(dir, 'full-disk.cjs');
  writeFileSync(file, `const { SqliteError } = require(${JSON.stringify(resolve(sqlite))});\nthrow new SqliteError('database or disk is full', 'SQLITE_FULL');\n`);
  const failures: unknown[] = [];
  const log = createLogger({ level: 'silent', format: 'json' });
  log.error = ((fields: { err?: unknown }, msg: string) => void (msg === 'worker failed' && failures.push(fields.err))) as typeof log.error;
  const pool = new WorkerPool(log);
  try {
    await pool.start('full', file, {});
    await until(() => failures.length >= 1, 10_000, () => 'no failure logged');
    assert.is(failures[0], 'SQLITE_FULL: the disk holding the database is full');
  } finally {
    await pool.stop('full').catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
