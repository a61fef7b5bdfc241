/**
 * One destination's queue as the send worker sees it: where it stands in the outbox, what is in
 * flight, whether it is held (retry backoff) and how the destination confirms delivery.
 */
import type { PeerMode } from './send-protocol.js';

export interface InFlight {
  sentAt: number;
  kind: 'flow' | 'push';
}

export class Lane {
  /** Highest outbox id already handed to the link (rows after it are the next to send). */
  cursor = 0;
  /** Sent, not yet confirmed. */
  readonly inflight = new Map<number, InFlight>();
  /** Nothing is sent before this time (ms). */
  heldUntil = 0;
  mode: PeerMode | 'unknown' | 'probing' = 'unknown';
  probeFailures = 0;
  /** True when the last read found no more rows after the cursor. */
  drained = false;
  /** Token bucket for throttled pushes. */
  tokens = 0;
  tokensAt = 0;
  lastActive = Date.now();

  constructor(readonly destination: string) {}

  /** Resend from `id` on: forget the position past it (the receiver deduplicates anything sent twice). */
  rewindTo(id: number): void {
    this.cursor = Math.min(this.cursor, id - 1);
    this.drained = false;
  }

  /** Takes one push token if available (rate per second, burst of one second's worth). */
  takeToken(ratePerSecond: number, now: number): boolean {
    this.tokens = Math.min(ratePerSecond, this.tokens + ((now - this.tokensAt) / 1000) * ratePerSecond);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** When the next token arrives (ms from now). */
  tokenWaitMs(ratePerSecond: number): number {
    return Math.ceil(((1 - this.tokens) / ratePerSecond) * 1000);
  }
}
