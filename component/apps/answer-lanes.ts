/**
 * Answer-building calls (get_history, list_series, my_data's catalogue) one party has running on one
 * app that answers from the records it keeps (store, mqtt, quoalise): at most MAX_ANSWERS_PER_PARTY; the next ones wait here, unsent (their arguments only), and go as
 * earlier ones end. An app of its own thread builds its calls concurrently: a burst of 100 get_history
 * of 3.7 MB from one grant holder were all built at once — 930 MB in the gateway — for the answer
 * budget (router/answer-budget.ts) to refuse 96 of them. Nothing is refused here: a waiting call keeps
 * its time-out, and how many may wait is MAX_CALLS_PER_PARTY's (app-host.ts).
 */
import type { AppOp } from '../workers/protocol.js';

export const MAX_ANSWERS_PER_PARTY = 8;

/** The calls whose answers are built from the app's records: the big ones. */
export const ANSWER_OPS: ReadonlySet<AppOp> = new Set<AppOp>(['historyXml', 'catalogueXml']);

export class AnswerLanes {
  private readonly lanes = new Map<string, { running: number; waiting: Array<() => boolean> }>();

  constructor(private readonly max = MAX_ANSWERS_PER_PARTY) {}

  /** Whether a call of the party may start now (it then counts as running until `done`). */
  enter(party: string): boolean {
    const lane = this.lanes.get(party) ?? { running: 0, waiting: [] };
    this.lanes.set(party, lane);
    if (lane.running >= this.max) return false;
    lane.running++;
    return true;
  }

  /** A call `enter` turned away: `start` sends it when its turn comes (false: it had ended meanwhile, timed out). */
  wait(party: string, start: () => boolean): void {
    this.lanes.get(party)?.waiting.push(start);
  }

  /** A running call of the party ended: the next waiting ones still wanted start. */
  done(party: string): void {
    const lane = this.lanes.get(party);
    if (!lane) return;
    lane.running--;
    while (lane.running < this.max && lane.waiting.length > 0) if (lane.waiting.shift()!()) lane.running++;
    if (lane.running === 0 && lane.waiting.length === 0) this.lanes.delete(party);
  }

  /** Calls of the party running (for tests). */
  running(party: string): number {
    return this.lanes.get(party)?.running ?? 0;
  }
}
