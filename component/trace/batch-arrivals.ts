/**
 * Which of a sender's signed batches (proofs of origin, trace/receipts.ts) have fully arrived here. A
 * sender signs each burst to one destination as one batch; its receiver answers with receipts signed
 * once per stanza. Holding the receipts until the batch they answer is whole makes one receipt
 * signature answer one origin signature — instead of one per inbox commit, which splits a burst in
 * three or four, each signature checked by the sender at about three times the cost of signing.
 */

/** Batches followed at once, at most (a batch not seen whole is forgotten in arrival order). */
const MAX_BATCHES = 1024;
/** Batches larger than this are not followed (the memory a peer's batch can take stays bounded). */
const MAX_BATCH_SIZE = 4096;

export class BatchArrivals {
  private readonly batches = new Map<string, { size: number; seen: Set<number> }>();
  /** Batches with receipts waiting that have not arrived whole yet. */
  private readonly open = new Set<string>();

  /** A message of batch `note` (its index among `size`) arrived and was checked. */
  arrived(note: string, index: number, size: number): void {
    if (size > MAX_BATCH_SIZE) return; // not followed: its receipts go at the pacer's pace
    let b = this.batches.get(note);
    if (!b) {
      if (this.batches.size >= MAX_BATCHES) this.batches.delete(this.batches.keys().next().value!);
      this.batches.set(note, (b = { size, seen: new Set() }));
    }
    b.seen.add(index);
  }

  /**
   * Receipts of messages of these batches wait to be signed: true when a batch with receipts waiting
   * has now arrived whole (sign now — with them, whatever part of a next batch is already here: waiting
   * for that one too would chain batches whenever they overlap), false when every batch concerned
   * still has a part on its way, undefined when no signed batch is concerned (senders that sign nothing).
   */
  waiting(notes: readonly string[]): boolean | undefined {
    if (notes.length === 0 && this.open.size === 0) return undefined;
    for (const n of notes) this.open.add(n);
    let whole = false;
    for (const n of this.open) {
      const b = this.batches.get(n);
      if (!b || b.seen.size >= b.size) {
        this.open.delete(n);
        this.batches.delete(n);
        whole = true;
      }
    }
    return whole;
  }

  /** The waiting receipts were signed (whole or not): nothing is waiting any more. */
  signed(): void {
    this.open.clear();
  }
}
