/**
 * What a gateway is doing, read from its SQLite file alone: the heartbeat row of the running process,
 * the apps, their queues, the flows between apps and destinations with what they carried, the lanes,
 * the latest dead letters. One reading serves `fedgate status`, the status page and the metrics, so
 * that the three never disagree. Read-only; works whether the gateway runs or not.
 */
import type { Db } from '../store/database.js';
import { gatewayProcessAlive, isAlive, readRuntimeStatus, type RuntimeStatus } from '../runtime-status.js';
import { iso } from '../cli/json.js';
import { pendingConsentRequests, traceSize, type PendingConsent } from './optional-tables.js';
import { judgePurgeClock, lastPurgeAt } from '../gdpr/purge-clock.js';

export interface AppView {
  name: string;
  jid: string;
  kind: string;
  description: string;
  /** The app's worker, as the running gateway last reported it; `not running` when the gateway is not. */
  state: string;
  /** Why its adapter failed to start, while it is still starting (null otherwise). */
  startError: string | null;
  /** Messages in the outbox sent by this app. */
  outbox: number;
  /** Messages received for this app, not yet applied. */
  inboxPending: number;
  deadLetters: number;
}

export interface FlowView {
  /** Sender and receiver JIDs: one of them is an app of this gateway, or both are. */
  from: string;
  to: string;
  /** `out`: one of our apps sends; `in`: one of our apps receives from elsewhere. */
  direction: 'out' | 'in';
  /** consumer: a configured flow; subscription: a Quoalise subscription; observed: traffic without a consumer now. */
  kind: 'flow' | 'subscription' | 'entitlement' | 'observed';
  consumers: number[];
  /** Messages waiting in the outbox on this flow. */
  queued: number;
  /** Since the database was created. */
  messages: number;
  records: number;
  lastAt: string | null;
  /** The send job's lane to this destination (out flows). */
  lane: { mode: string; heldUntil: string | null; attempts: number; lastError: string | null } | null;
}

export interface DeadLetterView {
  id: number;
  direction: string;
  app: string;
  peer: string;
  records: number;
  reason: string;
  diedAt: string;
}

export interface StatusView {
  running: boolean;
  /** Not running as far as its heartbeat says, but its process is there: hung, stopped, or unable to write. */
  unresponsive: { pid: number; heartbeatAgeSeconds: number } | null;
  pid: number | null;
  startedAt: string | null;
  uptimeSeconds: number | null;
  domain: string;
  /** Link state: online, connecting, offline, failed (or offline when not running). */
  link: string;
  linkSince: string | null;
  linkUpSeconds: number | null;
  /** `host:port` of the server's listener in use, and which server it is. */
  server: string | null;
  serverKind: string | null;
  /** Why the link last went down or failed to come up, where, and since when. */
  lastLinkError: { reason: string; server: string; at: string } | null;
  statusPage: string | null;
  apps: AppView[];
  totals: { outbox: number; inboxPending: number; deadLetters: number };
  flows: FlowView[];
  /** Flows left out of `flows` (beyond `maxFlows`: subscriptions and observed peers, the least busy first). */
  flowsNotShown: number;
  deadLetters: DeadLetterView[];
  /** Null when this gateway's schema has no consent requests (see optional-tables.ts). */
  consent: PendingConsent | null;
  /** Entries in the transparency log; null when it has none. */
  traceSize: number | null;
  /**
   * The hourly retention purge holds (gdpr/purge-clock.ts): the wall clock is more than a day past the
   * last purge, a clock ahead or a long stop; it deletes nothing until `fedgate retention purge`. Judged
   * now, as the next run would: also said of a stopped gateway, whose next start will hold. Null otherwise.
   */
  purgeHeld: { lastPurgeAt: string; hoursSince: number } | null;
}

function countBy(db: Db, sql: string): Map<string, number> {
  return new Map((db.prepare(sql).raw().all() as Array<[string, number]>).map(([k, n]) => [k, n]));
}

