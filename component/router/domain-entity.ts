/** The subdomain itself: disco (identity, features, the apps as items), ping, version, time. */
import { xml } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';
import { IqHandlers } from './iq.js';
import { discoInfo, discoItems, refuseUnknownNode } from './disco.js';
import type { Apps } from '../apps/apps.js';
import type { AdminCommands } from '../admin/admin-commands.js';
import { traceForm, type PublishedKey } from '../trace/disco.js';

export interface DomainEntityOptions {
  domain: string;
  apps: Apps;
  version: string;
  /** The admin commands (XEP-0133 style) for the admins of the configuration. */
  admin?: AdminCommands;
  /** The log's published key (XEP-0128 form in disco#info), when the log is on. */
  trace?: PublishedKey;
}

export function domainHandlers(opts: DomainEntityOptions): IqHandlers {
  const h = new IqHandlers();
  const { admin } = opts;
  h.on('get', NS.discoInfo, 'query', (iq) => {
    const node = iq.getChild('query')?.attrs.node;
    const commandInfo = admin?.nodeInfo(iq, node);
    if (commandInfo) return commandInfo;
    refuseUnknownNode(opts.domain, node);
    const info = discoInfo([{ category: 'component', type: 'generic', name: 'fedgate energy-data gateway' }], [...h.namespaces(), NS.discoItems], node);
    if (opts.trace && node === undefined) info.append(traceForm(opts.trace));
    return info;
  });
  // Apps are listed to everyone for now; authorization will narrow this to the apps a requester may use.
  h.on('get', NS.discoItems, 'query', (iq) => {
    const node = iq.getChild('query')?.attrs.node;
    if (node === NS.commands) return admin ? admin.items(iq) : discoItems([], node);
    refuseUnknownNode(opts.domain, node);
    return discoItems(opts.apps.all().map((a) => ({ jid: a.jid, name: a.app.description || a.app.name })));
  });
  if (admin) h.on('set', NS.commands, 'command', (iq) => admin.execute(iq));
  h.on('get', NS.ping, 'ping', () => null);
  h.on('get', NS.version, 'query', () =>
    xml('query', { xmlns: NS.version }, xml('name', {}, 'fedgate'), xml('version', {}, opts.version)),
  );
  h.on('get', NS.time, 'time', () => {
    const now = new Date();
    return xml('time', { xmlns: NS.time }, xml('tzo', {}, '+00:00'), xml('utc', {}, now.toISOString().replace(/\.\d{3}Z$/, 'Z')));
  });
  return h;
}
