/**
 * A token bucket: `perSecond` tokens a second, holding at most `burst` (by default one second's worth,
 * at least one), so that a short burst passes and a steady excess waits. Starts full.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;
  private readonly burst: number;

  constructor(readonly perSecond: number, now: number, burst = perSecond) {
    this.burst = Math.max(1, burst);
    this.tokens = this.burst;
    this.at = now;
  }

  /** Takes one token; false when there is none. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there. */
  waitMs(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }

  /** True when the bucket is full again (nothing to remember about its user). */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
  }
}
