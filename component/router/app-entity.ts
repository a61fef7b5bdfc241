/**
 * An application's JID as an XMPP entity: disco#info from its adapter's capabilities, ping, the
 * Quoalise ad-hoc commands, and chat messages handed to its adapter. Which handlers exist does not
 * depend on the adapter kind.
 */
import { NS } from '../xmpp/namespaces.js';
import { IqHandlers } from './iq.js';
import { discoInfo, discoItems } from './disco.js';
import type { AppHost } from '../apps/app-host.js';
import type { QuoaliseCommands } from '../quoalise/commands/ad-hoc.js';

export function appHandlers(host: AppHost, commands: QuoaliseCommands): IqHandlers {
  const h = new IqHandlers();
  h.on('get', NS.discoInfo, 'query', (iq) => {
    const node = iq.getChild('query')?.attrs.node;
    // Tells senders that delivery to this app is confirmed after the inbox commit (fedgate's batched
    // acks, or XEP-0184 receipts). From the configuration, whether or not the app's worker is ready.
    const data = host.acceptsData ? [NS.receipts, NS.fedgateDelivery] : [];
    return (
      commands.nodeInfo(host, iq, node) ??
      discoInfo([{ category: 'client', type: 'bot', name: host.app.description || host.app.name }], [...h.namespaces(), NS.discoItems, ...data, ...commands.features(host)], node)
    );
  });
  h.on('get', NS.discoItems, 'query', (iq) => {
    const node = iq.getChild('query')?.attrs.node;
    return node === NS.commands ? commands.items(host, iq) : discoItems([], node);
  });
  h.on('set', NS.commands, 'command', (iq) => commands.execute(host, iq));
  h.on('get', NS.ping, 'ping', () => null);
  return h;
}
