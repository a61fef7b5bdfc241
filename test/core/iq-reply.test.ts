/** The result of an IQ around a payload serialized elsewhere (an app worker's encoded answer). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawXml, resultReply } from '../../component/router/iq.js';
import { CleanXml } from '../../component/xmpp/xml.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';

test('a raw payload is placed as is, even holding what String.replace would expand ($&, $`, $\')', () => {
  const iq = parseXml('<iq from="a@b/c" to="app@energy.localhost" id="q&quot;1" type="set"><command xmlns="http://jabber.org/protocol/commands"/></iq>');
  const payload = '<quoalise xmlns="urn:quoalise:0"><v vs="price $&amp; $` $\' $1"/></quoalise>';
  const reply = resultReply(iq, new RawXml(payload));
  assert.ok(reply instanceof CleanXml, 'written by the link without a second scan');
  assert.is((reply as CleanXml).xml, `<iq from="app@energy.localhost" to="a@b/c" id="q&quot;1" type="result">${payload}</iq>`);
  assert.is(parseXml((reply as CleanXml).xml).getChild('quoalise')!.getChild('v')!.attrs.vs, "price $& $` $' $1");
});

test.run();
