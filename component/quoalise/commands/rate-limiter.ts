/**
 * Per-requester rate limit: a token bucket per bare JID, refilled at `perSecond` and holding at most one
 * second's worth (at least one request), so short bursts pass and a steady flood is refused.
 * Idle requesters are forgotten: memory grows with active requesters only.
 */
interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  // Re-inserted on every use: the least recently used bucket is always first.
  private buckets = new Map<string, Bucket>();
  private readonly burst: number;
  private readonly idleMs: number;

  constructor(readonly perSecond: number) {
    this.burst = Math.max(1, perSecond);
    this.idleMs = (this.burst / perSecond) * 1000; // time to refill completely
  }

  /** Takes one token for `key`; false when the requester is over the rate. */
  take(key: string, now: number): boolean {
    this.forgetIdle(now);
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    this.buckets.delete(key);
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Milliseconds until `key` may make a request again. */
  retryAfterMs(key: string): number {
    const b = this.buckets.get(key);
    return b ? Math.ceil(((1 - b.tokens) / this.perSecond) * 1000) : 0;
  }

  private forgetIdle(now: number): void {
    for (const [key, b] of this.buckets) {
      if (now - b.at < this.idleMs) break;
      this.buckets.delete(key);
    }
  }
}
