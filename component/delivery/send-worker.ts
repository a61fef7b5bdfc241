/**
 * The send job, on its own worker thread: the shell around the lane state machine (lane.ts). It
 * reads outbox rows for the lanes that want them, checks that each may still leave, hands the
 * stanzas to the main thread (which owns the XMPP socket), feeds the lanes what the network says,
 * and carries out their actions in SQLite: delete what is delivered, count failures, dead-letter,
 * save the lanes' records. Event-driven: woken by writers of the outbox (BroadcastChannel), by the
 * main thread, by its own timers, and within a second by the CLI's retry requests.
 *
 * Memory stays bounded whatever the backlog: at most `window` rows per destination are read ahead.
 */
import { parentPort, workerData, BroadcastChannel } from 'node:worker_threads';
import { createWorkerLogger } from '../log/logger.js';
import { openDatabase } from '../store/database.js';
import { Outbox, instanceToken, stanzaIdOf, type OutboxRow } from './outbox.js';
import { LanesTable } from './lanes-table.js';
import { admit, holdWithinRetryMax, newLane, nextWake, step, wants, type Lane, type LaneAction, type LaneConfig, type LaneEvent, type LaneRecord, type PeerMode } from './lane.js';
import { dataMessage } from './stanzas.js';
import { SendPolicy } from './send-policy.js';
import { TokenBucket } from '../timing/token-bucket.js';
import { OUTBOX_CHANNEL, type FromSendWorker, type SendWorkerData, type ToSendWorker } from './protocol.js';
import { configureTrace } from '../trace/trace.js';
import { loadOrCreateKey } from '../trace/keys.js';
import { SenderTrace } from '../trace/sender.js';
import { bareJid } from '../xmpp/jid.js';
import { SignaturePacer } from '../trace/pacer.js';
import { describeSqliteError, isStorageFault } from '../store/sqlite-errors.js';
import { ClockSteps, followStep } from './clock-step.js';

const data = workerData as SendWorkerData;
const cfg: LaneConfig = { ...data.delivery, evidenceSpanMs: Math.max(3000, data.delivery.bounceWindowMs) };
const port = parentPort!;
const log = createWorkerLogger(data.logLevel, 'send');
const db = openDatabase(data.dbPath, { migrate: false, synchronous: data.synchronous, noCheckpoints: true });
const outbox = new Outbox(db);
const table = new LanesTable(db);
const policy = new SendPolicy(db, data.domain);
const instance = instanceToken(db);
configureTrace(db, { enabled: data.trace !== null });
/** Proofs of origin, receipts checked, deliveries logged (component/trace/sender.ts). */
const traced = new SenderTrace(db, data.trace ? loadOrCreateKey(data.trace.keyFile, data.trace.origin).signer : null, (id) => stanzaIdOf(instance, id));

const lanes = new Map<string, Lane>();
/** The lane of each row sent (checked against the lane's own in-flight set on use). */
const sentBy = new Map<number, Lane>();
let online = false;
let paused = false;
let timer: NodeJS.Timeout | null = null;
let pumping = false;
let pumpAgain = false;

let outgoing: FromSendWorker[] = [];
/** Delivered ids (and their confirmation times) per destination, reported once per turn. */
let delivered = new Map<string, { ids: number[]; latenciesMs: number[] }>();
function post(m: FromSendWorker): void {
  outgoing.push(m);
  if (outgoing.length === 1 && delivered.size === 0) queueMicrotask(flushPosts);
}
function reportDelivered(destination: string, ids: number[], sentAt: number[], now = Date.now()): void {
  if (outgoing.length === 0 && delivered.size === 0) queueMicrotask(flushPosts);
  let d = delivered.get(destination);
  if (!d) delivered.set(destination, (d = { ids: [], latenciesMs: [] }));
  d.ids.push(...ids);
  for (const t of sentAt) d.latenciesMs.push(now - t);
}
function flushPosts(): void {
  const batch = outgoing;
  for (const [destination, d] of delivered) batch.push({ t: 'delivered', destination, ...d });
  outgoing = [];
  delivered = new Map();
  port.postMessage(batch);
}

