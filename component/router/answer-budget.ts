/**
 * Bytes of answers each requester domain has in the XMPP link: queued, or written but not yet taken by
 * the kernel. The gateway has one connection to its server, and apps of their own thread answer a
 * burst concurrently: 100 get_history of 3.7 MB from one grant holder held 2 GB in the gateway, and the
 * keepalive ping, queued behind them, went unanswered until the link was dropped — every app offline,
 * a neighbour's request lost with it. Now a domain's big answer waits its turn: it is refused
 * (resource-constraint, wait) when that domain already has answers in the link and this one would take
 * it past `quoalise.answer_bytes_per_domain`. One answer alone always passes (the server's stanza limit
 * bounds it), and other domains' answers are never held back by it.
 */
export class AnswerBudget {
  private readonly inLink = new Map<string, number>();
  /** Bumped when the connection changes: what the old one held is gone with it, never given back. */
  private generation = 0;

  /** `whenWritten`: calls back once everything sent so far is taken by the kernel (the link's). */
  constructor(readonly maxBytes: number, private readonly whenWritten: (cb: () => void) => void) {}

  /** Bytes of the domain's answers still in the link. */
  held(domain: string): number {
    return this.inLink.get(domain) ?? 0;
  }

  /** The domain has its whole budget in the link: refuse its next request before any work. */
  full(domain: string): boolean {
    return this.held(domain) >= this.maxBytes;
  }

  /**
   * Counts an answer of `bytes` for the domain until the link has written it; false (nothing counted)
   * when it must wait. The answer is sent in this turn of the event loop, or in the turn `sent` settles
   * in (the access entry committed first: on a busy database that is turns later, and the bytes were
   * given back before the answer was even queued — every answer of a burst passed).
   */
  take(domain: string, bytes: number, sent?: Promise<unknown>): boolean {
    const held = this.held(domain);
    if (held > 0 && held + bytes > this.maxBytes) return false;
    this.inLink.set(domain, held + bytes);
    const generation = this.generation;
    // After that turn's microtasks the answer is queued on the link, and whenWritten waits for it too.
    const watch = () =>
      setImmediate(() =>
        this.whenWritten(() => {
          if (generation === this.generation) this.give(domain, bytes);
        }),
      );
    if (sent) sent.then(watch, watch);
    else watch();
    return true;
  }

  /** A new connection: the old one's bytes are gone (whenWritten never calls back for them). */
  reset(): void {
    this.generation++;
    this.inLink.clear();
  }

  private give(domain: string, bytes: number): void {
    const left = this.held(domain) - bytes;
    if (left > 0) this.inLink.set(domain, left);
    else this.inLink.delete(domain);
  }
}
