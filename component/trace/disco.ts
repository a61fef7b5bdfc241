/**
 * How a gateway publishes its log's key: a XEP-0128 extended form in its domain's disco#info, of
 * FORM_TYPE `urn:fedgate:trace:0`:
 *
 *   <x xmlns="jabber:x:data" type="result">
 *     <field var="FORM_TYPE" type="hidden"><value>urn:fedgate:trace:0</value></field>
 *     <field var="origin"><value>energy.example.org/fedgate</value></field>
 *     <field var="key"><value>energy.example.org/fedgate+1a2b3c4d+AQ…</value></field>   (one or more)
 *     <field var="signs"><value>receipts</value><value>origins</value></field>
 *   </x>
 *
 * `signs` says what the gateway signs, so that a peer demands exactly those signatures of it: receipts
 * (its acknowledgements) and origins (its data messages). A gateway that publishes no form signs nothing.
 */
import { xml, type Element } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';

export const NS_TRACE = 'urn:fedgate:trace:0';

export type Signs = 'receipts' | 'origins';

export interface PublishedKey {
  origin: string;
  /** Encoded verifier keys: the current one first, then any still valid after a rotation. */
  keys: string[];
  signs: Signs[];
}

export function traceForm(p: PublishedKey): Element {
  const field = (v: string, values: string[], type?: string) => xml('field', { var: v, type }, ...values.map((x) => xml('value', {}, x)));
  return xml(
    'x',
    { xmlns: NS.dataForms, type: 'result' },
    field('FORM_TYPE', [NS_TRACE], 'hidden'),
    field('origin', [p.origin]),
    field('key', p.keys, 'text-multi'),
    field('signs', p.signs, 'list-multi'),
  );
}

/** Keys read from one peer's form, at most. */
export const MAX_PUBLISHED_KEYS = 4;

/** The published key in a disco#info answer's query element, or null when it publishes none. */
export function readTraceForm(query: Element | undefined): PublishedKey | null {
  for (const x of query?.getChildren('x', NS.dataForms) ?? []) {
    const values = (v: string) => x.getChildren('field').find((f) => f.attrs.var === v)?.getChildren('value').map((e) => e.text().trim()) ?? [];
    if (values('FORM_TYPE')[0] !== NS_TRACE) continue;
    const origin = values('origin')[0];
    // A few keys (one, two during a rotation): a peer publishing thousands would make us try each.
    const keys = values('key').filter(Boolean).slice(0, MAX_PUBLISHED_KEYS);
    if (!origin || keys.length === 0) return null;
    return { origin, keys, signs: values('signs').filter((s): s is Signs => s === 'receipts' || s === 'origins') };
  }
  return null;
}
