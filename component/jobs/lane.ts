/**
 * One destination's queue as the send worker sees it: where it stands in the outbox, what is in
 * flight, whether it is held (retry backoff) and how the destination confirms delivery.
 */
import type { PeerMode } from './send-protocol.js';
import { TokenBucket } from '../timing/token-bucket.js';


export class Lane {
  /** Highest outbox id already handed to the link (rows after it are the next to send). */
  cursor = 0;
  /** Sent, not yet confirmed: outbox id → when it was sent (ms). Insertion order is send order. */
  readonly inflight = new Map<number, number>();
  /** Nothing is sent before this time (ms). */
  heldUntil = 0;
  mode: PeerMode | 'unknown' | 'probing' = 'unknown';
  probeFailures = 0;
  /** True when the last read found no more rows after the cursor. */
  drained = false;
  /** Throttle of subscription pushes to this destination, created at the first push. */
  pushes: TokenBucket | null = null;
  lastActive = Date.now();

  constructor(readonly destination: string) {}

  /** Resend from `id` on: forget the position past it (the receiver deduplicates anything sent twice). */
  rewindTo(id: number): void {
    this.cursor = Math.min(this.cursor, id - 1);
    this.drained = false;
  }
}
