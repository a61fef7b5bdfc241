/**
 * Inbox rows that stop their app's thread. A message an adapter cannot survive (one that exhausts the
 * thread's heap, or holds it so long that the watchdog ends it) would otherwise be read first again by
 * the restarted thread, and stop it again, for ever — and with it every app sharing the thread. The
 * worker tells the main thread which row starts each batch it applies (`applying`); when the thread
 * ends before the batch is settled, that row:
 *
 * - is held with backoff, an attempt counted, and tried alone next time (jobs/receive.ts), so that a
 *   second stop is counted against it and not against the rows that came with it;
 * - after MAX_THREAD_STOPS stops, is a dead letter with the reason (`dead-letter retry` brings it back).
 *
 * Stops are counted in memory (a restart of the gateway starts again from zero: bounded either way).
 */
import type { Inbox } from './inbox.js';
import type { Logger } from '../log/logger.js';
import { retryDelayMs } from '../timing/backoff.js';

export const MAX_THREAD_STOPS = 3;
/** Rows remembered at most (the oldest forgotten first). */
const MAX_REMEMBERED = 10_000;

export interface PoisonRowsOptions {
  inbox: Inbox;
  retry: { initialMs: number; maxMs: number };
  log: Logger;
  /** A row of `app` went to the dead letters (the intake's backlog count follows). */
  dead(app: string): void;
  now?: () => number;
}

export class PoisonRows {
  private readonly stops = new Map<number, number>();

  constructor(private readonly o: PoisonRowsOptions) {}

  /** `app`'s thread ended while its adapter applied a batch starting at inbox row `id`. */
  lostWhileApplying(app: string, id: number): void {
    const n = (this.stops.get(id) ?? 0) + 1;
    this.stops.delete(id);
    this.stops.set(id, n);
    if (this.stops.size > MAX_REMEMBERED) this.stops.delete(this.stops.keys().next().value!);
    const reason = `the application's thread stopped while applying it (${n} ${n === 1 ? 'time' : 'times'})`;
    try {
      if (n >= MAX_THREAD_STOPS) {
        if (this.o.inbox.kill(id, reason)) {
          this.stops.delete(id);
          this.o.log.warn({ app, inboxId: id, stops: n }, `inbound message moved to dead letters: ${reason}`);
          this.o.dead(app);
        }
        return;
      }
      const now = this.o.now?.() ?? Date.now();
      const retryAt = now + retryDelayMs(n, this.o.retry.initialMs, this.o.retry.maxMs);
      if (this.o.inbox.fail(id, reason, retryAt) !== null) {
        this.o.log.warn({ app, inboxId: id, stops: n, retryInMs: retryAt - now }, "an application's thread stopped while applying a message: it waits, then is tried alone");
      }
    } catch (err) {
      // A busy or failing database: the row stays as it was, and is applied (and judged) again.
      this.o.log.error({ app, inboxId: id, err: (err as Error).message }, 'could not record that a message stopped its thread');
    }
  }
}
