/**
 * Attribute escaping for the string-built XML (SenML and meta are built by concatenation for speed).
 */

// \t \n \r are escaped too: XML attribute-value normalisation would otherwise turn them into spaces.
const ATTR_SPECIAL = /[&<>"'\t\n\r]/;
const ATTR_SPECIAL_ALL = /[&<>"'\t\n\r]/g;
const ATTR_ENTITIES: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;',
};

// Characters XML 1.0 cannot carry at all, not even as a character reference; with the `u` flag the surrogate
// range only matches lone surrogates. Sending one would make the server close the component's stream.
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\uD800-\uDFFF]/u;

/** Describes the first character of `s` that XML 1.0 cannot carry (e.g. `U+0001`), or null when there is none. */
export function illegalXmlChar(s: string): string | null {
  const m = NOT_XML_CHAR.exec(s);
  return m ? 'U+' + m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0') : null;
}

/** Escapes a string for a double-quoted attribute value; assumes `illegalXmlChar(s)` is null. */
export function escapeAttr(s: string): string {
  return ATTR_SPECIAL.test(s) ? s.replace(ATTR_SPECIAL_ALL, (c) => ATTR_ENTITIES[c] ?? c) : s;
}
