/**
 * How many refused or failed command calls of one requester domain get an entry of their own in the
 * transparency log. Every call is within the rate limits already, but a refusal costs the stranger
 * nothing and the log keeps each entry for ever: 500 refused calls a second from one domain grew it by
 * about half a megabyte a second. Past a burst of REFUSALS_BURST, one entry a second per domain; the
 * refusals in between are counted, and the count (`unlogged`) goes into the domain's next entry,
 * refused or allowed.
 * Allowed calls are always logged: they are what the log is for.
 */
import { RateLimiter } from '../../timing/rate-limiter.js';

const REFUSALS_PER_SECOND = 1;
export const REFUSALS_BURST = 100;
/** Domains with refusals counted but not logged yet, at most (the oldest count is dropped past this). */
const MAX_COUNTED_DOMAINS = 10_000;

export class RefusalBudget {
  private readonly limiter = new RateLimiter(REFUSALS_PER_SECOND, REFUSALS_BURST);
  private readonly unlogged = new Map<string, number>();

  /** null: count this refusal, do not log it; else log it, with how many of the domain's went unlogged before it. */
  take(domain: string, now: number): { unlogged: number } | null {
    if (this.limiter.take(domain, now)) return { unlogged: this.drain(domain) };
    const n = (this.unlogged.get(domain) ?? 0) + 1;
    this.unlogged.delete(domain);
    if (this.unlogged.size >= MAX_COUNTED_DOMAINS) this.unlogged.delete(this.unlogged.keys().next().value!);
    this.unlogged.set(domain, n);
    return null;
  }

  /** For an allowed call's entry: the domain's refusals not logged since its last entry (and forgets them). */
  drain(domain: string): number {
    const n = this.unlogged.get(domain) ?? 0;
    if (n) this.unlogged.delete(domain);
    return n;
  }
}
