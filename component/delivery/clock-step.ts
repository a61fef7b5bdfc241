/**
 * A wall clock that steps (NTP correcting a bad clock at boot, a VM restored from a snapshot) while
 * lanes hold times read from it. Stepped back by two hours, a lane held for one more second waited two
 * hours and a second, the link up and the receiver back (fourth crash campaign): its hold, its
 * messages' deadlines and its last probe are wall-clock times kept in memory, which the stored hold's
 * clamp at load never sees. The step is seen against the monotonic clock, and the lane's times move
 * with it: each keeps what was left of it.
 */
import type { Lane } from './lane.js';

/** Smaller differences are jitter between the two readings, or a slewing clock: not steps. */
const STEP_MS = 1000;

export class ClockSteps {
  private offset: number;

  constructor(
    private readonly wall: () => number = Date.now,
    private readonly monotonic: () => number = () => performance.now(),
  ) {
    this.offset = wall() - monotonic();
  }

  /** How far the wall clock stepped since the last call (negative: back), or 0. */
  take(): number {
    const offset = this.wall() - this.monotonic();
    // Whole milliseconds: the times it moves are stored as integers.
    const step = Math.round(offset - this.offset);
    if (Math.abs(step) < STEP_MS) return 0;
    this.offset += step;
    return step;
  }
}

/** Moves the lane's wall-clock times by the clock's step. */
export function followStep(lane: Lane, stepMs: number): void {
  if (lane.heldUntil > 0) {
    lane.heldUntil += stepMs;
    lane.dirty = true;
  }
  if (lane.modeCheckedAt !== null) lane.modeCheckedAt += stepMs;
  if (lane.evidenceSince !== null) lane.evidenceSince += stepMs;
  if (lane.throttledUntil > 0) lane.throttledUntil += stepMs;
  for (const [id, sentAt] of lane.inflight) lane.inflight.set(id, sentAt + stepMs);
  // Its refill time is the clock's too; a fresh bucket lets at most one burst through.
  lane.pushes = null;
}
