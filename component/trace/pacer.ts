/**
 * Spaces signatures out: work that arrives within `gapMs` of the last signature waits for the next slot
 * and is signed together with whatever else arrived meanwhile. At a low rate nothing waits (the first
 * item after a quiet moment is signed at once); under load, batches grow instead of signatures — an
 * Ed25519 signature costs about as much as relaying a message, so a burst of acknowledgements or of
 * outgoing messages shares one.
 */
export class SignaturePacer<T> {
  private pending: T[] = [];
  private timer: NodeJS.Timeout | null = null;
  private last = -Infinity;

  constructor(
    private readonly gapMs: number,
    private readonly sign: (items: T[]) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

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
    this.last = this.now();
    const items = this.pending;
    this.pending = [];
    this.sign(items);
  }
}

/** The gap between two signatures of one kind on one thread. */
export const SIGNATURE_GAP_MS = 2;