function lane(destination: string): Lane {
  let l = lanes.get(destination);
  if (!l) lanes.set(destination, (l = newLane(withinRetryMax(table.record(destination)))));
  return l;
}

/** A stored hold clamped to the longest retry delay (lane.ts, holdWithinRetryMax), and said. */
function withinRetryMax(record: LaneRecord, now = Date.now()): LaneRecord {
  const clamped = holdWithinRetryMax(record, now, cfg);
  if (clamped !== record) log.warn({ destination: record.destination, heldUntil: new Date(record.heldUntil).toISOString() }, 'a lane was held past the longest retry delay (a clock that was ahead?): held until the longest delay from now instead');
  return clamped;
}

/**
 * Delivered rows leave the outbox in batches (one transaction every few milliseconds rather than one
 * per confirmation: fewer write locks for the other threads to wait on). Until then they are
 * remembered, so that a rewind does not send them again; after a crash in between they are sent
 * again and the receiver recognises them.
 */
const deliveredNotDeleted = new Set<number>();
let deleteTimer: NodeJS.Timeout | null = null;

function deleteDelivered(): void {
  if (deleteTimer) clearTimeout(deleteTimer);
  deleteTimer = null;
  if (deliveredNotDeleted.size === 0) return;
  const ids = [...deliveredNotDeleted];
  // The log's entries of these deliveries commit with their deletion.
  try {
    db.transaction(() => {
      outbox.confirm(ids);
      traced.recordDelivered(ids);
    })();
  } catch (err) {
    traced.rolledBack();
    if (!isStorageFault(err)) throw err;
    // A full or failing disk: the rows stay remembered (never sent again from here) until it lets us.
    storageFault(err, 'deleting delivered messages');
    deleteTimer = setTimeout(deleteDelivered, STORAGE_RETRY_MS);
    return;
  }
  traced.committed(ids);
  deliveredNotDeleted.clear();
}

/**
 * A full or failing disk refused a write of this thread's bookkeeping: said once every 10 s at most per
 * kind of write, and tried again later. Ending the thread instead (as before) only restarted it in a
 * loop, each time sending its windows again, with a log line that did not say why.
 */
const STORAGE_RETRY_MS = 1000;
/** One budget per kind of write: a fault saving the lanes at every turn must not hide another write's. */
const storageLogs = new Map<string, TokenBucket>();
function storageFault(err: unknown, what: string): void {
  let said = storageLogs.get(what);
  if (!said) storageLogs.set(what, (said = new TokenBucket(0.1, Date.now())));
  if (said.take(Date.now())) log.warn({ err: describeSqliteError(err as Error & { code: string }, data.dbPath) }, `${what} failed; will try again`);
}

/**
 * A failed delivery counted on its row (attempts, last error): bookkeeping only — the lane keeps its own
 * count and hold — so a full disk skips it rather than end the thread (which restarted in a loop, each
 * time sending its windows again: fifth crash campaign).
 */
function countFailure(id: number, reason: string): void {
  try {
    outbox.fail(id, reason);
  } catch (err) {
    if (!isStorageFault(err)) throw err;
    storageFault(err, 'counting a failed delivery');
  }
}

/**
 * Rows the lanes gave up on (or that may no longer leave) whose move to the dead letters a full or
 * failing disk refused: remembered with their reason, never sent again from here, and moved when the
 * disk lets us. After a restart meanwhile, the lane decides again from the stored row.
 */
const deadNotMoved = new Map<number, { destination: string; reason: string }>();
let deadTimer: NodeJS.Timeout | null = null;

function deadLetter(id: number, destination: string, reason: string): void {
  deadNotMoved.set(id, { destination, reason });
  moveDead();
}

