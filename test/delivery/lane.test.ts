/**
 * The lane state machine with a fake clock: modes and the evidence they need, holds, go-back-N,
 * confirmations and bounces from the wrong sender, timeouts, busy receivers. No server, no database.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { admit, holdWithinRetryMax, laneRecord, newLane, nextWake, step, wants, type Lane, type LaneConfig, type LaneAction } from '../../component/delivery/lane.js';
import { NS } from '../../component/xmpp/namespaces.js';

const DEST = 'sink@b.example';
const cfg: LaneConfig = {
  window: 4,
  bounceWindowMs: 5000,
  receiptTimeoutMs: 30_000,
  retryInitialMs: 1000,
  retryMaxMs: 60_000,
  maxAttempts: 3,
  evidenceSpanMs: 3000,
  pushPerSecond: 2,
  random: () => 1, // retry delays at their ceiling: deterministic
};

const test = suite('delivery lane');

function lane(mode: Lane['mode'] = 'acks', extra: Partial<Lane> = {}): Lane {
  const l = newLane({ ...laneRecord(DEST), mode, modeCheckedAt: mode === 'unknown' ? null : 0 });
  return Object.assign(l, extra);
}

/** Offers rows first..last (flow) and returns the ids sent. */
function offer(l: Lane, ids: number[], now: number): number[] {
  const sent: number[] = [];
  for (const id of ids) {
    const r = admit(l, { id, kind: 'flow' }, now, cfg);
    if (r === 'stop') break;
    if (r === 'send') sent.push(id);
  }
  return sent;
}

const kinds = (actions: LaneAction[]) => actions.map((a) => a.a);

test('sends in order, at most window messages in flight', () => {
  const l = lane();
  assert.is(wants(l, 0), 'send');
  assert.equal(offer(l, [1, 2, 3, 4, 5, 6], 0), [1, 2, 3, 4]);
  assert.is(l.cursor, 4);
  step(l, { t: 'confirmed', from: DEST, id: 1 }, 10, cfg);
  assert.equal(offer(l, [5, 6], 10), [5]);
});

test('a confirmation counts only from the destination, any resource of it', () => {
  const l = lane();
  offer(l, [1, 2], 0);
  const forged = step(l, { t: 'confirmed', from: 'mallory@evil.example', id: 1 }, 1, cfg);
  assert.equal(kinds(forged), ['ignored']);
  assert.ok(l.inflight.has(1), 'still in flight');
  const sameDomain = step(l, { t: 'confirmed', from: 'b.example', id: 1 }, 1, cfg);
  assert.equal(kinds(sameDomain), ['ignored'], 'the destination server does not confirm for its users');
  assert.equal(step(l, { t: 'confirmed', from: `${DEST}/phone`, id: 1 }, 2, cfg), [{ a: 'delivered', ids: [1], sentAt: [0] }]);
  assert.ok(l.confirmed && l.dirty);
  assert.equal(step(l, { t: 'confirmed', from: DEST, id: 1 }, 3, cfg), [], 'twice: nothing more');
});

test('a bounce counts only from the destination or its server; a forged one changes nothing', () => {
  const l = lane();
  offer(l, [1, 2], 0);
  assert.equal(kinds(step(l, { t: 'bounced', from: 'mallory@evil.example', id: 1, condition: 'not-authorized', text: '' }, 1, cfg)), ['ignored']);
  assert.ok(l.inflight.has(1));
  assert.is(l.heldUntil, 0);
  const real = step(l, { t: 'bounced', from: 'b.example', id: 1, condition: 'remote-server-not-found', text: '' }, 1, cfg);
  assert.equal(kinds(real), ['failed']);
});

test('a confirmation that does not hold (a forged signature) neither delivers nor fails the row; its timeout names it', () => {
  const l = lane();
  offer(l, [1, 2], 0);
  const bad = (id: number, from = DEST) => step(l, { t: 'unproven', from, id, reason: 'no trusted key signed it' }, 1, cfg);
  for (let i = 0; i < 10; i++) assert.equal(bad(1), [{ a: 'unproven', id: 1, reason: 'no trusted key signed it' }]);
  assert.equal(kinds(bad(2, 'mallory@evil.example')), ['ignored']);
  assert.ok(l.inflight.has(1) && l.inflight.has(2), 'both still in flight');
  assert.is(l.attempts, 0, 'no attempt counted');
  assert.is(l.heldUntil, 0);
  // The real confirmation still counts.
  assert.equal(kinds(step(l, { t: 'confirmed', from: DEST, id: 1 }, 2, cfg)), ['delivered']);
  assert.is(l.unproven, null);
  bad(2);
  const timedOut = step(l, { t: 'tick' }, cfg.receiptTimeoutMs, cfg);
  assert.equal(kinds(timedOut), ['failed']);
  assert.match((timedOut[0] as { reason: string }).reason, /no confirmation within 30 s; a confirmation came that does not hold: no trusted key signed it/);
});

