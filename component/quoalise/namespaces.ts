/**
 * XML namespaces of the Quoalise wire protocol and of the 2019 proof of concept. The XMPP ones it
 * also uses (commands, data forms, stanza errors) are in component/xmpp/namespaces.ts.
 */

/** `quoalise` root, its `data` children, `meta` and everything below it, `upstream-error`. */
export const NS_QUOALISE = 'urn:quoalise:0';
/** SenML, RFC 8428 XML form: `sensml` (record list) and `senml` (one record). */
export const NS_SENML = 'urn:ietf:params:xml:ns:senml';
/** The 2019 proof of concept's `Sen1Message`. */
export const NS_SEN1 = 'http://xmpp.rocks';
