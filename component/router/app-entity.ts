/**
 * An application's JID as an XMPP entity: disco#info from its adapter's capabilities, ping, and chat
 * messages handed to its adapter. Which handlers exist does not depend on the adapter kind.
 */
import { NS } from '../xmpp/namespaces.js';
import { IqHandlers } from './iq.js';
import { discoInfo, discoItems } from './disco.js';
import type { AppHost } from '../apps/app-host.js';

export function appHandlers(host: AppHost): IqHandlers {
  const h = new IqHandlers();
  h.on('get', NS.discoInfo, 'query', (iq) => {
    const node = iq.getChild('query')?.attrs.node;
    // Receipts tell senders (fedgate peers) that delivery to this app is confirmed after the inbox commit.
    const data = host.capabilities.has('deliver') ? [NS.receipts] : [];
    return discoInfo([{ category: 'client', type: 'bot', name: host.app.description || host.app.name }], [...h.namespaces(), NS.discoItems, ...data], node);
  });
  h.on('get', NS.discoItems, 'query', (iq) => discoItems([], iq.getChild('query')?.attrs.node));
  h.on('get', NS.ping, 'ping', () => null);
  return h;
}