/** A reading of everything above. `domain` comes from the configuration when the gateway is not running. */
/**
 * A reading of everything above. `domain` comes from the configuration when the gateway is not running.
 * `maxFlows` bounds the flows listed (the page and /status.json: MAX_FLOWS); the metrics read them all
 * (their label values are bounded by BoundedLabels instead).
 */
export function readStatus(db: Db, opts: { domain: string; deadLetterRows?: number; now?: number; maxFlows?: number }): StatusView {
  const now = opts.now ?? Date.now();
  const rt: RuntimeStatus | null = readRuntimeStatus(db);
  const running = !!rt && isAlive(rt, now);
  // Its process is there but its heartbeat is stale: hung, stopped, or unable to write (a full disk).
  const unresponsive = !running && !!rt && gatewayProcessAlive(rt) ? { pid: rt.pid, heartbeatAgeSeconds: Math.floor((now - rt.heartbeatAt) / 1000) } : null;
  const domain = rt?.domain ?? opts.domain;
  const lastPurge = lastPurgeAt(db);
  const purgeClock = judgePurgeClock(lastPurge, now);
  const allFlows = readFlows(db, domain, now);
  const flows = keepFlows(allFlows, opts.maxFlows ?? MAX_FLOWS);
  const jidOf = (name: string) => `${name}@${domain}`;

  const apps = db.prepare('SELECT name, kind, description FROM apps ORDER BY name').all() as Array<{ name: string; kind: string; description: string }>;
  const outboxBySender = countBy(db, 'SELECT sender, count(*) FROM outbox GROUP BY sender');
  const pendingByApp = countBy(db, "SELECT app, count(*) FROM inbox WHERE state = 'pending' GROUP BY app");
  // Outbound dead letters name the sending app by JID, inbound ones by name.
  const deadByApp = countBy(db, "SELECT CASE WHEN direction = 'outbound' THEN substr(app, 1, instr(app, '@') - 1) ELSE app END, count(*) FROM dead_letters GROUP BY 1");

  const appViews: AppView[] = apps.map((a) => ({
    name: a.name,
    jid: jidOf(a.name),
    kind: a.kind,
    description: a.description,
    state: running ? (rt!.apps[a.name] ?? 'starting') : 'not running',
    startError: running ? (rt!.appErrors[a.name] ?? null) : null,
    outbox: outboxBySender.get(jidOf(a.name)) ?? 0,
    inboxPending: pendingByApp.get(a.name) ?? 0,
    deadLetters: deadByApp.get(a.name) ?? 0,
  }));

  return {
    running,
    unresponsive,
    pid: running ? rt!.pid : null,
    startedAt: running ? iso(rt!.startedAt) : null,
    uptimeSeconds: running ? Math.floor((now - rt!.startedAt) / 1000) : null,
    domain,
    link: running ? rt!.linkState : 'offline',
    linkSince: running ? iso(rt!.linkSince) : null,
    linkUpSeconds: running && rt!.linkSince ? Math.floor((now - rt!.linkSince) / 1000) : null,
    server: rt?.server ?? null,
    serverKind: rt?.serverKind ?? null,
    lastLinkError: rt?.linkError ? { reason: rt.linkError.reason, server: rt.linkError.server, at: iso(rt.linkError.at)! } : null,
    statusPage: running && rt!.metricsListen ? `http://${rt!.metricsListen}/` : null,
    apps: appViews,
    totals: {
      outbox: (db.prepare('SELECT count(*) FROM outbox').pluck().get() as number) ?? 0,
      inboxPending: [...pendingByApp.values()].reduce((a, b) => a + b, 0),
      deadLetters: (db.prepare('SELECT count(*) FROM dead_letters').pluck().get() as number) ?? 0,
    },
    flows,
    flowsNotShown: allFlows.length - flows.length,
    deadLetters: (
      db
        .prepare('SELECT id, direction, app, peer, records, reason, died_at AS diedAt FROM dead_letters ORDER BY id DESC LIMIT ?')
        .all(opts.deadLetterRows ?? 20) as Array<Omit<DeadLetterView, 'diedAt'> & { diedAt: number }>
    ).map((d) => ({ ...d, diedAt: iso(d.diedAt)! })),
    consent: pendingConsentRequests(db),
    traceSize: traceSize(db),
    purgeHeld: purgeClock.run ? null : { lastPurgeAt: iso(lastPurge)!, hoursSince: Math.floor(purgeClock.gapMs / 3_600_000) },
  };
}

