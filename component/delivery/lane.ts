/**
 * One destination's lane, as a state machine: what to send next, what a confirmation, a bounce, a
 * probe answer or a timeout means, when to hold and when to give up. Deterministic and free of I/O:
 * it reads no clock (`now` is passed in), touches no database and no socket. The send job
 * (send-worker.ts) is the shell around it: it reads rows, carries out the actions, saves the lane.
 *
 * The rules that keep data safe:
 * - A confirmation or a bounce counts only from the lane's destination (its bare JID; a bounce also
 *   from its server's domain, which is where servers send them from). Anything else is ignored.
 *   A confirmation from the destination's JID whose signature does not hold is neither a delivery nor
 *   a failure: the row waits for one that holds, or for its timeout.
 * - The lane sends in outbox order, at most `window` messages in flight. A failure holds the lane
 *   (the lane, not its rows: O(1) whatever the backlog) and sending resumes from the failed row.
 *   Failures of rows behind one that already holds the lane cost nothing more.
 * - How the destination confirms (its mode) is learnt from its disco#info and only ever moves to
 *   "confirms nothing" (`window`) on positive, stable evidence: two answers without a confirmation
 *   feature, `evidenceSpanMs` apart, from a destination that never confirmed anything. A timeout, an
 *   unreachable server or a refusal never changes the mode.
 * - A `wait` refusal (`resource-constraint`: the receiver is busy) holds the lane with backoff and is
 *   not counted towards `maxAttempts`; other transient failures are, then the row is a dead letter.
 */
import { NS } from '../xmpp/namespaces.js';
import { bareJid, domainOf } from '../xmpp/jid.js';
import { retryDelayMs } from '../timing/backoff.js';
import { TokenBucket } from '../timing/token-bucket.js';

/** How a destination confirms delivery. */
export type PeerMode = 'acks' | 'receipt' | 'window';
export type LaneMode = PeerMode | 'unknown';

/** Stanza error conditions that no retry will fix: the message is a dead letter at once. */
export const PERMANENT_CONDITIONS: ReadonlySet<string> = new Set([
  'bad-request',
  'forbidden',
  'item-not-found',
  'jid-malformed',
  'not-acceptable',
  'not-allowed',
  'not-authorized',
  'feature-not-implemented',
  'policy-violation',
  'registration-required',
]);

/** The receiver asks us to come back later: hold, but never give up on it. */
const BUSY_CONDITION = 'resource-constraint';

/** A learnt mode is checked again after this long (a peer may have been upgraded or replaced). */
export const MODE_TTL_MS = 3_600_000;

export interface LaneConfig {
  /** Messages in flight (sent, unconfirmed) at most. */
  window: number;
  /** `window` mode: a message with no bounce after this long counts as delivered. */
  bounceWindowMs: number;
  /** `acks`/`receipt` modes: no confirmation after this long is a failure (sent again). */
  receiptTimeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** Failed attempts of one message before it is a dead letter (busy refusals not counted). */
  maxAttempts: number;
  /** Two answers without a confirmation feature at least this far apart make a lane `window`. */
  evidenceSpanMs: number;
  /** Subscription pushes per second to one destination. */
  pushPerSecond: number;
  /** For the jitter of retry delays (tests pass a constant). */
  random?: () => number;
}

/** What is kept in the `lanes` table (schema/004_delivery.sql). */
export interface LaneRecord {
  destination: string;
  mode: LaneMode;
  /** The destination has confirmed at least one message: it is never treated as `window`. */
  confirmed: boolean;
  modeCheckedAt: number | null;
  heldUntil: number;
  /** The row the lane is held at, and its consecutive failed attempts. */
  failedId: number | null;
  attempts: number;
  lastError: string | null;
}

/** The lane in memory: its record plus what only matters while running. */
export interface Lane extends LaneRecord {
  /** Highest outbox id handed to the link (rows after it are the next candidates). */
  cursor: number;
  /** Sent, not yet confirmed: outbox id → when it was sent. Insertion order is send order. */
  inflight: Map<number, number>;
  probing: boolean;
  /** First answer without a confirmation feature, since the last one with. */
  evidenceSince: number | null;
  /** Probes that got no answer in a row (unreachable, timeout, wait). */
  probeFailures: number;
  /** True when the last read found nothing after the cursor. */
  drained: boolean;
  /** Subscription pushes: throttle, and the time it lets the next one go. */
  pushes: TokenBucket | null;
  throttledUntil: number;
  /** Why the last confirmation that did not hold failed (named by the timeout that follows it), or null. */
  unproven: string | null;
  /** The record changed since it was last saved. */
  dirty: boolean;
}