function moveDead(): void {
  if (deadTimer) clearTimeout(deadTimer);
  deadTimer = null;
  for (const [id, { destination, reason }] of deadNotMoved) {
    try {
      outbox.kill(id, reason);
    } catch (err) {
      if (!isStorageFault(err)) throw err;
      storageFault(err, 'moving a message to the dead letters');
      deadTimer = setTimeout(moveDead, STORAGE_RETRY_MS);
      return;
    }
    deadNotMoved.delete(id);
    post({ t: 'dead', id, destination, reason });
  }
}

/** Stanzas from others than the destination are ignored; their log lines are rate-limited. */
const ignoredLog = new TokenBucket(1, Date.now());
let ignoredSince = 0;
/** So are confirmations that do not hold. */
const unprovenLog = new TokenBucket(1, Date.now());
let unprovenSince = 0;

function act(l: Lane, actions: LaneAction[]): void {
  for (const x of actions) {
    switch (x.a) {
      case 'delivered':
        for (const id of x.ids) {
          sentBy.delete(id);
          deliveredNotDeleted.add(id);
        }
        if (deliveredNotDeleted.size >= 1000) deleteDelivered();
        else deleteTimer ??= setTimeout(deleteDelivered, 20);
        reportDelivered(l.destination, x.ids, x.sentAt);
        break;
      case 'failed':
        sentBy.delete(x.id);
        traced.forget(x.id);
        countFailure(x.id, x.reason);
        log.debug({ id: x.id, destination: l.destination, reason: x.reason, attempts: l.attempts }, 'delivery failed, will retry');
        break;
      case 'dead':
        sentBy.delete(x.id);
        traced.forget(x.id);
        deadLetter(x.id, l.destination, x.reason);
        break;
      case 'warn':
        log.warn({ destination: l.destination }, x.message);
        break;
      case 'unproven':
        unprovenSince++;
        if (unprovenLog.take(Date.now())) {
          log.warn({ destination: l.destination, outboxId: x.id, count: unprovenSince }, `a confirmation from ${l.destination} does not hold (${x.reason}); the message waits for one that does, or for its timeout`);
          unprovenSince = 0;
        }
        break;
      case 'ignored':
        ignoredSince++;
        if (ignoredLog.take(Date.now())) {
          log.warn({ from: x.from, destination: l.destination, ignored: ignoredSince }, `ignored a ${x.what} from ${x.from}: only ${l.destination} may confirm or bounce it`);
          ignoredSince = 0;
        }
        break;
    }
  }
}

function apply(l: Lane, ev: LaneEvent, now = Date.now()): void {
  act(l, step(l, ev, now, cfg));
}

/**
 * Rows read per lane and per read: what the window has room for, no more. A full window reads
 * nothing (every confirmation pumps: reading rows that cannot leave cost a third of this thread's
 * time in bench:relay); rows skipped as already in flight are made up by fill's next read.
 */
function readSize(l: Lane): number {
  return Math.max(0, cfg.window - l.inflight.size);
}

/** Lanes keep wall-clock times: when the clock steps, they move with it (clock-step.ts). */
const clock = new ClockSteps();
function followClock(): void {
  const stepMs = clock.take();
  if (stepMs === 0) return;
  for (const l of lanes.values()) followStep(l, stepMs);
  log.warn({ stepMs }, 'the wall clock stepped: holds and confirmation deadlines moved with it');
}

/** Sends what the windows, holds and throttles allow, then sets the timer for the next thing to do. */
function pump(): void {
  followClock();
  if (pumping) {
    pumpAgain = true;
    return;
  }
  pumping = true;
  try {
    do {
      pumpAgain = false;
      pumpOnce();
    } while (pumpAgain);
    saveLanes();
  } finally {
    pumping = false;
  }
  schedule();
}

function pumpOnce(): void {
  if (!online || paused) return;
  const now = Date.now();
  const leaving: Leaving[] = [];
  for (const l of lanes.values()) {
    const want = wants(l, now);
    if (want === 'probe') post({ t: 'probe', destination: l.destination });
    if (want !== 'send') continue;
    fill(l, now, leaving);
  }
  if (leaving.length === 0) return;
  const signed = data.trace ? leaving.filter((x) => x.mode === 'acks') : [];
  if (signed.length < leaving.length) send(leaving.filter((x) => !signed.includes(x)), false);
  if (signed.length) origins.add(signed);
}

