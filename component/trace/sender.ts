/**
 * The sender's side of the log and of signed receipts, for the send job (component/delivery/):
 *
 * - before a burst of messages leaves, each gets its facts (its id, the SHA-256 of its payload) and,
 *   for fedgate peers, a proof of origin — one signature for the whole burst;
 * - when a confirmation arrives from a receiver that signs its receipts, the signature must hold over
 *   the receipts of exactly the messages sent, with our digest of each; otherwise the confirmation is a
 *   delivery failure (retried, then dead-lettered), never accepted;
 * - in the transaction that deletes delivered rows, one `transfer.sent` entry per message (destination,
 *   id, digest, records, series, how it was confirmed and, when signed, the receiver's log index), and the
 *   receiver's signed receipt kept as evidence (`fedgate audit peer-proof ENTRY`).
 */
import type { Db } from '../store/database.js';
import { bareJid } from '../xmpp/jid.js';
import { payloadDigest } from './digest.js';
import { originStatement, signBatch, StatementError, type MessageFacts } from './receipts.js';
import { NoteError, parseVerifierKey, type NoteSigner, type NoteVerifier } from './note.js';
import { FormatError } from './formats.js';
import { originElements, verifyAcks, type AckItem } from './wire.js';
import { traceOf } from './trace.js';
import { EvidenceStore, type Evidence } from './evidence.js';

/** Parsed peer keys kept, at most (a key is parsed again if it was dropped). */
const MAX_VERIFIERS = 1024;

/** What a confirmation brings besides the ids: the receiver's signed receipts, and the keys its domain publishes for them. */
export interface ConfirmationReceipt {
  /** The acknowledgement stanza's from (the receiver) and to (our app). */
  from: string;
  to: string;
  items: AckItem[];
  note: string | null;
  /** Encoded verifier keys the receiver's domain publishes for its receipts; null when it signs none. */
  keys: string[] | null;
}

interface Sent extends MessageFacts {
  records: number;
  series: string[];
  /** How it was confirmed, once it was. */
  confirmation?: 'signed receipt' | 'unsigned';
  receipt?: { index: number; evidence: Evidence };
}

/** A row's confirmation judged: delivered ({}), `unproven` (ignored, with why) or `failed` (why). */
export interface ReceiptVerdict {
  unproven?: string;
  failed?: string;
}

export class SenderTrace {
  /** Rows sent and not yet recorded as delivered or failed. */
  private readonly sent = new Map<number, Sent>();
  private readonly verifiers = new Map<string, NoteVerifier>();
  private readonly evidence: EvidenceStore;

  constructor(
    private readonly db: Db,
    private readonly signer: NoteSigner | null,
    private readonly stanzaId: (rowId: number) => string,
  ) {
    this.evidence = new EvidenceStore(db);
  }

  /**
   * Records the facts of rows about to leave and returns, per row to a fedgate peer (`signed`), its proof
   * of origin as XML to put in the message. One signature per destination covers the whole burst: its
   * receiver sees the batch whole and answers it with one signed receipt (trace/batch-arrivals.ts).
   */
  prepare(
    rows: ReadonlyArray<{ id: number; sender: string; destination: string; payload: string; digest: string | null; records: number; series: string; signed: boolean }>,
  ): Map<number, string> {
    const batches = new Map<string, { statements: string[]; ids: number[] }>();
    for (const r of rows) {
      const facts: Sent = {
        from: bareJid(r.sender),
        to: bareJid(r.destination),
        id: this.stanzaId(r.id),
        // Computed when the row was queued (off the send path); rows queued before that was done, here.
        digest: r.digest ?? payloadDigest(r.payload),
        records: r.records,
        series: r.series.split('\n').filter(Boolean),
      };
      this.sent.set(r.id, facts);
      if (!r.signed || !this.signer) continue;
      let statement: string;
      try {
        statement = originStatement(facts);
      } catch (err) {
        if (!(err instanceof StatementError)) throw err; // a JID that cannot be signed leaves unsigned
        continue;
      }
      let b = batches.get(facts.to);
      if (!b) batches.set(facts.to, (b = { statements: [], ids: [] }));
      b.statements.push(statement);
      b.ids.push(r.id);
    }
    const out = new Map<number, string>();
    for (const { statements, ids } of batches.values()) {
      const batch = signBatch(statements, 'origins', this.signer!);
      const element = originElements(batch.note);
      ids.forEach((id, i) => out.set(id, element(i, batch.path(i))));
    }
    return out;
  }

