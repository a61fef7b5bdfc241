/**
 * Who may send data to our apps: the consumers whose destination is one of our apps, held in memory
 * on the XMPP thread (reloaded when consumers_version changes) so that checking a message costs no
 * SQL. Data from a sender with no matching consumer is refused and nothing is stored.
 */
import type { Db } from '../store/database.js';
import { ConsumerStore } from './consumers.js';
import { seriesMatcher } from './series-pattern.js';

export class Entitlements {
  /** `${sender} ${destination}` → matchers of the series that sender may send there. */
  private rules = new Map<string, Array<(s: string) => boolean>>();
  private version = -1;
  private timer: NodeJS.Timeout | null = null;
  private readonly consumers: ConsumerStore;

  constructor(db: Db, private readonly domain: string) {
    this.consumers = new ConsumerStore(db);
    this.reload();
  }

  /** Polls for changes made by the CLI or by subscriptions. */
  watch(pollMs = 250): void {
    this.timer = setInterval(() => this.refresh(), pollMs);
    this.timer.unref();
  }

  /** Reloads if the consumers changed since the last load (one single-row read otherwise). */
  refresh(): void {
    if (this.consumers.version() !== this.version) this.reload();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The first series in `series` that `sender` may not send to `destination`, or null if all are allowed. */
  firstRefused(sender: string, destination: string, series: Iterable<string>): string | null {
    const matchers = this.rules.get(`${sender} ${destination}`);
    for (const s of series) if (!matchers?.some((m) => m(s))) return s;
    return null;
  }

  /** True when some consumer names `sender` as a source of data for `destination` (whatever the series). */
  isSource(sender: string, destination: string): boolean {
    return this.rules.has(`${sender} ${destination}`);
  }

  private reload(): void {
    this.version = this.consumers.version();
    const rules = new Map<string, Array<(s: string) => boolean>>();
    for (const c of this.consumers.list()) {
      if (!c.destination.endsWith(`@${this.domain}`)) continue;
      const key = `${c.source} ${c.destination}`;
      let list = rules.get(key);
      if (!list) rules.set(key, (list = []));
      list.push(seriesMatcher(c.series));
    }
    this.rules = rules;
  }
}
