/**
 * Spaces signatures out: work that arrives within a gap of the last signature waits for the next slot
 * and is signed together with whatever else arrived meanwhile. An Ed25519 signature and its check cost
 * about as much as relaying a message, so a burst of acknowledgements or of outgoing messages shares one.
 *
 * The gap adapts to the rate: below HEAVY_PER_MS items a millisecond it is `minGapMs` (the first item
 * after a quiet moment is signed at once, the next ones wait at most that), so latency at an ordinary
 * rate stays what it was; above, messages already queue behind full windows, and the gap widens to
 * `maxGapMs`: batches grow instead of signatures.
 */
export class SignaturePacer<T> {
  private pending: T[] = [];
  private timer: NodeJS.Timeout | null = null;
  private last = -Infinity;
  private rate = 0;

  constructor(
    private readonly sign: (items: T[]) => void,
    private readonly minGapMs = 1,
    private readonly maxGapMs = 10,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The gap before the next signature: wide while the stream is heavy. */
  get gapMs(): number {
    return this.rate >= HEAVY_PER_MS ? this.maxGapMs : this.minGapMs;
  }

  add(items: readonly T[]): void {
    if (items.length === 0) return;
    this.pending.push(...items);
    if (this.timer) return;
    const wait = this.last + this.gapMs - this.now();
    if (wait <= 0) this.run();
    else this.timer = setTimeout(() => this.run(), wait);
  }

  /** Signs what waits now (stopping). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.pending.length) this.run();
  }

  private run(): void {
    this.timer = null;
    const now = this.now();
    const items = this.pending;
    // Items per millisecond since the previous signature (a quiet moment counts as a low rate).
    this.rate = items.length / Math.max(this.minGapMs, now - this.last);
    this.last = now;
    this.pending = [];
    this.sign(items);
  }
}

/** Two items a millisecond (2,000 messages a second) make a heavy stream. */
const HEAVY_PER_MS = 2;
