/**
 * The running gateway's heartbeat in SQLite, read by `fedgate status` and the status page from another
 * process or thread: no control socket to secure, and a stale heartbeat is itself the answer "not
 * running". The row also says where the link goes, why it last failed, and which apps are ready.
 */
import { readFileSync } from 'node:fs';
import type { Db } from './store/database.js';

/** What a running app's worker is doing, as the main thread sees it. */
export type AppState = 'starting' | 'ready' | 'stopping' | 'stopped';

export interface RuntimeStatus {
  pid: number;
  /** When that process started (processStart): with the pid, it names the process. Null when unknown. */
  pidStart: number | null;
  startedAt: number;
  linkState: string;
  linkSince: number | null;
  heartbeatAt: number;
  domain: string;
  /** `host:port` of the listener in use, or tried next. */
  server: string | null;
  serverKind: string | null;
  linkError: { reason: string; server: string; at: number } | null;
  apps: Record<string, AppState>;
  /** Why an app that is still starting failed to start last, per app. */
  appErrors: Record<string, string>;
  metricsListen: string | null;
}

export const HEARTBEAT_MS = 2000;

export function writeRuntimeStatus(db: Db, s: RuntimeStatus): void {
  db.prepare(
    `INSERT INTO runtime (id, pid, started_at, link_state, link_since, heartbeat_at, domain, server, server_kind,
       link_error, link_error_server, link_error_at, apps, metrics_listen, app_errors, pid_start)
     VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, started_at = excluded.started_at, link_state = excluded.link_state,
       link_since = excluded.link_since, heartbeat_at = excluded.heartbeat_at, domain = excluded.domain, server = excluded.server,
       server_kind = excluded.server_kind, link_error = excluded.link_error, link_error_server = excluded.link_error_server,
       link_error_at = excluded.link_error_at, apps = excluded.apps, metrics_listen = excluded.metrics_listen, app_errors = excluded.app_errors, pid_start = excluded.pid_start`,
  ).run(
    s.pid,
    s.startedAt,
    s.linkState,
    s.linkSince,
    s.heartbeatAt,
    s.domain,
    s.server,
    s.serverKind,
    s.linkError?.reason ?? null,
    s.linkError?.server ?? null,
    s.linkError?.at ?? null,
    JSON.stringify(s.apps),
    s.metricsListen,
    Object.keys(s.appErrors).length ? JSON.stringify(s.appErrors) : null,
    s.pidStart,
  );
}

/** Another gateway's process already runs on this database. */
export class AlreadyRunningError extends Error {
  override name = 'AlreadyRunningError';
  constructor(
    readonly path: string,
    readonly pid: number,
  ) {
    super(`another gateway (pid ${pid}) is running on ${path}: two would send every message twice and undo each other's status; stop it first`);
  }
}

/**
 * Takes the heartbeat row for this process before the gateway starts anything, or throws
 * AlreadyRunningError if a gateway's process still holds it (running, hung or stopped: see
 * gatewayProcessAlive). One write transaction: of two starts at once, the second sees the first.
 */
export function claimRuntimeStatus(db: Db, path: string, s: RuntimeStatus): void {
  db.transaction(() => {
    const held = readRuntimeStatus(db);
    if (held && held.pid !== s.pid && gatewayProcessAlive(held)) throw new AlreadyRunningError(path, held.pid);
    writeRuntimeStatus(db, s);
  }).immediate();
}

export function clearRuntimeStatus(db: Db, pid: number): void {
  db.prepare('DELETE FROM runtime WHERE id = 1 AND pid = ?').run(pid);
}

interface RuntimeRow {
  pid: number;
  started_at: number;
  link_state: string;
  link_since: number | null;
  heartbeat_at: number;
  domain: string;
  server: string | null;
  server_kind: string | null;
  link_error: string | null;
  link_error_server: string | null;
  link_error_at: number | null;
  apps: string;
  metrics_listen: string | null;
  app_errors: string | null;
  pid_start: number | null;
}

export function readRuntimeStatus(db: Db): RuntimeStatus | null {
  const r = db.prepare('SELECT * FROM runtime WHERE id = 1').get() as RuntimeRow | undefined;
  if (!r) return null;
  let apps: Record<string, AppState> = {};
  let appErrors: Record<string, string> = {};
  try {
    apps = JSON.parse(r.apps) as Record<string, AppState>;
    if (r.app_errors) appErrors = JSON.parse(r.app_errors) as Record<string, string>;
  } catch {
    /* an older or damaged row: no app states */
  }
  return {
    pid: r.pid,
    pidStart: r.pid_start,
    startedAt: r.started_at,
    linkState: r.link_state,
    linkSince: r.link_since,
    heartbeatAt: r.heartbeat_at,
    domain: r.domain,
    server: r.server,
    serverKind: r.server_kind,
    linkError: r.link_error !== null ? { reason: r.link_error, server: r.link_error_server ?? '', at: r.link_error_at ?? 0 } : null,
    apps,
    appErrors,
    metricsListen: r.metrics_listen,
  };
}

/**
 * Is the process of this heartbeat alive? The pid is checked first, so that a gateway killed with
 * SIGKILL is "not running" at once, not only once its heartbeat goes stale; a zombie (dead, not yet
 * reaped by its parent) counts as dead. On a stale heartbeat the process is hung or gone: not running.
 */
export function isAlive(s: RuntimeStatus, now = Date.now()): boolean {
  if (!pidAlive(s.pid)) return false;
  return now - s.heartbeatAt <= 3 * HEARTBEAT_MS;
}

/**
 * Is the process of this heartbeat still there, fresh heartbeat or not? A gateway that is stopped
 * (SIGSTOP), hung, or cannot write its database (a full disk) lets its heartbeat go stale but still
 * holds its files: `restore` and a key rotation must not act under it. Its command line must name
 * fedgate, so that the pid of a gateway long gone, reused by another program, does not count.
 */
export function gatewayProcessAlive(s: RuntimeStatus): boolean {
  if (!pidAlive(s.pid)) return false;
  const started = processStart(s.pid);
  if (s.pidStart !== null && started !== null) return started === s.pidStart;
  // A row written before the start time was kept (or no /proc): its command line must name fedgate.
  try {
    return readFileSync(`/proc/${s.pid}/cmdline`, 'utf8').includes('fedgate');
  } catch {
    return process.platform !== 'linux';
  }
}

/** When process `pid` started, in clock ticks since boot (/proc/<pid>/stat, field 22); null without /proc. */
export function processStart(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (comm) ": field 3 (state) onwards; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[22 - 3]);
    return Number.isSafeInteger(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state …"; comm may hold spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // No /proc (not Linux) or the process ended between the two checks.
    return process.platform !== 'linux';
  }
}