test('a failure holds the lane (go-back-N): later failures cost nothing more, sending resumes from the failed row', () => {
  const l = lane();
  offer(l, [1, 2, 3, 4], 0);
  const first = step(l, { t: 'bounced', from: DEST, id: 2, condition: 'remote-server-timeout', text: 'x' }, 100, cfg);
  assert.equal(first, [{ a: 'failed', id: 2, reason: 'remote-server-timeout: x' }]);
  assert.is(l.heldUntil, 1100);
  assert.is(l.cursor, 1);
  assert.is(wants(l, 500), null, 'held');
  // Rows behind it fail too: no extra attempt counted, no longer hold.
  assert.equal(step(l, { t: 'bounced', from: DEST, id: 3, condition: 'remote-server-timeout', text: 'x' }, 200, cfg), []);
  assert.is(l.attempts, 1);
  assert.is(l.heldUntil, 1100);
  // Row 4 was accepted meanwhile.
  assert.equal(step(l, { t: 'confirmed', from: DEST, id: 4 }, 300, cfg), [{ a: 'delivered', ids: [4], sentAt: [0] }]);
  assert.is(wants(l, 1100), 'send');
  // 1 is still in flight (skipped), 2 and 3 go again; 4 is gone from the outbox (not offered).
  assert.equal(offer(l, [1, 2, 3], 1100), [2, 3]);
  assert.equal(nextWake(l, 1100, cfg), 30_000, 'row 1 is due for its confirmation first');
});

test('transient failures of one row: backoff doubles, then the row is a dead letter', () => {
  const l = lane();
  let now = 0;
  const delays: number[] = [];
  for (let i = 0; i < 3; i++) {
    offer(l, [7], now);
    const out = step(l, { t: 'bounced', from: DEST, id: 7, condition: 'service-unavailable', text: '' }, now, cfg);
    delays.push(l.heldUntil - now);
    if (i < 2) assert.equal(kinds(out), ['failed']);
    else assert.equal(kinds(out), ['failed', 'dead']);
    now = l.heldUntil;
  }
  assert.equal(delays, [1000, 2000, 4000]);
  assert.is(l.failedId, null);
});

test('a permanent condition is a dead letter at once, the lane goes on', () => {
  const l = lane();
  offer(l, [1, 2], 0);
  assert.equal(step(l, { t: 'bounced', from: DEST, id: 1, condition: 'not-authorized', text: 'no' }, 5, cfg), [{ a: 'dead', id: 1, reason: 'not-authorized: no' }]);
  assert.is(l.heldUntil, 0);
  assert.is(wants(l, 6), 'send');
});

test('a busy receiver (resource-constraint) holds the lane with backoff, keeps the mode, never gives up', () => {
  const l = lane('acks', { confirmed: true });
  let now = 0;
  for (let i = 0; i < 10; i++) {
    offer(l, [3], now);
    const out = step(l, { t: 'bounced', from: DEST, id: 3, condition: 'resource-constraint', text: 'busy' }, now, cfg);
    assert.equal(kinds(out), ['failed']);
    assert.is(l.mode, 'acks');
    assert.is(l.probing, false, 'no new probe for a refusal');
    now = l.heldUntil;
  }
  assert.is(wants(l, now), 'send');
});

test('acks mode: no confirmation in time is a failure; window mode: no bounce in time is a delivery', () => {
  const a = lane('acks');
  offer(a, [1, 2], 0);
  assert.equal(kinds(step(a, { t: 'tick' }, 29_999, cfg)), []);
  assert.equal(kinds(step(a, { t: 'tick' }, 30_000, cfg)), ['failed'], 'the first; the second rides behind it');
  const w = lane('window');
  offer(w, [1, 2], 0);
  offer(w, [3], 1000);
  assert.equal(step(w, { t: 'tick' }, 5000, cfg), [{ a: 'delivered', ids: [1, 2], sentAt: [0, 0] }]);
  assert.equal(nextWake(w, 5000, cfg), 6000);
});

test('an unknown destination is probed first; features decide the mode', () => {
  const l = lane('unknown');
  assert.is(wants(l, 0), 'probe');
  assert.is(wants(l, 0), null, 'one probe at a time');
  assert.is(admit(l, { id: 1, kind: 'flow' }, 0, cfg), 'stop');
  step(l, { t: 'probed', answer: { kind: 'features', features: [NS.receipts, NS.fedgateDelivery] } }, 10, cfg);
  assert.is(l.mode, 'acks');
  assert.is(wants(l, 10), 'send');
  const r = lane('unknown');
  wants(r, 0);
  step(r, { t: 'probed', answer: { kind: 'features', features: [NS.receipts] } }, 10, cfg);
  assert.is(r.mode, 'receipt');
});

