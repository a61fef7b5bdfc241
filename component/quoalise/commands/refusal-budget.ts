/**
 * How many refused or failed command calls of one requester domain get an entry of their own in the
 * transparency log. Every call is within the rate limits already, but a refusal costs the stranger
 * nothing and the log keeps each entry for ever: 500 refused calls a second from one domain grew it by
 * about half a megabyte a second. Past a burst of REFUSALS_BURST, one entry a second per domain; the
 * refusals in between are counted, and the count (`unlogged`) goes into the domain's next entry,
 * refused or allowed.
 * Allowed calls are always logged: they are what the log is for.
 *
 * A budget per domain is a budget per subdomain too: 3,000 refusals from 3,000 subdomains (a server with
 * wildcard subdomains) made 2,600 entries. So refusals of all domains together get at most
 * ALL_REFUSALS_PER_SECOND entries a second past a burst of ALL_REFUSALS_BURST; the others are counted
 * like the rest. A count dropped with its domain (past MAX_COUNTED_DOMAINS) goes into the next entry of
 * any domain: every refusal is logged or counted somewhere.
 */
import { RateLimiter } from '../../timing/rate-limiter.js';
import { TokenBucket } from '../../timing/token-bucket.js';

const REFUSALS_PER_SECOND = 1;
export const REFUSALS_BURST = 100;
export const ALL_REFUSALS_PER_SECOND = 10;
export const ALL_REFUSALS_BURST = 500;
/** Domains with refusals counted but not logged yet, at most (the oldest count moves to `forgotten` past this). */
export const MAX_COUNTED_DOMAINS = 10_000;

export class RefusalBudget {
  private readonly limiter = new RateLimiter(REFUSALS_PER_SECOND, REFUSALS_BURST);
  private all: TokenBucket | null = null;
  private readonly unlogged = new Map<string, number>();
  /** Counts of domains dropped from `unlogged`: carried by the next entry, whoever's. */
  private forgotten = 0;

  /** null: count this refusal, do not log it; else log it, with how many went unlogged before it (the domain's, and any forgotten). */
  take(domain: string, now: number): { unlogged: number } | null {
    this.all ??= new TokenBucket(ALL_REFUSALS_PER_SECOND, now, ALL_REFUSALS_BURST);
    if (this.limiter.take(domain, now) && this.all.take(now)) return { unlogged: this.drain(domain) };
    const n = (this.unlogged.get(domain) ?? 0) + 1;
    this.unlogged.delete(domain);
    if (this.unlogged.size >= MAX_COUNTED_DOMAINS) {
      const [oldest, count] = this.unlogged.entries().next().value!;
      this.unlogged.delete(oldest);
      this.forgotten += count;
    }
    this.unlogged.set(domain, n);
    return null;
  }

  /** For an allowed call's entry: the refusals not logged since the domain's last entry, and any forgotten (and forgets them). */
  drain(domain: string): number {
    const n = (this.unlogged.get(domain) ?? 0) + this.forgotten;
    this.unlogged.delete(domain);
    this.forgotten = 0;
    return n;
  }
}