export function newLane(record: LaneRecord): Lane {
  return { ...record, cursor: 0, inflight: new Map(), probing: false, evidenceSince: null, probeFailures: 0, drained: false, pushes: null, throttledUntil: 0, unproven: null, dirty: false };
}

export function laneRecord(destination: string): LaneRecord {
  return { destination, mode: 'unknown', confirmed: false, modeCheckedAt: null, heldUntil: 0, failedId: null, attempts: 0, lastError: null };
}

/**
 * A stored hold is never longer than the longest retry delay: one written while the clock was ahead
 * (or by hand) would otherwise hold the lane for as long as the clock was wrong, without a word.
 * Returns the record unchanged when its hold is within that, else a copy held until the longest delay from now.
 */
export function holdWithinRetryMax(record: LaneRecord, now: number, cfg: Pick<LaneConfig, 'retryMaxMs'>): LaneRecord {
  const latest = now + cfg.retryMaxMs;
  return record.heldUntil <= latest ? record : { ...record, heldUntil: latest };
}

/** The answer to a disco#info probe, as the shell classified it. */
export type ProbeAnswer =
  /** A disco#info result: its features. */
  | { kind: 'features'; features: string[] }
  /** An error answered by the destination itself (it exists, but will not describe itself). */
  | { kind: 'refused'; condition: string }
  /** No route, a server that cannot reach it, a `wait` error, silence, or our link down. */
  | { kind: 'unreachable'; detail: string };

export type LaneEvent =
  | { t: 'probed'; answer: ProbeAnswer }
  | { t: 'confirmed'; from: string; id: number }
  | { t: 'bounced'; from: string; id: number; condition: string; text: string }
  /**
   * A confirmation whose signature does not hold (a receiver that signs its receipts, trace/sender.ts):
   * not a delivery, and not a failure either — the `from` of a stanza can be forged where the signature
   * cannot, so it must not move the row towards the dead letters. The row waits for a confirmation that
   * holds, or for its timeout, whose reason then names this one.
   */
  | { t: 'unproven'; from: string; id: number; reason: string }
  /** Timers: confirmations due, bounce windows over. */
  | { t: 'tick' }
  /** Our link went down: outcomes of what was in flight are unknown. */
  | { t: 'link-down' }
  /** An operator asked to send now (`fedgate outbox retry`, `dead-letter retry`). */
  | { t: 'retry-now' };

export type LaneAction =
  /** These rows are delivered: delete them from the outbox. `sentAt`: when each was (last) sent. */
  | { a: 'delivered'; ids: number[]; sentAt: number[] }
  /** Count a failed attempt on the row (its `attempts` and `last_error`). */
  | { a: 'failed'; id: number; reason: string }
  /** Move the row to the dead letters. */
  | { a: 'dead'; id: number; reason: string }
  /** Something an operator must hear of (logged at warn by the shell). */
  | { a: 'warn'; message: string }
  /** A confirmation from the destination's JID that does not hold; the row stays in flight (the shell rate-limits the log). */
  | { a: 'unproven'; id: number; reason: string }
  /** A stanza came from someone other than the destination; ignored (the shell rate-limits the log). */
  | { a: 'ignored'; from: string; what: string };

/** What the lane needs now: ask the destination how it confirms, send rows, or nothing. */
export function wants(lane: Lane, now: number): 'probe' | 'send' | null {
  if (lane.probing || lane.heldUntil > now || lane.throttledUntil > now) return null;
  const idle = lane.drained && lane.inflight.size === 0;
  const stale = lane.modeCheckedAt === null || now - lane.modeCheckedAt >= MODE_TTL_MS;
  if ((lane.mode === 'unknown' || stale) && !idle) {
    lane.probing = true;
    return 'probe';
  }
  if (lane.mode === 'unknown' || lane.drained) return null;
  return 'send';
}

export interface Candidate {
  id: number;
  kind: 'flow' | 'push';
}

/**
 * Whether to send this row now (rows are offered in outbox order after the cursor): 'send' (it is now
 * in flight), 'skip' (already in flight or delivered: move past it), or 'stop' (nothing more now).
 */
