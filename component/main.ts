/**
 * The gateway, composed: storage → application workers → router → XMPP link. Data flows one way:
 * link → router → app worker (adapter) → link. This file only wires the parts together.
 */
import { PeerSigners } from './trace/peer-signers.js';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { EventEmitter } from 'node:events';
import type { Config } from './config/schema.js';
import type { Logger } from './log/logger.js';
import { openDatabase, type Db } from './store/database.js';
import { AppRegistry } from './registry/apps.js';
import { WorkerPool } from './workers/pool.js';
import { Apps } from './apps/apps.js';
import type { AppHost } from './apps/app-host.js';
import { AppIqs } from './apps/app-iqs.js';
import { Link, type FatalLinkError } from './xmpp/link.js';
import { PresenceService } from './router/presence.js';
import { Router } from './router/router.js';
import { domainHandlers } from './router/domain-entity.js';
import { DIST_ROOT } from './paths.js';
import { VERSION } from './version.js';
import { processStart, HEARTBEAT_MS, claimRuntimeStatus, clearRuntimeStatus, writeRuntimeStatus, type RuntimeStatus } from './runtime-status.js';
import { SendBridge } from './delivery/send-bridge.js';
import { Entitlements } from './transfer/entitlements.js';
import { Intake } from './transfer/intake.js';
import { Inbox } from './transfer/inbox.js';
import { ConsumerStore } from './transfer/consumers.js';
import { Authorizer } from './authz/authorizer.js';
import { ConsentService, consentPolicy } from './consent/service.js';
import { ConsentEffects } from './consent/effects.js';
import { ConsentExpiry, EXPIRY_JOB } from './consent/expiry.js';
import { ConsentCommands } from './consent/commands/consent-commands.js';
import { AdminCommands } from './admin/admin-commands.js';
import { commandLimits } from './router/command-runner.js';
import { QuoaliseCommands } from './quoalise/commands/ad-hoc.js';
import { Outbox, instanceToken, type NewOutboxMessage } from './delivery/outbox.js';
import { ChangeFeed } from './changes/feed.js';
import type { HousekeepingData } from './jobs/housekeeping.js';
import { GatewayMetrics, NO_METRICS, type Observers } from './observe/metrics.js';
import { ObserveService } from './observe/observe-service.js';
import type { AppState } from './runtime-status.js';
import { storeDatabasePath } from '../adapters/store/store-database.js';
import type { PurgeJobData } from './jobs/purge-job.js';
import { describePurge, type PurgeReport } from './gdpr/purge.js';
import { configureTrace, traceOf } from './trace/trace.js';
import { finishRotation, loadOrCreateKey, logOrigin } from './trace/keys.js';
import type { LogJobData } from './trace/log-job.js';
import { PeerKeys } from './trace/peer-keys.js';
import { OriginCheck } from './trace/origin-check.js';
import { ControlIntake } from './gdpr/control-intake.js';
import { myDataCommand } from './gdpr/my-data.js';
import { Disclosures } from './gdpr/disclosures.js';
import type { GdprWorkerData } from './jobs/gdpr-worker.js';
import { ERASURES_RECEIVED } from './gdpr/apply-erasures.js';
import { inboundLimits } from './xmpp/bounded-parser.js';
import { PoisonRows } from './transfer/poison.js';
import { FileIdentities } from './store/file-identity.js';
import { AnswerBudget } from './router/answer-budget.js';

/** The shared pool's default size: a thread per core, up to this (store writes share one SQLite writer anyway). */
const MAX_DEFAULT_SHARED_WORKERS = 8;

export interface GatewayEvents {
  fatal: [err: FatalLinkError];
  /** A database file was removed or replaced under the running gateway (store/file-identity.ts). */
  'database-lost': [path: string];
}

/** When this gateway started, and its process (with the pid, processStart names the process): one value for the heartbeat row, the metrics and the admin commands. */
export interface Started {
  at: number;
  pidStart: number | null;
}

export class Gateway extends EventEmitter<GatewayEvents> {
  private heartbeat: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private readonly files: FileIdentities;
  private lost = false;

  constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly db: Db,
    readonly apps: Apps,
    readonly link: Link,
    readonly router: Router,
    readonly presence: PresenceService,
    readonly delivery: SendBridge,
    readonly entitlements: Entitlements,
    private readonly pool: WorkerPool,
    readonly authz: Authorizer,
    readonly feed: ChangeFeed,
    private readonly consent: { effects: ConsentEffects; expiry: ConsentExpiry },
    readonly observers: Observers,
    private readonly started: Started,
  ) {
    super();
    this.outbox = new Outbox(db);
    this.files = new FileIdentities([config.database.path, storeDatabasePath(config.database.path)]);
  }

  readonly outbox: Outbox;
  /** The metrics listener, when `metrics.listen` is set. */
  observe: ObserveService | null = null;

  /** What each app's worker is doing. */
  appStates(): Record<string, AppState> {
    return Object.fromEntries(this.apps.all().map((h) => [h.app.name, h.status]));
  }

  /** Graceful stop: refuse new requests, say goodbye, close the stream, stop the workers. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.router.accepting = false;
      if (this.heartbeat) clearInterval(this.heartbeat);
      if (this.link.isOnline) this.presence.goodbye(this.apps.all().map((a) => a.app.name));
      await this.link.stop();
      this.feed.stop();
      this.consent.effects.stop();
      await this.consent.expiry.stop();
      await Promise.all([this.apps.stop(), this.delivery.stop(), this.pool.stop('housekeeping'), this.pool.stop('purge'), this.pool.stop('gdpr')]);
      // The log last: what the others recorded is written, then sealed under a final checkpoint.
      traceOf(this.db).flush();
      await this.pool.stop('trace');
      await Promise.all([this.pool.stop('checkpoint'), this.observe?.stop()]);
      clearRuntimeStatus(this.db, process.pid);
      this.db.close();
      this.log.info('stopped');
    })();
    return this.stopping;
  }

  /**
   * Queues messages in the outbox and wakes the send job: for producers living in this process
   * (benchmarks, embedding). Adapters produce through their extract jobs instead.
   */
  queue(messages: NewOutboxMessage[]): number[] {
    const ids = this.outbox.enqueue(messages);
    this.delivery.wake([...new Set(messages.map((m) => m.destination))]);
    return ids;
  }

  /** Writes the heartbeat row now. Never throws: another thread may hold the write lock for a while. */
  writeStatus(): void {
    const lost = this.files.changed();
    if (lost) {
      if (!this.lost) this.emit('database-lost', lost);
      this.lost = true;
      return;
    }
    try {
      this.writeStatusRow();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not write the status heartbeat; will try again');
    }
  }

  private writeStatusRow(): void {
    writeRuntimeStatus(this.db, {
      ...startingStatus(this.config, this.started),
      linkState: this.link.state,
      linkSince: this.link.onlineSince,
      server: this.link.server,
      serverKind: this.link.serverKind,
      linkError: this.link.lastFailure,
      apps: this.appStates(),
      appErrors: Object.fromEntries(this.apps.all().flatMap((h) => (h.startError && h.status === 'starting' ? [[h.app.name, h.startError]] : []))),
    });
  }

  startHeartbeat(): void {
    this.writeStatusRow();
    this.heartbeat = setInterval(() => this.writeStatus(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }
}

export async function startGateway(config: Config, log: Logger): Promise<Gateway> {
  const db = openDatabase(config.database.path, { synchronous: config.database.synchronous, noCheckpoints: true });
  // Before anything reads or writes the rest: a second gateway on these files would send every
  // message again, and the two would overwrite each other's heartbeat, which restore relies on.
  const started: Started = { at: Date.now(), pidStart: processStart(process.pid) };
  try {
    claimRuntimeStatus(db, config.database.path, startingStatus(config, started));
  } catch (err) {
    db.close();
    throw err;
  }
  configureTrace(db, { enabled: config.trace.enabled, nonBlocking: true });
  const origin = logOrigin(config.link.domain);
  if (config.trace.enabled) {
    // A key rotation cut short by a crash: finished if the log names the new key, else undone.
    const rotation = finishRotation(db, config.trace.key_file, origin);
    if (rotation) log.warn({ keyFile: config.trace.key_file }, rotation === 'finished' ? 'finished a key rotation cut short: the log names the new key' : 'discarded the new key of a rotation cut short before the log named it');
  }
  const key = config.trace.enabled ? loadOrCreateKey(config.trace.key_file, origin) : null;
  if (key?.created) log.info({ keyFile: config.trace.key_file, key: key.signer.encoded }, 'created the signing key of the transparency log');
  // Started before anything loads what it keeps fresh: a change committed meanwhile is delivered too.
  const feed = new ChangeFeed(db, log);
  feed.start();
  const registry = new AppRegistry(db);
  const pool = new WorkerPool(log);
  const domain = config.link.domain;
  const callTimeoutMs = config.adapters.timeout_seconds * 1000;
  const apps = new Apps(
    registry,
    pool,
    {
      workerFile: join(DIST_ROOT, 'component/workers/app-worker.js'),
      domain,
      worker: {
        domain,
        dbPath: config.database.path,
        synchronous: config.database.synchronous,
        logLevel: config.log.level,
        callTimeoutMs,
        trace: config.trace.enabled,
        retry: {
          initialMs: config.delivery.retry_initial_ms,
          maxMs: config.delivery.retry_max_seconds * 1000,
          maxAttempts: config.delivery.max_attempts,
        },
      },
      callTimeoutMs,
      sharedWorkers: config.adapters.shared_workers ?? Math.min(availableParallelism(), MAX_DEFAULT_SHARED_WORKERS),
      heapMb: config.adapters.worker_heap_mb,
      onSettled: (app, done, dead) => intake.settled(app, done, dead),
      onLostWhileApplying: (app, id) => poison.lostWhileApplying(app, id),
      onIq: (host, request) => iqs.request(host, request),
      // Only with metrics on: the call path then wraps each call to time it.
      observer: config.metrics.listen ? { adapterCall: (...a) => observers.adapterCall(...a) } : undefined,
    },
    log,
  );
  const link = new Link({
    servers: config.servers,
    server: config.link.server,
    maxStanzaBytes: config.link.max_stanza_bytes,
    inbound: inboundLimits(config.link.max_inbound_stanza_bytes),
    domain,
    secret: config.secret,
    keepaliveMs: config.link.keepalive_seconds * 1000,
    pingTimeoutMs: config.link.ping_timeout_seconds * 1000,
    reconnectInitialMs: config.link.reconnect_initial_ms,
    reconnectMaxMs: config.link.reconnect_max_ms,
    log,
  });
  const send = (el: Parameters<Link['send']>[0]) => link.send(el);
  const presence = new PresenceService({ db, send, domain, maxPerDomain: config.presence.max_subscribers_per_domain, log });
  const iqs = new AppIqs(send);
  const entitlements = new Entitlements(db, domain);
  const peerKeys = new PeerKeys({ request: (iq, timeoutMs) => link.request(iq, timeoutMs), remembered: new PeerSigners(db) });
  const inbox = new Inbox(db);
  const poison = new PoisonRows({
    inbox,
    retry: { initialMs: config.delivery.retry_initial_ms, maxMs: config.delivery.retry_max_seconds * 1000 },
    log,
    dead: (app) => intake.settled(app, 0, 1),
  });
  const intake = new Intake({
    db,
    inbox,
    entitlements,
    send,
    maxPendingPerApp: config.inbox.max_pending_per_app,
    maxPendingPerSource: config.inbox.max_pending_per_source,
    repeats: { burst: config.inbox.repeats_burst, perSecond: config.inbox.repeats_per_second },
    log,
    trace: traceOf(db),
    signer: key?.signer ?? null,
    origins: key ? new OriginCheck(peerKeys) : null,
  });
  const delivery = new SendBridge(
    link,
    pool,
    instanceToken(db),
    {
      dbPath: config.database.path,
      synchronous: config.database.synchronous,
      logLevel: config.log.level,
      domain,
      delivery: {
        bounceWindowMs: config.delivery.bounce_window_ms,
        receiptTimeoutMs: config.delivery.receipt_timeout_seconds * 1000,
        window: config.delivery.window,
        retryInitialMs: config.delivery.retry_initial_ms,
        retryMaxMs: config.delivery.retry_max_seconds * 1000,
        maxAttempts: config.delivery.max_attempts,
        pushPerSecond: config.delivery.push_messages_per_second,
      },
      trace: key ? { keyFile: config.trace.key_file, origin } : null,
    },
    log,
    key ? peerKeys : null,
  );
  const policy = consentPolicy(config.consent);
  const consents = new ConsentService(db, policy);
  const authz = new Authorizer(consents.store, log, undefined, consents.parties);
  const consumers = new ConsumerStore(db);
  const answers = new AnswerBudget(config.quoalise.answer_bytes_per_domain, (cb) => link.whenWritten(cb));
  const commands = new QuoaliseCommands({
    authz,
    consumers,
    maxRecords: config.quoalise.max_records,
    maxCatalogueSeries: config.quoalise.max_catalogue_series,
    maxStanzaBytes: () => link.maxStanzaBytes,
    answers,
    limits: commandLimits(config.quoalise),
    maxSubscriptionsPerRequester: config.quoalise.max_subscriptions_per_requester,
    maxSubscriptionsPerDomain: config.quoalise.max_subscriptions_per_domain,
    trace: traceOf(db),
    onConsentGone: (app, series, reason) => {
      const n = consents.store.invalidateSeries(app, series, `the app's system says the authorization is gone: ${reason}`, { id: 'gateway', role: 'gateway', evidence: { app, series } });
      if (n > 0) {
        log.warn({ app, series, consents: n }, 'consents invalidated: the authorization is gone at the source');
        effects.poke();
      }
    },
  });
  const expiry = new ConsentExpiry(pool, { dbPath: config.database.path }, log);
  const effects = new ConsentEffects({
    db,
    domain,
    store: consents.store,
    parties: consents.parties,
    authz,
    consumers,
    dropQueued: (ids, reason) => delivery.drop(ids, reason),
    send: (el) => link.send(el),
    whenSent: (cb) => link.whenWritten(cb),
    isOnline: () => link.isOnline,
    planExpiry: (end) => expiry.plan(end),
    log,
  });
  const consent = new ConsentCommands({
    service: consents,
    policy,
    limits: commandLimits(config.quoalise),
    extra: [myDataCommand({ parties: consents.parties, consents: consents.store, disclosures: new Disclosures(db) })],
    // The next request must see the change, and the people concerned must hear of it, now.
    changed: () => {
      authz.refresh();
      effects.poke();
    },
  });
  const admin = new AdminCommands({
    domain,
    admins: config.admins,
    db,
    apps,
    consents: consents.store,
    parties: consents.parties,
    version: VERSION,
    startedAt: started.at,
    linkState: () => link.state,
    requeued: (direction, app, peer) => (direction === 'outbound' ? delivery.wake([peer]) : apps.get(app)?.notifyInbox()),
    limits: commandLimits(config.quoalise),
  });
  const domainIq = domainHandlers({ domain, apps, version: VERSION, admin, ...(key ? { trace: { origin, keys: [key.signer.encoded], signs: ['receipts', 'origins'] } } : {}) });
  const metrics = config.metrics.listen ? new GatewayMetrics({ link, apps, commandNodes: [...commands.nodes(), ...consent.nodes(), ...admin.nodes()], startedAt: started.at }) : null;
  const observers: Observers = metrics ?? NO_METRICS;
  // Erasure requests from the sources of our apps' data, and recipients' confirmations of ours.
  const control = new ControlIntake({
    db,
    entitlements,
    send,
    log,
    trace: traceOf(db),
    signer: key?.signer ?? null,
    origins: key ? new OriginCheck(peerKeys) : null,
    received: () => pool.post('gdpr', ERASURES_RECEIVED),
  });
  const router = new Router({
    domain,
    apps,
    presence,
    intake,
    control,
    delivery,
    commands,
    consent,
    iqs,
    domainIq,
    send,
    maxStanzaBytes: () => link.maxStanzaBytes,
    observer: observers,
    log,
  });
  const gw = new Gateway(config, log, db, apps, link, router, presence, delivery, entitlements, pool, authz, feed, { effects, expiry }, observers, started);
  watchChanges(feed, { domain, apps, entitlements, authz, delivery, effects });
  delivery.on('delivered', (destination, ids, latenciesMs) => {
    observers.delivered(destination, ids.length);
    for (const ms of latenciesMs) observers.observeConfirmation(destination, ms);
  });

  apps.on('added', (host) => {
    if (link.isOnline) presence.announce([host.app.name]);
  });
  apps.on('removed', (host) => {
    if (link.isOnline) presence.goodbye([host.app.name]);
    presence.drop(host.app.name);
  });
  link.on('stanza', (el) => router.route(el));
  link.on('online', () => {
    answers.reset();
    presence.announce(apps.all().map((a) => a.app.name));
    gw.writeStatus();
    effects.linkUp();
  });
  // Why the link is down shows in `fedgate status` at once, not at the next heartbeat.
  link.on('state', (state) => {
    if (state === 'offline') gw.writeStatus();
  });
  link.on('fatal', (err) => gw.emit('fatal', err));

  try {
    effects.start();
    await Promise.all([apps.start(), delivery.start()]);
    const housekeeping: HousekeepingData = { dbPath: config.database.path, keepDoneMs: config.inbox.keep_done_days * 86_400_000 };
    await pool.schedule('housekeeping', join(DIST_ROOT, 'component/jobs/housekeeping.js'), 3_600_000, housekeeping);
    const purgeJob: PurgeJobData = { dbPath: config.database.path, domain, logLevel: config.log.level };
    await pool.schedule('purge', join(DIST_ROOT, 'component/jobs/purge-job.js'), 3_600_000, purgeJob);
    await pool.supervise('checkpoint', join(DIST_ROOT, 'component/jobs/checkpoint-worker.js'), { dbPath: config.database.path, everyMs: 1000 });
    const gdpr: GdprWorkerData = { dbPath: config.database.path, domain, logLevel: config.log.level, trace: config.trace.enabled, synchronous: config.database.synchronous, everyMs: 2000 };
    await pool.supervise('gdpr', join(DIST_ROOT, 'component/jobs/gdpr-worker.js'), gdpr);
    if (key) {
      const job: LogJobData = { dbPath: config.database.path, keyFile: config.trace.key_file, origin, checkpointMs: config.trace.checkpoint_seconds * 1000, logLevel: config.log.level };
      await pool.supervise('trace', join(DIST_ROOT, 'component/trace/log-job.js'), job);
    }
    pool.on('message', (name, m) => {
      if (name === 'housekeeping' && (m as { purged?: number }).purged) log.info({ purged: (m as { purged: number }).purged }, 'forgot old applied inbox rows');
      if (name === 'housekeeping' && (m as { clockHeld?: boolean }).clockHeld) log.warn('kept applied inbox rows past inbox.keep_done_days: the wall clock moved on by more than a day since the last purge (see the purge held)');
      if (name === 'housekeeping' && (m as { orphaned?: number }).orphaned) log.warn({ rows: (m as { orphaned: number }).orphaned }, 'moved the unapplied inbox rows of removed apps to the dead letters');
      if (name === EXPIRY_JOB) {
        if ((m as { held?: boolean }).held) expiry.held();
        expiry.ran();
        effects.poke();
      }
      if (name === 'purge' && (m as { t?: string }).t === 'purged') log.info({ report: (m as { report: PurgeReport }).report }, describePurge((m as { report: PurgeReport }).report));
    });
    if (metrics && config.metrics.listen) {
      gw.observe = new ObserveService(pool, metrics, () => ({ link: link.state, apps: gw.appStates() }));
      await gw.observe.start({
        dbPath: config.database.path,
        listen: config.metrics.listen,
        domain,
        files: { fedgate: config.database.path, store: storeDatabasePath(config.database.path) },
      });
    }
    gw.startHeartbeat();
    link.start();
  } catch (err) {
    // Whatever started (workers, the metrics listener) stops: a failed start leaves nothing running.
    await gw.stop().catch(() => {});
    throw err;
  }
  log.info({ domain, apps: apps.all().length, version: VERSION }, 'fedgate started');
  return gw;
}

/**
 * The change feed's routes: each change reaches exactly what it concerns — the registry's mirror, the
 * entitlements, the consent checks, the worker of the app whose consumers, data or inbox changed.
 */
function watchChanges(
  feed: ChangeFeed,
  to: { domain: string; apps: Apps; entitlements: Entitlements; authz: Authorizer; delivery: SendBridge; effects: ConsentEffects },
): void {
  const { domain, apps, entitlements, authz, delivery, effects } = to;
  /** The local app a bare JID names, if any. */
  const localApp = (jid: string) => (jid.endsWith(`@${domain}`) ? apps.get(jid.slice(0, -domain.length - 1)) : undefined);
  feed.on('apps', (changes) => apps.changed(changes.map((c) => c.name)));
  feed.on('consumers', (changes) => {
    entitlements.update(changes.map((c) => c.id));
    // The source app's extract jobs, and the destination app's thread (its receive job checks senders again).
    const byApp = new Map<AppHost, number[]>();
    for (const c of changes) {
      for (const host of new Set([localApp(c.source), localApp(c.destination)])) if (host) byApp.set(host, [...(byApp.get(host) ?? []), c.id]);
    }
    for (const [host, ids] of byApp) host.consumersChanged(ids);
  });
  // Consent records (and grants): the checks on this thread and the send job's read what changed (by
  // rev); the effects (notifications, subscriptions stopped) follow. App workers read the records of
  // a subscriber at each check, so they need no telling.
  feed.on('consents', () => {
    authz.refresh();
    delivery.consentsChanged();
    effects.poke();
  });
  feed.on('data', (changes) => {
    for (const c of changes) apps.get(c.app)?.dataChanged(c.series);
  });
  feed.on('inbox', (changes) => {
    for (const c of changes) apps.get(c.app)?.notifyInbox();
  });
}

/** The heartbeat row of a gateway whose link and apps are not up yet; each heartbeat writes it over with what it knows then. */
function startingStatus(config: Config, started: Started): RuntimeStatus {
  return {
    pid: process.pid,
    pidStart: started.pidStart,
    startedAt: started.at,
    linkState: 'offline',
    linkSince: null,
    heartbeatAt: Date.now(),
    domain: config.link.domain,
    server: null,
    serverKind: null,
    linkError: null,
    apps: {},
    appErrors: {},
    metricsListen: config.metrics.listen ?? null,
  };
}