  /**
   * Judges a confirmation of `ids` (rows of ours it names). A receiver that signs receipts must have
   * signed exactly these, over our digests: a receipt that does not hold proves nothing (anyone who can
   * forge the receiver's `from` can send one), one it signed over another payload is a failure.
   */
  judge(ids: readonly number[], receipt: ConfirmationReceipt | undefined): Map<number, ReceiptVerdict> {
    const verdicts = new Map<number, ReceiptVerdict>();
    const keys = receipt?.keys ?? null;
    if (!keys) {
      for (const id of ids) {
        const s = this.sent.get(id);
        if (s) s.confirmation = 'unsigned';
        verdicts.set(id, {});
      }
      return verdicts;
    }
    let checked: Map<string, { index: number; digest: string; evidence: Evidence }> | null = null;
    let problem = 'the receipt is not signed';
    for (const k of keys) {
      const v = this.verifier(k);
      if (!v) continue;
      try {
        checked = verifyAcks({ items: receipt!.items, note: receipt!.note }, receipt!.to, receipt!.from, v);
        break;
      } catch (err) {
        if (!(err instanceof StatementError || err instanceof NoteError || err instanceof FormatError)) throw err;
        problem = err.message;
      }
    }
    for (const id of ids) {
      const s = this.sent.get(id);
      const r = s ? checked?.get(s.id) : undefined;
      if (!s || !checked || !r) {
        verdicts.set(id, { unproven: `the receiver publishes a key but its receipt does not hold: ${problem}` });
      } else if (r.digest !== s.digest) {
        verdicts.set(id, { failed: `the receiver signed a receipt for another payload (its digest ${r.digest.slice(0, 12)}…, ours ${s.digest.slice(0, 12)}…)` });
      } else {
        s.confirmation = 'signed receipt';
        s.receipt = { index: r.index, evidence: r.evidence };
        verdicts.set(id, {});
      }
    }
    return verdicts;
  }

  /** The transaction of `recordDelivered` committed: these rows' facts are in the log. */
  committed(ids: readonly number[]): void {
    for (const id of ids) this.sent.delete(id);
  }

  /** The transaction of `recordDelivered` rolled back: note rows it added are gone, so are their cached ids. */
  rolledBack(): void {
    this.evidence.forgetCached();
  }

  /** A row failed or died: forget its facts (they are taken again when it is sent again). */
  forget(id: number): void {
    this.sent.delete(id);
  }

  /**
   * Inside the transaction that deletes delivered rows: one `transfer.sent` entry per app and destination,
   * listing the messages, and the receivers' signed receipts kept as that entry's evidence. The facts
   * are kept until `committed`: a transaction the disk refused is tried again with them.
   */
  recordDelivered(ids: readonly number[]): void {
    const trace = traceOf(this.db);
    const done = ids.map((id) => this.sent.get(id)).filter((s): s is Sent => s !== undefined);
    if (!trace.enabled || done.length === 0) return;
    const groups = new Map<string, Sent[]>();
    for (const s of done) {
      const key = `${s.from}\u0000${s.to}`;
      const g = groups.get(key);
      if (g) g.push(s);
      else groups.set(key, [s]);
    }
    const members = [...groups.values()];
    const indexes = trace.writeAll(
      members.map((g) => ({
        kind: 'transfer.sent',
        fields: {
          app: g[0]!.from,
          destination: g[0]!.to,
          series: [...new Set(g.flatMap((s) => s.series))].slice(0, 20),
          messages: g.map((s) => ({
            id: s.id,
            digest: s.digest,
            records: s.records,
            series: s.series,
            confirmation: s.confirmation ?? 'none (no bounce within the window)',
            receiverIndex: s.receipt?.index,
          })),
        },
      })),
    );
    members.forEach((g, i) => this.evidence.keep(indexes[i]!, g.flatMap((s) => (s.receipt ? [{ id: s.id, evidence: s.receipt.evidence }] : []))));
  }

  private verifier(encoded: string): NoteVerifier | null {
    let v = this.verifiers.get(encoded);
    if (!v) {
      try {
        v = parseVerifierKey(encoded);
      } catch {
        return null;
      }
      // Bounded: every peer's keys pass through here; the oldest parsed key goes first.
      if (this.verifiers.size >= MAX_VERIFIERS) this.verifiers.delete(this.verifiers.keys().next().value!);
      this.verifiers.set(encoded, v);
    }
    return v;
  }
}
