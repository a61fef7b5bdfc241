/**
 * Whether the database files a running gateway opened are still the ones at their paths. Removed (a
 * careless "reset", a clean-up script) or replaced (a copy made over it) under a running gateway,
 * SQLite goes on writing into the old file: everything acknowledged since was lost when the process
 * ended, while `fedgate status` opened a new, empty database and said "not running" (fourth crash
 * campaign). Checked with each heartbeat.
 */
import { statSync } from 'node:fs';

export class FileIdentities {
  private readonly ids = new Map<string, string>();

  /** Files that do not exist yet (a store an app creates later) are not watched. */
  constructor(paths: readonly string[]) {
    for (const p of paths) {
      const id = identity(p);
      if (id) this.ids.set(p, id);
    }
  }

  /** The first file no longer at its path, or replaced by another; null while all are as opened. */
  changed(): string | null {
    for (const [p, id] of this.ids) if (identity(p) !== id) return p;
    return null;
  }
}

function identity(path: string): string | null {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return null;
  }
}
