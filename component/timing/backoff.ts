/**
 * Exponential backoff with "equal jitter": the delay doubles from `initialMs` up to `maxMs`, and each
 * wait is drawn in [delay/2, delay] so that many gateways restarting together do not stampede.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions) {}

  /** The next wait, in milliseconds. */
  next(): number {
    const ceiling = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    const r = (this.opts.random ?? Math.random)();
    return Math.round(ceiling / 2 + (ceiling / 2) * r);
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Delay before retry number `attempts` (1-based) of a stored job: same law, deterministic ceiling. */
export function retryDelayMs(attempts: number, initialMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
