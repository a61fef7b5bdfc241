/** Quoalise from a test's side: commands with the form in the first execute, and reading answers and pushes. */
import { xml, type Element } from '@xmpp/component-core';
import { decodeQuoalise } from '../../component/quoalise/payload.js';
import type { DataBlock, SeriesRecord } from '../../component/quoalise/types.js';

export const NS_QUOALISE = 'urn:quoalise:0';
const NS_COMMANDS = 'http://jabber.org/protocol/commands';

/** Anything that can send an IQ and wait for its answer (a Peer, a User). */
export interface IqSender {
  iq(to: string, type: 'get' | 'set', payload: Element): Promise<Element>;
}

/** Runs a Quoalise command (`get_history`, `subscribe`, `list_series`…) with its filled form. */
export function command(who: IqSender, to: string, node: string, fields: Record<string, string> = {}): Promise<Element> {
  const form = xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, ...Object.entries(fields).map(([k, v]) => xml('field', { var: k }, xml('value', {}, v))));
  return who.iq(to, 'set', xml('command', { xmlns: NS_COMMANDS, node, action: 'execute' }, form));
}

/** A message carrying Quoalise data (a subscription's push). */
export const isPush = (el: Element): boolean => el.name === 'message' && !!el.getChild('quoalise', NS_QUOALISE);

/** The data blocks of a command answer or of a pushed message. */
export function blocksOf(el: Element): DataBlock[] {
  const q = el.getChild('quoalise', NS_QUOALISE) ?? el.getChild('command', NS_COMMANDS)?.getChild('quoalise', NS_QUOALISE);
  if (!q) throw new Error(`no quoalise element in ${el.toString().slice(0, 300)}`);
  return decodeQuoalise(q);
}

export const recordsOf = (el: Element): SeriesRecord[] => blocksOf(el).flatMap((b) => b.records);

/** The `series` entries of a list_series answer, as attribute maps. */
export function seriesOf(el: Element): Array<Record<string, string>> {
  const q = el.getChild('command', NS_COMMANDS)?.getChild('quoalise', NS_QUOALISE);
  if (!q) throw new Error(`no catalogue in ${el.toString().slice(0, 300)}`);
  return q.getChildren('series').map((s) => ({ ...s.attrs }) as Record<string, string>);
}

/** The `upstream-error` of an error answer: issuer and code. */
export function upstreamError(el: Element): { issuer?: string; code?: string } | null {
  const u = el.getChild('error')?.getChild('upstream-error', NS_QUOALISE);
  return u ? { issuer: u.attrs.issuer, code: u.attrs.code } : null;
}