/** Hands rows to the link; `signed`: with proofs of origin, one signature for all. */
function send(leaving: readonly Leaving[], signed: boolean): void {
  // With the log off there is nothing to record or sign.
  const proofs = data.trace ? traced.prepare(leaving.map(({ row }) => ({ ...row, signed }))) : new Map<number, string>();
  post({ t: 'send', items: leaving.map(({ row, mode }) => ({ id: row.id, xml: dataMessage(row, mode, instance, proofs.get(row.id)) })) });
}

/**
 * Messages to fedgate peers wait a moment to share their burst's signature (trace/pacer.ts), in
 * batches of at most a quarter of the window, so that the window is never one batch in ping-pong.
 */
const origins = new SignaturePacer<Leaving>((rows) => send(rows, true), 1, 10, undefined, Math.max(16, Math.ceil(cfg.window / 4)));

interface Leaving {
  row: OutboxRow;
  mode: PeerMode;
}

function fill(l: Lane, now: number, items: Leaving[]): void {
  for (let reads = 0; reads < 4; reads++) {
    const limit = readSize(l);
    if (limit === 0) return;
    const rows = outbox.laneAfter(l.destination, l.cursor, limit);
    if (rows.length < limit) l.drained = true;
    for (const row of rows) {
      const verdict = policy.mayLeave(row, now);
      if (verdict !== null) {
        // No longer covered (consent withdrawn, grant gone): moved aside with the reason, never sent.
        l.cursor = Math.max(l.cursor, row.id);
        deadLetter(row.id, l.destination, `not sent: ${verdict}`);
        continue;
      }
      // Delivered, or dead-lettered, and not yet recorded so (a full disk): never sent again from here.
      const r = admit(l, row, now, cfg, deliveredNotDeleted.has(row.id) || deadNotMoved.has(row.id));
      if (r === 'stop') {
        l.drained = false;
        return;
      }
      if (r === 'send') {
        sentBy.set(row.id, l);
        items.push({ row, mode: l.mode as PeerMode });
      }
    }
    if (l.drained || l.inflight.size >= cfg.window) return;
  }
}

/**
 * Rows whose consent ended (component/consent/effects.ts): moved aside now, with the reason, unless
 * already on their way (in flight, or delivered and not yet deleted). The send-time check would stop
 * them anyway; this makes the effect visible at once rather than at the lane's next turn.
 */
function dropQueued(ids: number[], reason: string): void {
  for (const id of ids) {
    const l = sentBy.get(id);
    if ((l && l.inflight.has(id)) || deliveredNotDeleted.has(id) || deadNotMoved.has(id)) continue;
    const row = outbox.get(id);
    if (!row) continue;
    deadLetter(id, row.destination, reason);
  }
}

function saveLanes(): void {
  const dirty: Lane[] = [];
  for (const l of lanes.values()) if (l.dirty) dirty.push(l);
  if (dirty.length === 0) return;
  try {
    table.saveAll(dirty);
  } catch (err) {
    if (!isStorageFault(err)) throw err;
    // They stay dirty: saved by a later turn.
    storageFault(err, 'saving the lanes');
    return;
  }
  for (const l of dirty) l.dirty = false;
}

/** The timer fires at the earliest of: a held lane becoming due, a window or a confirmation due. */
function schedule(): void {
  if (timer) clearTimeout(timer);
  timer = null;
  if (!online) return;
  const now = Date.now();
  let next = Infinity;
  for (const l of lanes.values()) next = Math.min(next, nextWake(l, now, cfg));
  if (next === Infinity) return;
  timer = setTimeout(onTimer, Math.max(1, next - now));
}

function onTimer(): void {
  timer = null;
  followClock();
  const now = Date.now();
  for (const l of lanes.values()) if (l.inflight.size) apply(l, { t: 'tick' }, now);
  pump();
}

