/**
 * The send job, on its own worker thread: drains the outbox into the XMPP link (owned by the main
 * thread) as soon as rows appear, keeps per-destination order, waits for confirmations, retries with
 * backoff and dead-letters what cannot be delivered. Event-driven: woken by writers of the outbox
 * (BroadcastChannel), by confirmations and by its own timers — never by polling every minute.
 *
 * Memory stays bounded whatever the backlog: at most `window` rows per destination are read ahead.
 */
import { parentPort, workerData, BroadcastChannel } from 'node:worker_threads';
import pino from 'pino';
import { openDatabase } from '../store/database.js';
import { Outbox, instanceToken, stanzaIdOf, type OutboxRow } from '../transfer/outbox.js';
import { retryDelayMs } from '../timing/backoff.js';
import { escapeAttr } from '../xmpp/xml.js';
import { Lane } from './lane.js';
import { TokenBucket } from '../timing/token-bucket.js';
import { OUTBOX_CHANNEL, PERMANENT_CONDITIONS, type FromSendWorker, type PeerMode, type SendWorkerData, type ToSendWorker } from './send-protocol.js';
import { NS } from '../xmpp/namespaces.js';

const data = workerData as SendWorkerData;
const cfg = data.delivery;
const port = parentPort!;
const log = pino({ level: data.logLevel, name: 'send' }, pino.destination({ fd: 2, sync: true }));
const db = openDatabase(data.dbPath, { migrate: false, synchronous: data.synchronous, noCheckpoints: true });
const outbox = new Outbox(db);
const instance = instanceToken(db);

const lanes = new Map<string, Lane>();
const LANE_IDLE_MS = 10 * 60_000;
/** Where each in-flight row belongs, to route its confirmation. */
const inflightLane = new Map<number, Lane>();
let online = false;
let paused = false;
let timer: NodeJS.Timeout | null = null;
let pumping = false;
let pumpAgain = false;

let outgoing: FromSendWorker[] = [];
function post(m: FromSendWorker): void {
  outgoing.push(m);
  if (outgoing.length === 1) queueMicrotask(() => {
    const batch = outgoing;
    outgoing = [];
    port.postMessage(batch);
  });
}

function lane(destination: string): Lane {
  let l = lanes.get(destination);
  if (!l) lanes.set(destination, (l = new Lane(destination)));
  return l;
}

function discoverLanes(): void {
  for (const { destination, dueAt } of outbox.lanes()) {
    const l = lane(destination);
    l.drained = false;
    if (dueAt > Date.now() && l.inflight.size === 0) l.heldUntil = Math.max(l.heldUntil, dueAt);
  }
}

const REQUEST: Record<PeerMode, string> = {
  acks: `<request xmlns="${NS.fedgateDelivery}"/>`,
  receipt: `<request xmlns="${NS.receipts}"/>`,
  window: '',
};

function stanza(row: OutboxRow, mode: PeerMode): string {
  const id = stanzaIdOf(instance, row.id);
  // XEP-0359 origin-id carries the same id, for peers that deduplicate on it rather than on @id.
  const receipt = REQUEST[mode];
  return `<message from="${escapeAttr(row.sender)}" to="${escapeAttr(row.destination)}" id="${id}">${row.payload}${receipt}<origin-id xmlns="urn:xmpp:sid:0" id="${id}"/></message>`;
}

/** Sends what the windows, holds and throttles allow, then sets the timer for the next thing to do. */
function pump(): void {
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
  } finally {
    pumping = false;
  }
  schedule();
}

