/**
 * Spaces signatures out: work that arrives within a gap of the last signature waits for the next slot
 * and is signed together with whatever else arrived meanwhile. An Ed25519 signature and its check cost
 * about as much as relaying a message, so a burst of acknowledgements or of outgoing messages shares one.
 *
 * The gap adapts to the load: at an ordinary rate it is `minGapMs` (the first item after a quiet moment
 * is signed at once, the next ones wait at most that), so latency stays what it was; when items arrive
 * fast (at least HEAVY_BATCH at once, and at least HEAVY_PER_MS a millisecond since the last signature:
 * messages already queue behind full windows), the gap widens to `maxGapMs`: batches grow instead of
 * signatures — a window-limited stream otherwise settles into small batches that ping-pong between the
 * two gateways. The rate, not the batch alone, decides: a steady 1,000 messages a second must not keep
 * itself in the wide gap (ten items per 10 ms would look heavy forever, and wait 5 ms each on average).
 *
 * `maxBatch` caps a batch: a full one is signed at once, without waiting for the gap. Without a cap a
 * window-limited stream settles into the opposite trap: the whole window leaves as one batch, is
 * confirmed as one, and comes back as one — the two gateways take turns instead of working at once
 * (bench:relay: 256 messages per turn, a third of the machine idle). Batches of a quarter of the window
 * keep four in flight, each confirmed while the next ones travel.
 */
export class SignaturePacer<T> {
  private pending: T[] = [];
  private timer: NodeJS.Timeout | null = null;
  private last = -Infinity;
  private heavy = false;

  constructor(
    private readonly sign: (items: T[]) => void,
    private readonly minGapMs = 1,
    private readonly maxGapMs = 10,
    private readonly now: () => number = () => performance.now(),
    private readonly maxBatch = Infinity,
  ) {}

  /** The gap before the next signature: wide while the stream is heavy. */
  get gapMs(): number {
    return this.heavy ? this.maxGapMs : this.minGapMs;
  }

  /**
   * Adds items to sign. `complete`, when the caller knows what the items answer (a receiver's receipts
   * answer the sender's signed batches): true — every batch waiting is now whole: sign at once, one
   * signature for the batch; false — more of a batch is on its way: wait for it, at most `maxGapMs`.
   */
  add(items: readonly T[], complete?: boolean): void {
    if (items.length === 0) return;
    this.pending.push(...items);
    if (complete === true || this.pending.length >= this.maxBatch) return this.flush();
    if (this.timer) return;
    const wait = complete === false ? this.maxGapMs : this.last + this.gapMs - this.now();
    if (wait <= 0) this.run();
    else this.timer = setTimeout(() => this.run(), wait);
  }

  /** Signs what waits now (stopping). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length) this.run();
  }

  private run(): void {
    this.timer = null;
    const now = this.now();
    const items = this.pending;
    this.heavy = items.length >= Math.max(HEAVY_BATCH, HEAVY_PER_MS * (now - this.last));
    this.last = now;
    this.pending = [];
    for (let i = 0; i < items.length; i += this.maxBatch) this.sign(items.length <= this.maxBatch ? items : items.slice(i, i + this.maxBatch));
  }
}

/** A heavy stream: batches of at least 8 (a steady 1,000 messages a second makes batches of one or two)… */
const HEAVY_BATCH = 8;
/** …arriving at 3,000 a second or more. */
const HEAVY_PER_MS = 3;