export function admit(lane: Lane, row: Candidate, now: number, cfg: LaneConfig, alreadyDelivered = false): 'send' | 'skip' | 'stop' {
  if (lane.heldUntil > now || lane.probing || lane.mode === 'unknown') return 'stop';
  if (lane.inflight.has(row.id) || alreadyDelivered) {
    lane.cursor = Math.max(lane.cursor, row.id);
    return 'skip';
  }
  if (lane.inflight.size >= cfg.window) return 'stop';
  if (row.kind === 'push') {
    lane.pushes ??= new TokenBucket(cfg.pushPerSecond, now);
    if (!lane.pushes.take(now)) {
      lane.throttledUntil = now + lane.pushes.waitMs(now);
      return 'stop';
    }
  }
  lane.cursor = Math.max(lane.cursor, row.id);
  lane.inflight.set(row.id, now);
  return 'send';
}

/** Applies one event; returns what the shell must do. */
export function step(lane: Lane, ev: LaneEvent, now: number, cfg: LaneConfig): LaneAction[] {
  switch (ev.t) {
    case 'confirmed':
      return confirmed(lane, ev.from, ev.id);
    case 'bounced':
      if (!fromDestination(lane, ev.from, true)) return [{ a: 'ignored', from: ev.from, what: `bounce of message ${ev.id}` }];
      if (!lane.inflight.has(ev.id)) return [];
      lane.inflight.delete(ev.id);
      return failed(lane, ev.id, ev.condition, ev.text ? `${ev.condition}: ${ev.text}` : ev.condition, now, cfg);
    case 'unproven':
      if (!fromDestination(lane, ev.from, false)) return [{ a: 'ignored', from: ev.from, what: `confirmation of message ${ev.id}` }];
      if (!lane.inflight.has(ev.id)) return [];
      lane.unproven = ev.reason;
      return [{ a: 'unproven', id: ev.id, reason: ev.reason }];
    case 'tick':
      return tick(lane, now, cfg);
    case 'probed':
      lane.probing = false;
      return probed(lane, ev.answer, now, cfg);
    case 'link-down':
      for (const id of lane.inflight.keys()) rewind(lane, id);
      lane.inflight.clear();
      lane.probing = false;
      return [];
    case 'retry-now':
      // Read the lane again from its start: a retried dead letter comes back under its old id.
      lane.cursor = 0;
      lane.drained = false;
      lane.probeFailures = 0;
      lane.evidenceSince = null;
      if (lane.heldUntil !== 0 || lane.attempts !== 0 || lane.failedId !== null) {
        lane.heldUntil = 0;
        lane.attempts = 0;
        lane.failedId = null;
        lane.dirty = true;
      }
      return [];
  }
}

/** The earliest time something is due on this lane (a hold ending, a confirmation due), or Infinity. */
export function nextWake(lane: Lane, now: number, cfg: LaneConfig): number {
  let next = Infinity;
  if (lane.heldUntil > now) next = lane.heldUntil;
  if (lane.throttledUntil > now) next = Math.min(next, lane.throttledUntil);
  for (const sentAt of lane.inflight.values()) {
    next = Math.min(next, sentAt + (lane.mode === 'window' ? cfg.bounceWindowMs : cfg.receiptTimeoutMs));
    break; // insertion order: the first is the oldest
  }
  return next;
}

/** Who may speak for the destination: its bare JID; for bounces also its server's domain. */
function fromDestination(lane: Lane, from: string, bounce: boolean): boolean {
  const bare = bareJid(from);
  if (bare === lane.destination || bare === bareJid(lane.destination)) return true;
  return bounce && from === domainOf(lane.destination);
}

function confirmed(lane: Lane, from: string, id: number): LaneAction[] {
  if (!fromDestination(lane, from, false)) return [{ a: 'ignored', from, what: `confirmation of message ${id}` }];
  const sentAt = lane.inflight.get(id);
  if (sentAt === undefined) return []; // late, or confirmed twice
  lane.inflight.delete(id);
  lane.unproven = null;
  if (!lane.confirmed) {
    lane.confirmed = true;
    lane.dirty = true;
  }
  if (lane.failedId === id) {
    lane.failedId = null;
    lane.attempts = 0;
    lane.lastError = null;
    lane.dirty = true;
  }
  return [{ a: 'delivered', ids: [id], sentAt: [sentAt] }];
}

