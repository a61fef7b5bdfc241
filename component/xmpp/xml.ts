/**
 * The one place fedgate takes its XML toolkit from: ltx through @xmpp/component-core, so that every
 * Element comes from the same copy (instanceof checks fail across copies).
 */
import { xml, type Element } from '@xmpp/component-core';

export { xml };
export type { Element };

// XML 1.0 §2.2: C0 controls other than tab/LF/CR, U+FFFE/U+FFFF and lone surrogates are forbidden.
// ltx writes them raw and the server then kills the whole stream with not-well-formed.
const FORBIDDEN =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Removes the characters XML 1.0 forbids. Cheap when there are none (one regex scan). */
export function stripForbiddenXmlChars(s: string): string {
  FORBIDDEN.lastIndex = 0;
  return FORBIDDEN.test(s) ? s.replace(FORBIDDEN, '') : s;
}

export function escapeAttr(s: string): string {
  return xml.escapeXML(stripForbiddenXmlChars(s));
}

export function escapeText(s: string): string {
  return xml.escapeXMLText(stripForbiddenXmlChars(s));
}