test('"confirms nothing" needs two answers without the features, evidenceSpanMs apart', () => {
  const l = lane('unknown');
  wants(l, 0);
  step(l, { t: 'probed', answer: { kind: 'features', features: [] } }, 0, cfg);
  assert.is(l.mode, 'unknown', 'one answer is not stable evidence');
  assert.is(wants(l, 2999), null, 'held until the evidence could be stable');
  assert.is(wants(l, 3000), 'probe');
  const out = step(l, { t: 'probed', answer: { kind: 'features', features: [] } }, 3000, cfg);
  assert.is(l.mode, 'window');
  assert.equal(kinds(out), ['warn']);
  assert.match((out[0] as { message: string }).message, DEST);
});

test('never "confirms nothing" on timeouts, unreachable servers or busy answers', () => {
  const l = lane('unknown');
  let now = 0;
  for (let i = 0; i < 20; i++) {
    now = Math.max(now, l.heldUntil);
    assert.is(wants(l, now), 'probe');
    step(l, { t: 'probed', answer: { kind: 'unreachable', detail: 'remote-server-not-found' } }, now, cfg);
  }
  assert.is(l.mode, 'unknown');
  assert.match(l.lastError ?? '', 'remote-server-not-found');
  assert.is(l.heldUntil - now, 60_000, 'backoff capped at retryMaxMs');
});

test('a destination that confirmed before is never downgraded, whatever its disco says', () => {
  const l = lane('acks', { confirmed: true, modeCheckedAt: 0 });
  const later = 3_600_000;
  offer(l, [1], later - 1);
  assert.is(wants(l, later), 'probe', 'the mode is checked again after an hour');
  step(l, { t: 'probed', answer: { kind: 'features', features: [] } }, later, cfg);
  step(l, { t: 'probed', answer: { kind: 'features', features: [] } }, later + 10_000, cfg);
  assert.is(l.mode, 'acks');
  // Even a lane that lost its mode (restart before it was saved) but remembers a confirmation.
  const m = lane('unknown', { confirmed: true });
  for (const at of [0, 5000, 10_000]) {
    m.heldUntil = 0;
    wants(m, at);
    step(m, { t: 'probed', answer: { kind: 'refused', condition: 'service-unavailable' } }, at, cfg);
  }
  assert.is(m.mode, 'unknown');
});

test('a link going down rewinds to the oldest message in flight', () => {
  const l = lane();
  offer(l, [5, 6, 7], 0);
  step(l, { t: 'link-down' }, 10, cfg);
  assert.is(l.inflight.size, 0);
  assert.is(l.cursor, 4);
  assert.equal(offer(l, [5, 6, 7], 20), [5, 6, 7]);
});

test('retry-now lifts the hold and rereads the lane from its start', () => {
  const l = lane();
  offer(l, [10], 0);
  step(l, { t: 'bounced', from: DEST, id: 10, condition: 'service-unavailable', text: '' }, 0, cfg);
  assert.ok(l.heldUntil > 0);
  l.dirty = false;
  step(l, { t: 'retry-now' }, 1, cfg);
  assert.is(l.heldUntil, 0);
  assert.is(l.cursor, 0);
  assert.ok(l.dirty);
  assert.equal(offer(l, [3, 10], 1), [3, 10], 'a dead letter put back under its old id 3 goes too');
});

test('subscription pushes are throttled per destination', () => {
  const l = lane();
  const sent = [1, 2, 3].filter((id) => admit(l, { id, kind: 'push' }, 0, cfg) === 'send');
  assert.equal(sent, [1, 2]);
  assert.is(l.throttledUntil, 500);
  assert.is(wants(l, 499), null);
  assert.is(wants(l, 500), 'send');
});

test('a stored hold past the longest retry delay (a clock that was ahead) is brought back to it', () => {
  const now = 1_000_000;
  const ahead = { ...laneRecord(DEST), heldUntil: now + 86_400_000, failedId: 7, attempts: 2 };
  const clamped = holdWithinRetryMax(ahead, now, cfg);
  assert.is(clamped.heldUntil, now + cfg.retryMaxMs);
  assert.is(clamped.failedId, 7, 'only the hold changes');
  assert.is(clamped.attempts, 2);
  assert.is(ahead.heldUntil, now + 86_400_000, 'the stored record is not changed in place');
  const l = newLane(clamped);
  assert.is(wants(l, now + cfg.retryMaxMs - 1), null);
  assert.is(wants(l, now + cfg.retryMaxMs), 'probe', 'the lane moves again after the longest delay, not a day later');
  const within = { ...laneRecord(DEST), heldUntil: now + cfg.retryMaxMs };
  assert.is(holdWithinRetryMax(within, now, cfg), within, 'a hold within the delay is kept as it is');
});

test.run();
