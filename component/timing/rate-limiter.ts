/**
 * Per-key rate limit (the Quoalise commands' limits per requester and per requester domain): one token
 * bucket per key.
 * Buckets that have refilled completely are forgotten: memory grows with active requesters only.
 */
import { TokenBucket } from './token-bucket.js';

export class RateLimiter {
  // Re-inserted on every use: the least recently used bucket is always first.
  private buckets = new Map<string, TokenBucket>();

  constructor(readonly perSecond: number, readonly burst = perSecond) {}

  /** Takes one token for `key`; false when the requester is over the rate. */
  take(key: string, now: number): boolean {
    this.forgetIdle(now);
    const b = this.buckets.get(key) ?? new TokenBucket(this.perSecond, now, this.burst);
    this.buckets.delete(key);
    this.buckets.set(key, b);
    return b.take(now);
  }

  /** Milliseconds until `key` may make a request again. */
  retryAfterMs(key: string, now: number): number {
    return this.buckets.get(key)?.waitMs(now) ?? 0;
  }

  private forgetIdle(now: number): void {
    for (const [key, b] of this.buckets) {
      if (!b.isFull(now)) break;
      this.buckets.delete(key);
    }
  }
}
