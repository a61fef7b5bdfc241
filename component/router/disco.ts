/** Builders for XEP-0030 service discovery answers. */
import { xml, type Element } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';
import { StanzaError } from '../xmpp/stanza-error.js';

export interface Identity {
  category: string;
  type: string;
  name: string;
}

export function discoInfo(identities: Identity[], features: string[], node?: string): Element {
  const q = xml('query', { xmlns: NS.discoInfo, node });
  for (const i of identities) q.append(xml('identity', { category: i.category, type: i.type, name: i.name }));
  for (const f of [...new Set(features)].sort()) q.append(xml('feature', { var: f }));
  return q;
}

export function discoItems(items: Array<{ jid: string; name?: string; node?: string }>, node?: string): Element {
  const q = xml('query', { xmlns: NS.discoItems, node });
  for (const i of items) q.append(xml('item', { jid: i.jid, name: i.name, node: i.node }));
  return q;
}

/**
 * XEP-0030 §3.1: disco#info on a node the entity does not have (or does not offer this requester) is
 * item-not-found. The entity's own info (no node) and the commands node are answered by the caller.
 */
export function refuseUnknownNode(entity: string, node: string | undefined): void {
  if (node !== undefined && node !== NS.commands) throw new StanzaError('item-not-found', `${entity} has no node ${node.slice(0, 100)}`);
}
