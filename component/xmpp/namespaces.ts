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
  /** Consent notifications: the machine-readable part of each message (see component/consent/notification.ts). */
  fedgateConsent: 'urn:fedgate:consent:0',
  /** fedgate's admin commands on the domain's JID (XEP-0133 style). */
  fedgateAdmin: 'urn:fedgate:admin:0',
} as const;