/**
 * The flows: every consumer (a configured flow or a subscription from one of our apps, or an
 * entitlement of a remote source towards one of our apps), joined with what the flow counters saw
 * (schema/009) — traffic of a consumer removed since shows as `observed`.
 */
function readFlows(db: Db, domain: string, now: number): FlowView[] {
  const local = (jid: string) => jid.endsWith(`@${domain}`);
  const flows = new Map<string, FlowView>();
  const key = (from: string, to: string) => `${from}\u0000${to}`;
  const get = (from: string, to: string, direction: 'out' | 'in', kind: FlowView['kind']): FlowView => {
    let f = flows.get(key(from, to));
    if (!f) flows.set(key(from, to), (f = { from, to, direction, kind, consumers: [], queued: 0, messages: 0, records: 0, lastAt: null, lane: null }));
    return f;
  };
  const consumers = db.prepare('SELECT id, source, destination, kind FROM consumers ORDER BY id').all() as Array<{ id: number; source: string; destination: string; kind: string }>;
  for (const c of consumers) {
    const out = local(c.source);
    const kind = !out ? 'entitlement' : c.kind === 'subscription' ? 'subscription' : 'flow';
    get(c.source, c.destination, out ? 'out' : 'in', kind).consumers.push(c.id);
  }
  const counters = db.prepare('SELECT direction, app, peer, messages, records, last_at AS lastAt FROM flow_counters').all() as Array<{
    direction: 'out' | 'in';
    app: string;
    peer: string;
    messages: number;
    records: number;
    lastAt: number;
  }>;
  for (const c of counters) {
    // A flow between two of our apps is counted twice (leaving and arriving): the sending side tells.
    const [from, to] = c.direction === 'out' ? [c.app, c.peer] : [c.peer, `${c.app}@${domain}`];
    if (c.direction === 'in' && local(from)) continue;
    const f = get(from, to, c.direction, 'observed');
    f.messages = c.messages;
    f.records = c.records;
    f.lastAt = iso(c.lastAt);
  }
  const queued = db.prepare('SELECT sender, destination, count(*) AS n FROM outbox GROUP BY sender, destination').all() as Array<{ sender: string; destination: string; n: number }>;
  for (const q of queued) get(q.sender, q.destination, 'out', 'observed').queued = q.n;
  const lanes = new Map(
    (db.prepare('SELECT destination, mode, held_until AS heldUntil, attempts, last_error AS lastError FROM lanes').all() as Array<{
      destination: string;
      mode: string;
      heldUntil: number;
      attempts: number;
      lastError: string | null;
    }>).map((l) => [l.destination, l]),
  );
  for (const f of flows.values()) {
    const l = f.direction === 'out' ? lanes.get(f.to) : undefined;
    if (l) f.lane = { mode: l.mode, heldUntil: l.heldUntil > now ? iso(l.heldUntil) : null, attempts: l.attempts, lastError: l.lastError };
  }
  return [...flows.values()].sort((a, b) => (a.from + a.to < b.from + b.to ? -1 : 1));
}

/** Flows shown, at most: subscribers (remote JIDs) could otherwise grow the page and /status.json without bound. */
export const MAX_FLOWS = 300;

/** The configured flows and entitlements first, then the busiest of the others (queued, then latest), up to `max`, in their order. */
function keepFlows(all: FlowView[], max: number): FlowView[] {
  if (all.length <= max) return all;
  const rank = (f: FlowView) => (f.kind === 'flow' || f.kind === 'entitlement' ? 0 : 1);
  const kept = new Set(
    [...all].sort((a, b) => rank(a) - rank(b) || b.queued - a.queued || (b.lastAt ?? '').localeCompare(a.lastAt ?? '')).slice(0, max),
  );
  return all.filter((f) => kept.has(f));
}
