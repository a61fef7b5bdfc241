/**
 * A wall clock stepping while lanes hold its times (fake clocks, no server): the step is seen against
 * the monotonic clock, and a held lane or a message in flight keeps what was left of its wait.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { admit, laneRecord, newLane, nextWake, step, wants, type LaneConfig } from '../../component/delivery/lane.js';
import { ClockSteps, followStep } from '../../component/delivery/clock-step.js';

const cfg: LaneConfig = {
  window: 4,
  bounceWindowMs: 5000,
  receiptTimeoutMs: 30_000,
  retryInitialMs: 1000,
  retryMaxMs: 600_000,
  maxAttempts: 3,
  evidenceSpanMs: 3000,
  pushPerSecond: 2,
  random: () => 1,
};
const HOUR = 3_600_000;

function clocks(start = 1_800_000_000_000) {
  // performance.now() has fractions of a millisecond.
  const c = { wall: start, mono: 0.371 };
  return { c, steps: new ClockSteps(() => c.wall, () => c.mono), pass: (ms: number) => ((c.wall += ms), (c.mono += ms)) };
}

test('time passing, and jitter under a second, are no step', () => {
  const { c, steps, pass } = clocks();
  pass(10 * HOUR);
  assert.is(steps.take(), 0);
  c.wall += 400;
  assert.is(steps.take(), 0);
});

test('a lane held for one more second, the clock stepped back two hours: due one second later, not two hours', () => {
  const { c, steps, pass } = clocks();
  const lane = newLane({ ...laneRecord('sink@b.example'), mode: 'acks', modeCheckedAt: c.wall, heldUntil: c.wall + 1000 });
  c.wall -= 2 * HOUR;
  c.mono += 0.25;
  const stepMs = steps.take();
  assert.is(stepMs, -2 * HOUR, 'whole milliseconds');
  assert.is(steps.take(), 0, 'taken once');
  followStep(lane, stepMs);
  assert.ok(lane.dirty, 'the stored hold is saved again');
  assert.is(wants(lane, c.wall), null, 'still held for the second left');
  pass(1000);
  assert.is(wants(lane, c.wall), 'send');
});

test('messages in flight keep their deadline whichever way the clock steps', () => {
  for (const stepMs of [-2 * HOUR, 3 * HOUR]) {
    const { c, steps, pass } = clocks();
    const lane = newLane({ ...laneRecord('sink@b.example'), mode: 'acks', modeCheckedAt: c.wall });
    assert.is(admit(lane, { id: 1, kind: 'flow' }, c.wall, cfg), 'send');
    pass(10_000);
    c.wall += stepMs;
    followStep(lane, steps.take());
    assert.is(nextWake(lane, c.wall, cfg) - c.wall, 20_000, 'the 20 s left of the receipt timeout');
    // A forward step does not time it out at once (which would send it again).
    assert.equal(step(lane, { t: 'tick' }, c.wall, cfg), []);
    assert.ok(lane.inflight.has(1));
  }
});

test.run();