/** The lane a confirmation or bounce of row `id` belongs to, if that row is in flight. */
function laneOf(id: number): Lane | undefined {
  const l = sentBy.get(id);
  if (l && !l.inflight.has(id)) {
    sentBy.delete(id);
    return undefined;
  }
  return l;
}

function onLink(isOnline: boolean): void {
  online = isOnline;
  if (!isOnline) {
    // Outcomes of what was in flight are unknown now: send it again after reconnecting.
    for (const l of lanes.values()) apply(l, { t: 'link-down' });
    sentBy.clear();
  }
}

port.on('message', (batch: ToSendWorker[] | 'cancel') => {
  if (batch === 'cancel') {
    // bree's stop(): record what was delivered and what was learnt, then end cleanly (on a full disk,
    // what could not be recorded is sent again after the restart, and the receiver recognises it).
    deleteDelivered();
    moveDead();
    saveLanes();
    db.close();
    process.exit(0);
  }
  followClock();
  const now = Date.now();
  for (const m of batch) {
    switch (m.t) {
      case 'link':
        onLink(m.online);
        break;
      case 'confirmed': {
        // A receiver that signs its receipts must have signed these: a receipt that does not hold is no
        // confirmation (lane.ts 'unproven'); one it signed for another payload is a failed delivery.
        const mine = m.ids.filter((id) => {
          const l = laneOf(id);
          return l && bareJid(m.from) === bareJid(l.destination);
        });
        const verdicts = traced.judge(mine, m.receipt);
        for (const id of m.ids) {
          const l = laneOf(id);
          if (!l) continue;
          const v = verdicts.get(id);
          if (v?.unproven) apply(l, { t: 'unproven', from: m.from, id, reason: v.unproven }, now);
          else if (v?.failed) apply(l, { t: 'bounced', from: m.from, id, condition: 'undefined-condition', text: v.failed }, now);
          else apply(l, { t: 'confirmed', from: m.from, id }, now);
        }
        break;
      }
      case 'bounced': {
        const l = laneOf(m.id);
        if (l) apply(l, { t: 'bounced', from: m.from, id: m.id, condition: m.condition, text: m.text }, now);
        break;
      }
      case 'probed': {
        const l = lanes.get(m.destination);
        if (l) apply(l, { t: 'probed', answer: m.answer }, now);
        break;
      }
      case 'flow':
        paused = m.paused;
        break;
      case 'wake':
        for (const d of m.destinations) lane(d).drained = false;
        break;
      case 'drop':
        dropQueued(m.ids, m.reason);
        break;
      case 'consents':
        policy.consentsChanged();
        break;
    }
  }
  pump();
});

// Writers in other threads (extract jobs in app workers) announce new rows with their destinations.
const channel = new BroadcastChannel(OUTBOX_CHANNEL);
channel.onmessage = (ev: unknown) => {
  for (const d of (ev as { data: string[] }).data) lane(d).drained = false;
  pump();
};

// The CLI (another process) asks for retries by stamping the lanes table: acted on within RETRY_POLL_MS.
const RETRY_POLL_MS = 250;
setInterval(() => {
  let destinations: string[];
  try {
    destinations = table.takeRetryRequests();
  } catch (err) {
    if (!isStorageFault(err)) throw err;
    // The requests stay stamped: taken at a later poll.
    storageFault(err, 'taking retry requests');
    return;
  }
  if (destinations.length === 0) return;
  const now = Date.now();
  for (const d of destinations) apply(lane(d), { t: 'retry-now' }, now);
  log.info({ destinations }, 'retry requested by an operator');
  pump();
}, RETRY_POLL_MS).unref();

// A safety net for rows written by another process without a retry request: every lane looks again now and then.
setInterval(() => {
  for (const l of lanes.values()) l.drained = false;
  pump();
}, 30_000).unref();

for (const r of table.all()) lanes.set(r.destination, newLane(r));
