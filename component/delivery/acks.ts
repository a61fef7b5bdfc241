/**
 * Acknowledgements of committed messages, as each sender asked for them:
 * - XEP-0184: `<request xmlns="urn:xmpp:receipts"/>` → one `<received id="…"/>` message per message;
 * - fedgate's delivery protocol, for fedgate peers (they advertise `urn:fedgate:delivery:0`):
 *   `<request xmlns="urn:fedgate:delivery:0"/>` → one message per (sender, recipient) pair and batch,
 *   `<acks xmlns="urn:fedgate:delivery:0"><ack id="…"/>…</acks>`: under load, one stanza confirms
 *   hundreds of messages, which halves the server's routing work compared with receipts.
 * Either is sent only after the inbox commit that made the messages durable. fedgate's acks also carry,
 * per message, its entry in the receiver's transparency log and its digest, signed once per stanza
 * (component/trace/wire.ts).
 */
import { escapeAttr, type Element } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';
import { ackElements, type AckItem } from '../trace/wire.js';
import type { NoteSigner } from '../trace/note.js';

export class Acks {
  private receipts: string[] = [];
  /** `${to}\u0000${from}` → acknowledged messages, for the batched form. */
  private batched = new Map<string, AckItem[]>();

  /** Records the acknowledgement `stanza` asked for, if any, with its log entry and digest (the receipt). */
  add(stanza: Element, receipt?: { index: number; digest: string }): void {
    const { id, from, to } = stanza.attrs;
    if (!id || !from || !to) return;
    if (stanza.getChild('request', NS.fedgateDelivery)) {
      const key = `${from}\u0000${to}`;
      const item = { id, ...receipt };
      const items = this.batched.get(key);
      if (items) items.push(item);
      else this.batched.set(key, [item]);
    } else if (stanza.getChild('request', NS.receipts)) {
      this.receipts.push(
        `<message from="${escapeAttr(to)}" to="${escapeAttr(from)}" id="r-${escapeAttr(id)}"><received xmlns="${NS.receipts}" id="${escapeAttr(id)}"/></message>`,
      );
    }
  }

  /** The XEP-0184 receipts, serialized. */
  receiptStanzas(): string[] {
    return this.receipts;
  }

  /** fedgate's batched acknowledgements, per (sender, recipient) pair: to be written by ackStanza. */
  groups(): AckGroup[] {
    return [...this.batched].map(([key, items]) => {
      const [sender, receiver] = key.split('\u0000') as [string, string];
      return { sender, receiver, items };
    });
  }

  /** The acknowledgement stanzas, serialized; the batched ones signed by `signer`, when given. */
  stanzas(signer: NoteSigner | null = null): string[] {
    return [...this.receipts, ...this.groups().map((g) => ackStanza(g, signer))];
  }
}

/** The acknowledgements of one sender's messages to one of our apps. */
export interface AckGroup {
  /** The messages' from (the stanza goes back to it) and to (it comes from there). */
  sender: string;
  receiver: string;
  items: AckItem[];
}

/** One `<acks/>` stanza, signed by `signer` when given. */
export function ackStanza(g: AckGroup, signer: NoteSigner | null): string {
  return `<message from="${escapeAttr(g.receiver)}" to="${escapeAttr(g.sender)}"><acks xmlns="${NS.fedgateDelivery}">${ackElements(g.sender, g.receiver, g.items, signer)}</acks></message>`;
}

/**
 * Acknowledgements in one `<acks/>` stanza, at most: the largest window (`delivery.window`). A sender
 * reads at most twice as many from one stanza; a sender that ignores windows (or retransmits a lot)
 * must not make us write stanzas an honest fedgate would drop.
 */
export const ACKS_PER_STANZA = 10_000;

/**
 * Groups of the same pair merged, in order (acknowledgements held for one signature), each cut into
 * stanzas of at most `maxItems`.
 */
export function mergeGroups(groups: readonly AckGroup[], maxItems = ACKS_PER_STANZA): AckGroup[] {
  const merged = new Map<string, AckGroup>();
  for (const g of groups) {
    const key = `${g.sender}\u0000${g.receiver}`;
    const m = merged.get(key);
    if (m) m.items.push(...g.items);
    else merged.set(key, { ...g, items: [...g.items] });
  }
  const out: AckGroup[] = [];
  for (const g of merged.values()) {
    if (g.items.length <= maxItems) out.push(g);
    else for (let i = 0; i < g.items.length; i += maxItems) out.push({ ...g, items: g.items.slice(i, i + maxItems) });
  }
  return out;
}
