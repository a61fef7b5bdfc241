/** XML namespaces of the Quoalise wire protocol (see docs/quoalise.md) and of the 2019 proof of concept. */

/** `quoalise` root, its `data` children, `meta` and everything below it, `upstream-error`. */
export const NS_QUOALISE = 'urn:quoalise:0';
/** SenML, RFC 8428 XML form: `sensml` (record list) and `senml` (one record). */
export const NS_SENML = 'urn:ietf:params:xml:ns:senml';
/** XEP-0050 ad-hoc commands. */
export const NS_COMMANDS = 'http://jabber.org/protocol/commands';
/** XEP-0004 data forms. */
export const NS_DATA_FORMS = 'jabber:x:data';
/** Stanza error conditions (RFC 6120). */
export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
/** The 2019 proof of concept's `Sen1Message`. */
export const NS_SEN1 = 'http://xmpp.rocks';
