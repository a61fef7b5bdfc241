/**
 * The running gateway's heartbeat in SQLite, read by `fedgate status` from another process: no control
 * socket to secure, and a stale heartbeat is itself the answer "not running".
 */
import type { Db } from './store/database.js';

export interface RuntimeStatus {
  pid: number;
  startedAt: number;
  linkState: string;
  linkSince: number | null;
  heartbeatAt: number;
  domain: string;
}

export const HEARTBEAT_MS = 2000;

export function writeRuntimeStatus(db: Db, s: RuntimeStatus): void {
  db.prepare(
    `INSERT INTO runtime (id, pid, started_at, link_state, link_since, heartbeat_at, domain) VALUES (1, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, started_at = excluded.started_at, link_state = excluded.link_state,
       link_since = excluded.link_since, heartbeat_at = excluded.heartbeat_at, domain = excluded.domain`,
  ).run(s.pid, s.startedAt, s.linkState, s.linkSince, s.heartbeatAt, s.domain);
}

export function clearRuntimeStatus(db: Db, pid: number): void {
  db.prepare('DELETE FROM runtime WHERE id = 1 AND pid = ?').run(pid);
}

export function readRuntimeStatus(db: Db): RuntimeStatus | null {
  const r = db.prepare('SELECT * FROM runtime WHERE id = 1').get() as
    | { pid: number; started_at: number; link_state: string; link_since: number | null; heartbeat_at: number; domain: string }
    | undefined;
  if (!r) return null;
  return { pid: r.pid, startedAt: r.started_at, linkState: r.link_state, linkSince: r.link_since, heartbeatAt: r.heartbeat_at, domain: r.domain };
}

/** A heartbeat older than a few periods, or a pid that no longer exists, means the gateway is not running. */
export function isAlive(s: RuntimeStatus, now = Date.now()): boolean {
  if (now - s.heartbeatAt > 3 * HEARTBEAT_MS) return false;
  try {
    process.kill(s.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
