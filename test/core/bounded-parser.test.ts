/**
 * The link's bounded parser on its own (no server): small stanzas come out whole; one too large or too
 * deep comes out as its bare start tag, marked, with the stream still in step for the next; a single
 * gigantic token is a parser error (the link closes the stream and reconnects).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { boundedParser, oversizedReason } from '../../component/xmpp/bounded-parser.js';
import type { Element } from '../../component/xmpp/xml.js';

const LIMITS = { maxStanzaBytes: 10_000, maxDepth: 8, maxTokenBytes: 50_000 };

function parse(chunks: string[]): { stanzas: Element[]; errors: Error[] } {
  const Parser = boundedParser(LIMITS);
  const p = new Parser();
  const stanzas: Element[] = [];
  const errors: Error[] = [];
  p.on('element', (el: Element) => stanzas.push(el));
  p.on('error', (err: Error) => errors.push(err));
  p.write('<stream:stream xmlns="jabber:component:accept" xmlns:stream="http://etherx.jabber.org/streams" from="gw.example">');
  for (const c of chunks) p.write(c);
  return { stanzas, errors };
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

test('a single token longer than maxTokenBytes is a parser error', () => {
  const chunks = ['<message id="huge"><body>', ...Array.from({ length: 60 }, () => 'w'.repeat(1000))];
  const { errors } = parse(chunks);
  assert.is(errors.length > 0, true);
  assert.match(errors[0]!.message, 'a single XML token longer than 50000 bytes');
});

test.run();
