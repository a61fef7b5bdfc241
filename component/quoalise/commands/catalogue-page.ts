/**
 * Pages of the catalogue (`list_series`), as XEP-0059 (Result Set Management) pages any list: the
 * request's `<command>` may hold `<set xmlns="http://jabber.org/protocol/rsm">` with `max` and `after`
 * (the last identifier of the previous page); the answer's `<quoalise>` then holds a `<set>` with the
 * page's first and last identifiers and the count of the whole catalogue. Without one, the first page.
 *
 * A page holds at most `quoalise.max_catalogue_series`, whatever `max` asks: the catalogue was answered
 * whole, and 40 requests at once for one of 100,000 series (16 MB each) ended the app's worker thread,
 * and every app sharing it, out of memory (sixth hostile campaign).
 */
import { xml, type Element } from '../../xmpp/xml.js';
import { StanzaError, quoted } from '../../xmpp/stanza-error.js';
import { MAX_IDENTIFIER_LENGTH } from '../identifier.js';

export const NS_RSM = 'http://jabber.org/protocol/rsm';

export interface CataloguePage {
  /** Series after this identifier (in identifier order); absent: from the first. */
  after?: string;
  /** At most this many series. */
  max: number;
  /** The request held a `<set>`: the answer holds one too. */
  asked: boolean;
}

/** The page a `list_series` command asks for, its `max` lowered to `cap`. Throws bad-request, or feature-not-implemented for backward paging. */
export function readPage(command: Element, cap: number): CataloguePage {
  const set = command.getChild('set', NS_RSM);
  if (!set) return { max: cap, asked: false };
  if (set.getChild('before') || set.getChild('index')) {
    throw new StanzaError('feature-not-implemented', 'the catalogue pages forward only: give max and after (the last identifier of the previous page), not before or index');
  }
  let max = cap;
  const maxText = set.getChildText('max');
  if (maxText !== null) {
    if (!/^\d{1,9}$/.test(maxText.trim())) throw new StanzaError('bad-request', `max is a number of series (0 or more), not ${quoted(maxText)}`);
    max = Math.min(Number(maxText.trim()), cap);
  }
  const after = set.getChildText('after')?.trim();
  if (after !== undefined && after.length > MAX_IDENTIFIER_LENGTH) throw new StanzaError('bad-request', `after is a series identifier: at most ${MAX_IDENTIFIER_LENGTH} characters`);
  return { ...(after ? { after } : {}), max, asked: true };
}

/** The answer's `<set>` (XEP-0059 §2.1): the page's first identifier and its position, its last, and the catalogue's count. */
export function pageSet(ids: string[], index: number, count: number): string {
  const first = ids[0];
  const set = xml('set', { xmlns: NS_RSM }, first === undefined ? null : xml('first', { index: String(index) }, first), first === undefined ? null : xml('last', {}, ids[ids.length - 1]!), xml('count', {}, String(count)));
  return set.toString();
}
