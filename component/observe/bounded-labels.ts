/**
 * Label values that come from remote parties (destinations, peers: a subscriber's JID is one) are
 * kept to a bounded set: the first `max` distinct values keep their own series, later ones share
 * `other`. Prometheus keeps every series it ever saw; a remote party must not grow that at will.
 */
export class BoundedLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly max = 500) {}

  /** The label value to use for `value`. */
  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(value);
    return value;
  }
}
