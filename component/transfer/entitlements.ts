/**
 * Who may send data to our apps: the consumers whose destination is one of our apps, held in memory
 * on the XMPP thread so that checking a message costs no SQL. Data from a sender with no matching
 * consumer is refused and nothing is stored. Loaded once; then the change feed says which consumers
 * changed (`update`) and only those are read again.
 */
import type { Db } from '../store/database.js';
import { ConsumerStore, type Consumer } from './consumers.js';
import { seriesMatcher } from './series-pattern.js';

type Matcher = (s: string) => boolean;

export class Entitlements {
  /** `${sender} ${destination}` → consumer id → matcher of the series that sender may send there. */
  private rules = new Map<string, Map<number, Matcher>>();
  /** consumer id → its key in `rules`, to drop it when it changes. */
  private keys = new Map<number, string>();
  private readonly consumers: ConsumerStore;

  constructor(db: Db, private readonly domain: string) {
    this.consumers = new ConsumerStore(db);
    for (const c of this.consumers.list()) this.add(c);
  }

  /** These consumers were added, changed or removed: read them again. */
  update(ids: Iterable<number>): void {
    for (const id of ids) {
      this.drop(id);
      const c = this.consumers.get(id);
      if (c) this.add(c);
    }
  }

  /** The first series in `series` that `sender` may not send to `destination`, or null if all are allowed. */
  firstRefused(sender: string, destination: string, series: Iterable<string>): string | null {
    const matchers = this.rules.get(`${sender} ${destination}`);
    for (const s of series) {
      let ok = false;
      if (matchers) for (const m of matchers.values()) if ((ok = m(s))) break;
      if (!ok) return s;
    }
    return null;
  }

  /** True when some consumer names `sender` as a source of data for `destination` (whatever the series). */
  isSource(sender: string, destination: string): boolean {
    return this.rules.has(`${sender} ${destination}`);
  }

  private add(c: Consumer): void {
    if (!c.destination.endsWith(`@${this.domain}`)) return;
    const key = `${c.source} ${c.destination}`;
    let byId = this.rules.get(key);
    if (!byId) this.rules.set(key, (byId = new Map()));
    byId.set(c.id, seriesMatcher(c.series));
    this.keys.set(c.id, key);
  }

  private drop(id: number): void {
    const key = this.keys.get(id);
    if (key === undefined) return;
    this.keys.delete(id);
    const byId = this.rules.get(key)!;
    byId.delete(id);
    if (byId.size === 0) this.rules.delete(key);
  }
}
