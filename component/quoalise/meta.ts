/**
 * The Quoalise `meta` element, both ways, by the generic rule of quoalise.md: a nested key is a
 * child element, a scalar is an attribute. Everything is in `urn:quoalise:0`.
 */
import type { Element } from '../xmpp/xml.js';
import { QuoaliseFormatError } from './errors.js';
import { NS_QUOALISE } from './namespaces.js';
import type { Meta } from './types.js';
import { escapeAttr, illegalXmlChar } from '../xmpp/xml.js';

// Deep enough for any real metadata; bounds recursion on hostile input and on cyclic objects.
const MAX_DEPTH = 16;
/** A value longer than this is refused (characters): one 20 MB value, served, held the link to ejabberd past its keepalive. */
export const MAX_META_VALUE_LENGTH = 65_536;
// An XML name without prefix; names starting with "xml" are reserved by XML itself.
const KEY = /^(?![Xx][Mm][Ll])[A-Za-z_][A-Za-z0-9._-]*$/;

/**
 * Encodes metadata as a `<meta …>` string. It carries no `xmlns`: the caller places it under
 * `<quoalise xmlns="urn:quoalise:0">`, whose namespace it inherits. Empty metadata gives `<meta/>`.
 * Throws QuoaliseFormatError for a key that is not an XML name or a value XML cannot carry.
 */
export function encodeMeta(meta: Meta): string {
  return encodeNode('meta', meta, 'meta', 0);
}

function encodeNode(name: string, node: Meta, path: string, depth: number): string {
  if (depth > MAX_DEPTH) throw new QuoaliseFormatError(`meta is nested deeper than ${MAX_DEPTH} levels at ${path}`);
  let attrs = '';
  let children = '';
  // Keys in sorted order: the encoding is then canonical (attributes sorted, as component/trace/digest.ts
  // digests data), so a message's digest is the hash of the string as written, without parsing it back.
  for (const key of Object.keys(node).sort()) {
    const value: unknown = node[key];
    if (!KEY.test(key)) throw new QuoaliseFormatError(`meta key ${JSON.stringify(key)} at ${path} is not a valid XML name`);
    if (typeof value === 'string') {
      const bad = illegalXmlChar(value);
      if (bad !== null) throw new QuoaliseFormatError(`meta value ${path}/@${key} contains ${bad}, which XML cannot carry`);
      if (value.length > MAX_META_VALUE_LENGTH) throw new QuoaliseFormatError(`meta value ${path}/@${key} is longer than ${MAX_META_VALUE_LENGTH} characters`);
      attrs += ` ${key}="${escapeAttr(value)}"`;
    } else if (typeof value === 'object' && value !== null) {
      children += encodeNode(key, value as Meta, `${path}/${key}`, depth + 1);
    } else {
      throw new QuoaliseFormatError(`meta value ${path}/@${key} must be a string or a nested object`);
    }
  }
  return children === '' ? `<${name}${attrs}/>` : `<${name}${attrs}>${children}</${name}>`;
}

// Keys come from the wire: define them rather than assign them, so that a key named `__proto__`
// is an ordinary key and not a prototype change.
function setKey(target: Meta, key: string, value: string | Meta): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Decodes a `meta` element. Attributes become string keys, child elements nested keys (by local name;
 * the children's namespaces and text are not kept). Namespace declarations and prefixed attributes
 * (`xml:lang`, …) are outside the rule and skipped. The same key twice (two children, or a child and an
 * attribute) cannot be a dictionary and throws QuoaliseFormatError.
 *
 * The result is always in the current generation's shape: the older `measurement/physical`,
 * `measurement/business`, `measurement/aggregate` and `measurement/sampling` are lifted into flat
 * `measurement` attributes (see liftOldGeneration).
 */
export function decodeMeta(el: Element): Meta {
  if (!el.is('meta', NS_QUOALISE)) {
    throw new QuoaliseFormatError(`expected <meta> in ${NS_QUOALISE}, got <${el.name}> in ${el.getNS() ?? 'no namespace'}`);
  }
  const meta = decodeNode(el, 'meta', 0);
  const measurement = meta.measurement;
  if (typeof measurement === 'object') liftOldGeneration(measurement);
  return meta;
}

function decodeNode(el: Element, path: string, depth: number): Meta {
  if (depth > MAX_DEPTH) throw new QuoaliseFormatError(`meta is nested deeper than ${MAX_DEPTH} levels at ${path}`);
  const out: Meta = {};
  for (const key of Object.keys(el.attrs)) {
    const value = el.attrs[key];
    if (value === undefined || key === 'xmlns' || key.includes(':')) continue;
    // Refused on arrival, before the message is acknowledged: the store would refuse it later (a dead letter).
    if (value.length > MAX_META_VALUE_LENGTH) throw new QuoaliseFormatError(`meta value ${path}/@${key} is longer than ${MAX_META_VALUE_LENGTH} characters`);
    setKey(out, key, value);
  }
  for (const child of el.getChildElements()) {
    const key = child.getName();
    if (Object.prototype.hasOwnProperty.call(out, key)) {
      throw new QuoaliseFormatError(`meta key ${path}/${key} appears twice`);
    }
    setKey(out, key, decodeNode(child, `${path}/${key}`, depth + 1));
  }
  return out;
}

// Older generation: child element → { old attribute → current flat measurement attribute }.
const OLD_GENERATION: Record<string, Record<string, string>> = {
  physical: { quantity: 'quantity', type: 'type', unit: 'unit' },
  business: { direction: 'direction' },
  aggregate: { type: 'aggregation' },
  sampling: { interval: 'sampling-interval' },
};

/**
 * Moves the older generation's nested attributes into flat `measurement` attributes. A current-generation
 * attribute already present wins, and the conflicting old value stays where it was. Attributes without a
 * current equivalent (`business/@graph`) also stay in place; an old child left empty is removed.
 */
function liftOldGeneration(measurement: Meta): void {
  for (const [child, mapping] of Object.entries(OLD_GENERATION)) {
    const old = measurement[child];
    if (typeof old !== 'object') continue;
    for (const [oldKey, newKey] of Object.entries(mapping)) {
      const value = old[oldKey];
      if (typeof value !== 'string' || measurement[newKey] !== undefined) continue;
      setKey(measurement, newKey, value);
      delete old[oldKey];
    }
    if (Object.keys(old).length === 0) delete measurement[child];
  }
}
