/** Builders for XEP-0030 service discovery answers. */
import { xml, type Element } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';

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