function pumpOnce(): void {
  if (!online || paused) return;
  const now = Date.now();
  const items: Array<{ id: number; xml: string }> = [];
  for (const l of lanes.values()) {
    if (l.heldUntil > now || l.mode === 'probing') continue;
    if (l.mode === 'unknown') {
      if (l.drained && l.inflight.size === 0) continue;
      l.mode = 'probing';
      post({ t: 'probe', destination: l.destination });
      continue;
    }
    const room = cfg.window - l.inflight.size;
    if (room <= 0 || l.drained) continue;
    const rows = outbox.laneAfter(l.destination, l.cursor, room);
    if (rows.length < room) l.drained = true;
    for (const row of rows) {
      if (row.nextAttemptAt > now) {
        l.heldUntil = row.nextAttemptAt;
        l.drained = false;
        break;
      }
      if (l.inflight.has(row.id) || deliveredNotDeleted.has(row.id)) {
        l.cursor = row.id; // awaiting its outcome, or delivered: not sent again
        continue;
      }
      if (row.kind === 'push') {
        l.pushes ??= new TokenBucket(cfg.pushPerSecond, now);
        if (!l.pushes.take(now)) {
          l.heldUntil = now + l.pushes.waitMs(now);
          l.drained = false;
          break;
        }
      }
      l.cursor = row.id;
      l.inflight.set(row.id, now);
      inflightLane.set(row.id, l);
      items.push({ id: row.id, xml: stanza(row, l.mode) });
    }
    if (rows.length) l.lastActive = now;
  }
  if (items.length) post({ t: 'send', items });
}

/** The timer fires at the earliest of: a held lane becoming due, a window or receipt timeout. */
function schedule(): void {
  if (timer) clearTimeout(timer);
  timer = null;
  if (!online) return;
  const now = Date.now();
  let next = Infinity;
  for (const l of lanes.values()) {
    if (l.heldUntil > now) next = Math.min(next, l.heldUntil);
    for (const sentAt of l.inflight.values()) {
      next = Math.min(next, sentAt + (l.mode === 'window' ? cfg.bounceWindowMs : cfg.receiptTimeoutMs));
      break; // insertion order: the first entry is the oldest
    }
  }
  if (next === Infinity) return;
  timer = setTimeout(onTimer, Math.max(1, next - now));
}

function onTimer(): void {
  timer = null;
  const now = Date.now();
  const confirmed: number[] = [];
  for (const l of lanes.values()) {
    for (const [id, sentAt] of l.inflight) {
      if (l.mode === 'window') {
        if (now - sentAt < cfg.bounceWindowMs) break;
        confirmed.push(id); // no bounce within the window: delivered, as far as anyone can tell
      } else {
        if (now - sentAt < cfg.receiptTimeoutMs) break;
        failed(id, 'remote-server-timeout', `no receipt within ${cfg.receiptTimeoutMs / 1000} s`);
      }
    }
  }
  confirm(confirmed);
  pump();
}

/**
 * Delivered rows leave the outbox in batches (one transaction every few milliseconds rather than one
 * per receipt: fewer write locks for the other threads to wait on). Until then they are remembered,
 * so that a rewind does not send them again; after a crash in between they are sent again and the
 * receiver recognises them.
 */
const deliveredNotDeleted = new Set<number>();
let deleteTimer: NodeJS.Timeout | null = null;

function confirm(ids: readonly number[]): void {
  const known = ids.filter((id) => inflightLane.has(id));
  if (known.length === 0) return;
  for (const id of known) {
    inflightLane.get(id)!.inflight.delete(id);
    inflightLane.delete(id);
    deliveredNotDeleted.add(id);
  }
  if (deliveredNotDeleted.size >= 1000) deleteDelivered();
  else deleteTimer ??= setTimeout(deleteDelivered, 20);
}

function deleteDelivered(): void {
  if (deleteTimer) clearTimeout(deleteTimer);
  deleteTimer = null;
  if (deliveredNotDeleted.size === 0) return;
  const ids = [...deliveredNotDeleted];
  outbox.confirm(ids);
  deliveredNotDeleted.clear();
}

