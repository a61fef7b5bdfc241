/**
 * A backup onto a full disk (a small tmpfs as its target): refused with the copy's disk named — not
 * "the disk holding the database", which sent an operator to the wrong disk — and nothing left behind.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../component/store/database.js';
import { BackupError, backupDatabases } from '../../component/backup/backup.js';
import { mountSmallDisk, unmountSmallDisk } from '../helpers/small-disk.js';

test('a backup onto a full disk: BackupError naming the copy, no partial copy left', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-backup-full-'));
  const target = join(dir, 'target');
  mkdirSync(target);
  mountSmallDisk(target, '1m');
  try {
    const main = join(dir, 'fedgate.sqlite');
    const db = openDatabase(main);
    // Bigger than the target: 2 MB of random-looking text.
    db.exec('CREATE TABLE ballast (b TEXT)');
    const insert = db.prepare('INSERT INTO ballast VALUES (?)');
    for (let i = 0; i < 2000; i++) insert.run(`${i}`.padEnd(1000, String.fromCharCode(65 + (i % 26))));
    db.close();
    const copy = join(target, 'backup.sqlite');
    const err = await backupDatabases(main, copy).then(
      () => null,
      (e: unknown) => e,
    );
    assert.instance(err, BackupError);
    assert.is((err as Error).message, `the disk holding ${copy} is full: no copy was made; free some space there and run the backup again`);
    assert.equal(readdirSync(target), [], 'no partial copy left');
  } finally {
    unmountSmallDisk(target);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