function tick(lane: Lane, now: number, cfg: LaneConfig): LaneAction[] {
  const out: LaneAction[] = [];
  const delivered: number[] = [];
  const sent: number[] = [];
  for (const [id, sentAt] of lane.inflight) {
    if (lane.mode === 'window') {
      if (now - sentAt < cfg.bounceWindowMs) break;
      lane.inflight.delete(id);
      delivered.push(id); // no bounce within the window: delivered, as far as anyone can tell
      sent.push(sentAt);
    } else {
      if (now - sentAt < cfg.receiptTimeoutMs) break;
      lane.inflight.delete(id);
      const why = lane.unproven ? `; a confirmation came that does not hold: ${lane.unproven}` : '';
      out.push(...failed(lane, id, 'remote-server-timeout', `remote-server-timeout: no confirmation within ${Math.round(cfg.receiptTimeoutMs / 1000)} s${why}`, now, cfg));
    }
  }
  if (delivered.length) out.unshift({ a: 'delivered', ids: delivered, sentAt: sent });
  return out;
}

function failed(lane: Lane, id: number, condition: string, reason: string, now: number, cfg: LaneConfig): LaneAction[] {
  if (PERMANENT_CONDITIONS.has(condition)) return [{ a: 'dead', id, reason }];
  // Already held at an earlier row, or an earlier failed row is being tried again: this one is sent
  // again after it anyway, and costs nothing more.
  if (lane.failedId !== null && lane.failedId < id && (lane.heldUntil > now || lane.inflight.has(lane.failedId))) {
    rewind(lane, id);
    return [];
  }
  const busy = condition === BUSY_CONDITION;
  if (lane.failedId !== id) {
    lane.failedId = id;
    lane.attempts = 0;
  }
  lane.attempts++;
  lane.lastError = reason;
  lane.dirty = true;
  rewind(lane, id);
  lane.heldUntil = now + retryDelayMs(lane.attempts, cfg.retryInitialMs, cfg.retryMaxMs, cfg.random);
  const out: LaneAction[] = [{ a: 'failed', id, reason }];
  if (!busy && lane.attempts >= cfg.maxAttempts) {
    out.push({ a: 'dead', id, reason: `retries exhausted after ${lane.attempts} attempts; last error ${reason}` });
    lane.failedId = null;
    lane.attempts = 0;
  }
  return out;
}

function rewind(lane: Lane, id: number): void {
  lane.cursor = Math.min(lane.cursor, id - 1);
  lane.drained = false;
}

function probed(lane: Lane, answer: ProbeAnswer, now: number, cfg: LaneConfig): LaneAction[] {
  if (answer.kind === 'unreachable') {
    lane.probeFailures++;
    lane.heldUntil = now + retryDelayMs(lane.probeFailures, cfg.retryInitialMs, cfg.retryMaxMs, cfg.random);
    lane.lastError = `cannot reach ${lane.destination}: ${answer.detail}`;
    lane.dirty = true;
    return [];
  }
  lane.probeFailures = 0;
  const features = answer.kind === 'features' ? answer.features : [];
  const mode: PeerMode | null = features.includes(NS.fedgateDelivery) ? 'acks' : features.includes(NS.receipts) ? 'receipt' : null;
  if (mode) {
    lane.evidenceSince = null;
    if (lane.failedId === null) lane.lastError = null;
    setMode(lane, mode, now);
    return [];
  }
  // Says it cannot confirm. Never believed of a destination that confirmed before, nor of one we
  // already know confirms: a restarting or misconfigured peer must not make us send blind.
  if (lane.mode === 'acks' || lane.mode === 'receipt') {
    lane.modeCheckedAt = now;
    lane.dirty = true;
    return [];
  }
  if (lane.confirmed) {
    // It confirmed before and now says it cannot: wait for it to come back to its senses.
    return probed(lane, { kind: 'unreachable', detail: `it confirmed messages before, now its disco#info says it cannot` }, now, cfg);
  }
  if (lane.mode === 'window') {
    lane.modeCheckedAt = now;
    lane.dirty = true;
    return [];
  }
  lane.evidenceSince ??= now;
  const settled = lane.evidenceSince + cfg.evidenceSpanMs;
  if (now < settled) {
    // Ask again once the evidence could be stable; nothing is sent meanwhile.
    lane.heldUntil = settled;
    return [];
  }
  setMode(lane, 'window', now);
  const why = answer.kind === 'features' ? 'its disco#info has neither urn:fedgate:delivery:0 nor urn:xmpp:receipts' : `it answers disco#info with ${answer.condition}`;
  return [
    {
      a: 'warn',
      message: `${lane.destination} confirms nothing (${why}): its messages count as delivered when no error comes back within ${cfg.bounceWindowMs} ms — a crash of the destination can lose what it had not stored`,
    },
  ];
}

function setMode(lane: Lane, mode: PeerMode, now: number): void {
  lane.mode = mode;
  lane.modeCheckedAt = now;
  lane.dirty = true;
}
