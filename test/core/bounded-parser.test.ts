/**
 * The link's bounded parser on its own (no server): small stanzas come out whole; one too large or too
 * deep comes out as its bare start tag, marked, with the stream still in step for the next; a single
 * gigantic token is reported once (the link drops the connection) and nothing more is parsed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { boundedParser, inboundLimits, oversizedReason } from '../../component/xmpp/bounded-parser.js';
import type { Element } from '../../component/xmpp/xml.js';
import { ConfigSchema } from '../../component/config/schema.js';
import { encodeQuoalise } from '../../component/quoalise/payload.js';

const LIMITS = { maxStanzaBytes: 10_000, maxDepth: 8, maxTokenBytes: 50_000 };

function parse(chunks: string[], limits = LIMITS): { stanzas: Element[]; errors: Error[]; overflows: string[] } {
  const overflows: string[] = [];
  const Parser = boundedParser(limits, (why) => overflows.push(why));
  const p = new Parser();
  const stanzas: Element[] = [];
  const errors: Error[] = [];
  p.on('element', (el: Element) => stanzas.push(el));
  p.on('error', (err: Error) => errors.push(err));
  p.write('<stream:stream xmlns="jabber:component:accept" xmlns:stream="http://etherx.jabber.org/streams" from="gw.example">');
  for (const c of chunks) p.write(c);
  return { stanzas, errors, overflows };
}

const small = (id: string) => `<message id="${id}" from="a@x.example" to="b@gw.example"><body>hello</body></message>`;

test('small stanzas come out whole, unmarked', () => {
  const { stanzas, errors } = parse([small('1'), small('2')]);
  assert.equal(errors, []);
  assert.equal(stanzas.map((s) => [s.attrs.id, s.getChildText('body'), oversizedReason(s)]), [['1', 'hello', undefined], ['2', 'hello', undefined]]);
});

test('a stanza past the size limit: its start tag only, marked; the next stanza whole', () => {
  const many = `<message id="big" from="a@x.example" to="b@gw.example" type="chat">${'<a/>'.repeat(5000)}<body>${'x'.repeat(100)}</body></message>`;
  // Cut into pieces, as a socket delivers it.
  const chunks = (many + small('after')).match(/[\s\S]{1,997}/g)!;
  const { stanzas, errors } = parse(chunks);
  assert.equal(errors, []);
  assert.is(stanzas.length, 2);
  const [big, after] = stanzas as [Element, Element];
  assert.equal(big.attrs, { id: 'big', from: 'a@x.example', to: 'b@gw.example', type: 'chat' });
  assert.equal(big.children, [], 'nothing of its content kept');
  assert.match(oversizedReason(big)!, 'larger than 10000 bytes');
  assert.is(after.attrs.id, 'after');
  assert.is(after.getChildText('body'), 'hello');
  assert.is(oversizedReason(after), undefined);
});

test('a long text, or a huge start tag, counts too; a tag too large keeps only what an answer needs', () => {
  const text = `<iq id="t" type="set" from="a@x.example" to="gw.example"><q>${'y'.repeat(12_000)}</q></iq>`;
  const tag = `<message id="m" from="a@x.example" to="b@gw.example" junk="${'z'.repeat(12_000)}"><body>x</body></message>`;
  const { stanzas, errors } = parse([text, tag, small('ok')]);
  assert.equal(errors, []);
  assert.equal(stanzas.map((s) => [s.attrs.id, oversizedReason(s) !== undefined]), [['t', true], ['m', true], ['ok', false]]);
  assert.equal(stanzas[1]!.attrs, { id: 'm', from: 'a@x.example', to: 'b@gw.example' });
});

test('a stanza nested deeper than the limit is cut short; the stream stays in step', () => {
  const deep = `<message id="deep" from="a@x.example">${'<n>'.repeat(20)}${'</n>'.repeat(20)}</message>`;
  const { stanzas, errors } = parse([deep, small('next')]);
  assert.equal(errors, []);
  assert.match(oversizedReason(stanzas[0]!)!, 'nested deeper than 8 elements');
  assert.is(stanzas[1]!.getChildText('body'), 'hello');
});

test('a single token longer than maxTokenBytes is reported once, not as a parser error, and nothing after it is parsed', () => {
  const chunks = ['<message id="huge"><body>', ...Array.from({ length: 60 }, () => 'w'.repeat(1000)), '</body></message>', small('next')];
  const { stanzas, errors, overflows } = parse(chunks);
  assert.equal(overflows, ['a single XML token longer than 50000 bytes']);
  assert.equal(errors, [], 'xmpp.js detaches its parser on an error, and the next chunk then throws');
  assert.equal(stanzas, []);
});

test("the default limit holds a get_history answer of 100,000 records (the default quoalise.max_records), as the README says", () => {
  const config = ConfigSchema.parse({ link: { domain: 'gw.example' } });
  const series = 'urn:dev:prm:30001442769830_consumption/power/active/raw';
  const records = Array.from({ length: config.quoalise.max_records }, (_, i) => ({ name: series, time: 1704063600 + i * 1800, value: 1234.56 + i, unit: 'W' }));
  const answer = `<iq type="result" id="q1" from="provider@x.example" to="relay@gw.example"><command xmlns="http://jabber.org/protocol/commands" node="get_history" status="completed">${encodeQuoalise([{ meta: { device: { type: 'electricity-meter' } }, records }])}</command></iq>`;
  const { stanzas, overflows } = parse(answer.match(/[\s\S]{1,65536}/g)!, inboundLimits(config.link.max_inbound_stanza_bytes));
  assert.equal(overflows, []);
  assert.is(stanzas.length, 1);
  assert.is(oversizedReason(stanzas[0]!), undefined);
});

test.run();