/** A bounce or a receipt timeout: retry later from this row on, or give up. */
function failed(id: number, condition: string, text: string): void {
  const l = inflightLane.get(id);
  if (!l) return;
  l.inflight.delete(id);
  inflightLane.delete(id);
  const reason = text ? `${condition}: ${text}` : condition;
  if (PERMANENT_CONDITIONS.has(condition)) {
    outbox.kill(id, reason);
    post({ t: 'dead', id, destination: l.destination, reason });
    return;
  }
  const row = outbox.get(id);
  if (!row) return;
  const retryAt = Date.now() + retryDelayMs(row.attempts + 1, cfg.retryInitialMs, cfg.retryMaxMs);
  const attempts = outbox.fail(id, l.destination, reason, retryAt);
  if (attempts >= cfg.maxAttempts) {
    const why = `retries exhausted after ${attempts} attempts; last error ${reason}`;
    outbox.kill(id, why);
    post({ t: 'dead', id, destination: l.destination, reason: why });
  }
  l.rewindTo(id);
  l.heldUntil = Math.max(l.heldUntil, retryAt);
  // The destination may have changed (went offline, came back as another peer): ask again.
  l.mode = 'unknown';
  log.debug({ id, destination: l.destination, reason, attempts }, 'delivery failed, will retry');
}

/**
 * Rows whose consent ended (component/consent/effects.ts): those not yet handed to the link are moved to
 * the dead letters with the reason, and never sent; those in flight or delivered are past stopping.
 */
function dropQueued(ids: number[], reason: string): void {
  for (const id of ids) {
    if (inflightLane.has(id) || deliveredNotDeleted.has(id) || !outbox.get(id)) continue;
    const row = outbox.get(id)!;
    outbox.kill(id, reason);
    post({ t: 'dead', id, destination: row.destination, reason });
  }
}

function onLink(isOnline: boolean): void {
  online = isOnline;
  if (!isOnline) {
    // Outcomes of what was in flight are unknown now: send it again after reconnecting.
    for (const l of lanes.values()) {
      for (const id of l.inflight.keys()) {
        l.rewindTo(id);
        inflightLane.delete(id);
      }
      l.inflight.clear();
      if (l.mode === 'probing') l.mode = 'unknown';
    }
  } else {
    discoverLanes();
  }
}

port.on('message', (batch: ToSendWorker[] | 'cancel') => {
  if (batch === 'cancel') {
    // bree's stop(): record what was delivered, then end cleanly (all other state is in SQLite).
    deleteDelivered();
    db.close();
    process.exit(0);
  }
  const acked: number[] = [];
  for (const m of batch) {
    switch (m.t) {
      case 'link':
        onLink(m.online);
        break;
      case 'acked':
        acked.push(...m.ids);
        break;
      case 'bounced':
        failed(m.id, m.condition, m.text);
        break;
      case 'probed': {
        const l = lanes.get(m.destination);
        if (!l) break;
        if (m.mode === 'unreachable') {
          l.probeFailures++;
          l.mode = 'unknown';
          l.heldUntil = Date.now() + retryDelayMs(l.probeFailures, cfg.retryInitialMs, cfg.retryMaxMs);
          log.debug({ destination: m.destination, detail: m.detail }, 'destination unreachable');
        } else {
          l.probeFailures = 0;
          l.mode = m.mode;
        }
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
    }
  }
  confirm(acked);
  pump();
});

// Writers in other threads (extract jobs in app workers) announce new rows with their destinations.
const channel = new BroadcastChannel(OUTBOX_CHANNEL);
channel.onmessage = (ev: unknown) => {
  for (const d of (ev as { data: string[] }).data) lane(d).drained = false;
  pump();
};
// Safety net for writers in other processes (the CLI's dead-letter retry): look for new lanes now
// and then. Idle lanes are forgotten after a while (with what was learnt of the peer).
setInterval(() => {
  const now = Date.now();
  for (const l of lanes.values()) if (l.drained && l.inflight.size === 0 && now - l.lastActive > LANE_IDLE_MS) lanes.delete(l.destination);
  discoverLanes();
  pump();
}, 5000).unref();

discoverLanes();
