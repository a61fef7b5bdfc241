/**
 * A full disk, for real: a small tmpfs mounted where a test's files go (the suite runs as root), then
 * filled to its last byte. Shared by the full-disk tests of the receiver, the sender, backups and
 * exports.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { until } from './db.js';

/** Mounts a tmpfs of `size` (as mount's -o size=: 32m, 256k) on the folder `dir`, which must exist. */
export function mountSmallDisk(dir: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
}

/** A new folder under the system's temporary folder, with a tmpfs of `size` mounted on it. */
export function newSmallDisk(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fedgate-disk-'));
  mountSmallDisk(dir, size);
  return dir;
}

/** Unmounts the disk; `remove`: the folder too. */
export function unmountSmallDisk(dir: string, opts: { remove?: boolean } = {}): void {
  try {
    execFileSync('umount', [dir]);
  } finally {
    if (opts.remove) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Fills the disk holding `database` to its last byte, after emptying the database's write-ahead log,
 * so that its next commits need new space and cannot reuse old pages. Remove `<disk>/filler` to free it.
 */
export async function fillDisk(disk: string, database: string): Promise<void> {
  const db = new Database(database);
  try {
    db.pragma('busy_timeout = 5000');
    await until(() => (db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>)[0]!.busy === 0, 10_000, () => 'the WAL could not be truncated');
  } finally {
    db.close();
  }
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${join(disk, 'filler')}`, 'bs=64k'], { stdio: 'ignore' });
  } catch {
    // "No space left on device": the point.
  }
}
