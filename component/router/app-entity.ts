/**
 * An application's JID as an XMPP entity: disco#info from its adapter's capabilities, ping, the
 * Quoalise ad-hoc commands, and chat messages handed to its adapter. Which handlers exist does not
 * depend on the adapter kind.
 */
import { NS } from '../xmpp/namespaces.js';
import { xml, type Element } from '../xmpp/xml.js';
import { IqHandlers } from './iq.js';
import { discoInfo, discoItems, refuseUnknownNode } from './disco.js';
import type { AppHost } from '../apps/app-host.js';
import type { QuoaliseCommands } from '../quoalise/commands/ad-hoc.js';
import type { ConsentCommands } from '../consent/commands/consent-commands.js';
import { bareJid } from '../xmpp/jid.js';

export function appHandlers(host: AppHost, commands: QuoaliseCommands, consent?: ConsentCommands): IqHandlers {
  const h = new IqHandlers();
  const requester = (iq: Element) => bareJid(iq.attrs.from ?? '');
  h.on('get', NS.discoInfo, 'query', (iq) => {
    const node = iq.getChild('query')?.attrs.node;
    const nodeInfo = commands.nodeInfo(host, iq, node) ?? consent?.nodeInfo(host, requester(iq), node);
    if (nodeInfo) return nodeInfo;
    refuseUnknownNode(host.jid, node);
    // Tells senders that delivery to this app is confirmed after the inbox commit (fedgate's batched
    // acks, or XEP-0184 receipts). From the configuration, whether or not the app's worker is ready.
    const data = host.acceptsData ? [NS.receipts, NS.fedgateDelivery] : [];
    return discoInfo(
      [{ category: 'client', type: 'bot', name: host.app.description || host.app.name }],
      [...h.namespaces(), NS.discoItems, ...data, ...commands.features(host), ...(consent?.features(host) ?? [])],
      node,
    );
  });
  h.on('get', NS.discoItems, 'query', (iq) => {
    const node = iq.getChild('query')?.attrs.node;
    refuseUnknownNode(host.jid, node);
    if (node !== NS.commands) return discoItems([], node);
    // The Quoalise commands (to requesters with a consent), then the consent commands.
    const items = commands.items(host, iq);
    for (const i of consent?.items(host, requester(iq), iq.attrs.to) ?? []) items.append(xml('item', i));
    return items;
  });
  h.on('set', NS.commands, 'command', (iq) => {
    const node = iq.getChild('command', NS.commands)?.attrs.node;
    return consent?.handles(host, node) ? consent.execute(host, iq) : commands.execute(host, iq);
  });
  h.on('get', NS.ping, 'ping', () => null);
  return h;
}
