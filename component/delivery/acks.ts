/**
 * Acknowledgements of committed messages, as each sender asked for them:
 * - XEP-0184: `<request xmlns="urn:xmpp:receipts"/>` → one `<received id="…"/>` message per message;
 * - fedgate's delivery protocol, for fedgate peers (they advertise `urn:fedgate:delivery:0`):
 *   `<request xmlns="urn:fedgate:delivery:0"/>` → one message per (sender, recipient) pair and batch,
 *   `<acks xmlns="urn:fedgate:delivery:0"><ack id="…"/>…</acks>`: under load, one stanza confirms
 *   hundreds of messages, which halves the server's routing work compared with receipts.
 * Either is sent only after the inbox commit that made the messages durable.
 */
import { escapeAttr, type Element } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';

export class Acks {
  private receipts: string[] = [];
  /** `${to}\u0000${from}` → ids, for the batched form. */
  private batched = new Map<string, string[]>();

  /** Records the acknowledgement `stanza` asked for, if any. */
  add(stanza: Element): void {
    const { id, from, to } = stanza.attrs;
    if (!id || !from || !to) return;
    if (stanza.getChild('request', NS.fedgateDelivery)) {
      const key = `${from}\u0000${to}`;
      const ids = this.batched.get(key);
      if (ids) ids.push(id);
      else this.batched.set(key, [id]);
    } else if (stanza.getChild('request', NS.receipts)) {
      this.receipts.push(
        `<message from="${escapeAttr(to)}" to="${escapeAttr(from)}" id="r-${escapeAttr(id)}"><received xmlns="${NS.receipts}" id="${escapeAttr(id)}"/></message>`,
      );
    }
  }

  /** The acknowledgement stanzas, serialized. */
  stanzas(): string[] {
    const out = this.receipts;
    for (const [key, ids] of this.batched) {
      const [to, from] = key.split('\u0000') as [string, string];
      const items = ids.map((id) => `<ack id="${escapeAttr(id)}"/>`).join('');
      out.push(`<message from="${escapeAttr(from)}" to="${escapeAttr(to)}"><acks xmlns="${NS.fedgateDelivery}">${items}</acks></message>`);
    }
    return out;
  }
}
