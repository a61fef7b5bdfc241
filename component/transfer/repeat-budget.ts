/**
 * How many times a source may send again messages an app already has, before the repeats are refused
 * for a while. A repeat is acknowledged again (the sender missed the first acknowledgement) and, with
 * the transparency log on, logged again: its new receipt names the new entry. An honest sender repeats
 * at most its window after a lost connection; without a bound, any entitled source could grow the log
 * for ever by sending one message again and again. Past the budget a repeat is refused
 * `resource-constraint` (wait), neither stored nor logged: a fedgate sender holds its lane and sends it
 * again later, nothing is lost.
 */
import { TokenBucket } from '../timing/token-bucket.js';

export interface RepeatLimits {
  /** Repeats in a row always taken (the largest window is 10,000). */
  burst: number;
  /** Sustained repeats per second, per source of an app. */
  perSecond: number;
}

/** Sources remembered at most; past it the ones whose budget is whole again are forgotten. */
const MAX_REMEMBERED = 10_000;

export class RepeatBudget {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly limits: RepeatLimits) {}

  /** One repeat from `sender` to `app` at `now` (ms): true when it may be taken. */
  take(app: string, sender: string, now: number): boolean {
    const key = `${app}\u0000${sender}`;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_REMEMBERED) this.forgetWhole(now);
      bucket = new TokenBucket(this.limits.perSecond, now, this.limits.burst);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  /** Seconds until `sender` may repeat to `app` again (for the refusal's text). */
  waitSeconds(app: string, sender: string, now: number): number {
    return Math.ceil((this.buckets.get(`${app}\u0000${sender}`)?.waitMs(now) ?? 0) / 1000);
  }

  get size(): number {
    return this.buckets.size;
  }

  private forgetWhole(now: number): void {
    for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key);
  }
}
