/** XMPP namespaces used by the core (Quoalise's own are in component/quoalise/namespaces.ts). */
export const NS = {
  stanzas: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  discoInfo: 'http://jabber.org/protocol/disco#info',
  discoItems: 'http://jabber.org/protocol/disco#items',
  ping: 'urn:xmpp:ping',
  version: 'jabber:iq:version',
  time: 'urn:xmpp:time',
  commands: 'http://jabber.org/protocol/commands',
  dataForms: 'jabber:x:data',
  receipts: 'urn:xmpp:receipts',
  stanzaId: 'urn:xmpp:sid:0',
  /** fedgate's batched delivery acknowledgements (see component/delivery/). */
  fedgateDelivery: 'urn:fedgate:delivery:0',
} as const;
