/** Quoalise commands sent by a test peer (a component): the filled form in the first execute. */
import { xml, type Element, type Peer } from './peer.js';

export function commandIq(peer: Peer, to: string, node: string, fields: Record<string, string>, opts: { from?: string; timeoutMs?: number } = {}): Promise<Element> {
  const form = xml(
    'x',
    { xmlns: 'jabber:x:data', type: 'submit' },
    ...Object.entries(fields).map(([k, v]) => xml('field', { var: k }, xml('value', {}, v))),
  );
  return peer.iq(to, 'set', xml('command', { xmlns: 'http://jabber.org/protocol/commands', node, action: 'execute' }, form), opts);
}

/** The records' count of a get_history answer (the senml elements of its first data). */
export function recordsIn(answer: Element): number {
  return answer.getChild('command')?.getChild('quoalise')?.getChild('data')?.getChild('sensml')?.getChildren('senml').length ?? -1;
}
