import { xml, type Element } from '../xmpp/xml.js';
import { QuoaliseFormatError } from './errors.js';

// Any name will do as long as input cannot close it early; parseXml checks that it did not.
const WRAPPER = 'fedgate-xml-fragment';

/**
 * Parses one XML element from a string with the same parser the XMPP stream uses (tests, fixtures,
 * stored stanzas). Throws QuoaliseFormatError on malformed XML or when `s` is not exactly one element.
 */
export function parseXml(s: string): Element {
  // xml.Parser is a stream parser: it emits 'start' for the root and 'element' for each complete child of
  // the root, so the input is wrapped in a dummy root and its children are collected.
  const parser = new xml.Parser();
  const found: Element[] = [];
  let error: unknown = null;
  let ended = false;
  parser.on('element', (el: Element) => found.push(el));
  parser.on('error', (e: unknown) => { error ??= e; });
  parser.on('end', () => { ended = true; });
  try {
    parser.write(`<${WRAPPER}>`);
    parser.write(s);
    if (ended) throw new QuoaliseFormatError('the input closes an element it never opened');
    parser.write(`</${WRAPPER}>`);
  } catch (e) {
    error ??= e;
  }
  if (error !== null) {
    if (error instanceof QuoaliseFormatError) throw error;
    throw new QuoaliseFormatError(`malformed XML: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!ended) throw new QuoaliseFormatError('malformed XML: an element is not closed');
  const [el, ...extra] = found;
  if (!el || extra.length > 0) throw new QuoaliseFormatError(`expected exactly one XML element, found ${found.length}`);
  el.parent = null;
  return el;
}
