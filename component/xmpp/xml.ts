/**
 * The one place fedgate takes its XML toolkit from: ltx through @xmpp/component-core, so that every
 * Element comes from the same copy (instanceof checks fail across copies), and the helpers of the code
 * that builds XML as text (SenML, meta, stanzas on hot paths).
 */
import { xml, type Element } from '@xmpp/component-core';

export { xml };
export type { Element };

// XML 1.0 §2.2: C0 controls other than tab/LF/CR, U+FFFE/U+FFFF and lone surrogates (with the `u` flag
// the surrogate range matches only unpaired ones) cannot be carried, not even as character references.
// ltx writes them raw, and the server then kills the whole stream with not-well-formed.
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\uD800-\uDFFF]/u;
const NOT_XML_CHARS = new RegExp(NOT_XML_CHAR.source, 'gu');

/** Describes the first character of `s` that XML 1.0 cannot carry (e.g. `U+0001`), or null when there is none. */
export function illegalXmlChar(s: string): string | null {
  const m = NOT_XML_CHAR.exec(s);
  return m ? 'U+' + m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0') : null;
}

/**
 * Serialized XML known to hold only characters XML 1.0 allows (built by our encoders, which check every
 * string they write, around parts that went through `stripForbiddenXmlChars`): the link writes it without
 * scanning it again — a scan of a 3 MB get_history answer costs milliseconds on the XMPP thread.
 */
export class CleanXml {
  constructor(readonly xml: string) {}
}

/** Removes the characters XML 1.0 forbids; the link applies it to everything it sends. Cheap when there are none. */
export function stripForbiddenXmlChars(s: string): string {
  return NOT_XML_CHAR.test(s) ? s.replace(NOT_XML_CHARS, '') : s;
}

// \t \n \r are escaped too: attribute-value normalisation would otherwise turn them into spaces.
const ATTR_SPECIAL = /[&<>"'\t\n\r]/;
const ATTR_SPECIAL_ALL = /[&<>"'\t\n\r]/g;
const ATTR_ENTITIES: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;',
};

/** Escapes a string for a double-quoted attribute value. */
export function escapeAttr(s: string): string {
  return ATTR_SPECIAL.test(s) ? s.replace(ATTR_SPECIAL_ALL, (c) => ATTR_ENTITIES[c] ?? c) : s;
}

/** Escapes a string for element text. */
export function escapeText(s: string): string {
  return xml.escapeXMLText(s);
}
