/**
 * The link's XML tokenizer on its own (no server): the same events as ltx's, however the input is cut
 * into chunks; and work linear in a long token (one 15 MiB text from a stranger held the XMPP thread
 * 12 s with ltx's). The work is counted (string searches, characters copied), not timed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { LinearTokenizer } from '../../component/xmpp/tokenizer.js';
import { boundedParser, inboundLimits } from '../../component/xmpp/bounded-parser.js';
import type { Element } from '../../component/xmpp/xml.js';

const SaxLtx = createRequire(import.meta.url)('ltx/lib/parsers/ltx.js') as new () => LinearTokenizer;

function events(tokenizer: LinearTokenizer, chunks: string[]): unknown[] {
  const out: unknown[] = [];
  tokenizer.on('startElement', (name: string, attrs: Record<string, string>) => out.push(['start', name, { ...attrs }]));
  tokenizer.on('endElement', (name: string, self: boolean) => out.push(['end', name, self]));
  tokenizer.on('text', (text: string) => out.push(['text', text]));
  for (const c of chunks) tokenizer.write(c);
  return out;
}

/** A deterministic pseudo-random source (no flaky inputs). */
function random(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
}

function document(r: () => number): string {
  const word = () => ['a', 'msg', 'x-y', 'q:z', 'b.c'][Math.floor(r() * 5)]!;
  const text = () => ['hello', ' ', '&amp;&lt;&gt;&quot;&apos;', '&#233;t&#xe9;', 'x'.repeat(Math.floor(r() * 300)), 'a > b', ']]'][Math.floor(r() * 7)]!;
  const attrs = () => Array.from({ length: Math.floor(r() * 3) }, (_, i) => (r() < 0.5 ? ` k${i}="${text()}"` : ` k${i}='${text()}'`)).join('');
  const element = (depth: number): string => {
    const name = word();
    const choice = r();
    if (choice < 0.2 || depth > 4) return `<${name}${attrs()}/>`;
    if (choice < 0.3) return `<![CDATA[${text()}<not a tag>]]>`;
    if (choice < 0.35) return `<!-- ${text()} -->`;
    const children = Array.from({ length: Math.floor(r() * 4) }, () => (r() < 0.5 ? text() : element(depth + 1))).join('');
    return `<${name}${attrs()}>${children}</${name}>`;
  };
  return `<stream:stream xmlns:stream="s">${Array.from({ length: 20 }, () => element(0)).join('')}`;
}

test('the same events as ltx reading the whole input at once, however the input is cut', () => {
  const r = random(7);
  for (let round = 0; round < 200; round++) {
    const doc = document(r);
    const expected = events(new SaxLtx(), [doc]);
    const chunks: string[] = [];
    for (let at = 0; at < doc.length; ) {
      const n = 1 + Math.floor(r() * (r() < 0.5 ? 4 : 200));
      chunks.push(doc.slice(at, at + n));
      at += n;
    }
    assert.equal(events(new LinearTokenizer(), chunks), expected, `round ${round}`);
  }
});

test('a CDATA end or a CDATA start cut between chunks is still read as one', () => {
  const expected = [['start', 'a', {}], ['text', 'x]y'], ['end', 'a', false]];
  for (const chunks of [['<a><![CDATA[x]y]]', '></a>'], ['<a><![CDATA[x]y]', ']></a>'], ['<a><![CDATA[x]y', ']]></a>'], ['<a><!', '[CDA', 'TA[x]y]]></a>']]) {
    assert.equal(events(new LinearTokenizer(), chunks), expected, chunks.join('|'));
  }
});

/** Counts string searches and characters copied while `fn` runs. */
function work(fn: () => void): { searches: number; copied: number } {
  const proto = String.prototype;
  const { indexOf, slice, substr } = proto;
  const counted = { searches: 0, copied: 0 };
  proto.indexOf = function (this: string, ...a: Parameters<typeof indexOf>) {
    counted.searches++;
    return indexOf.apply(this, a);
  };
  proto.slice = function (this: string, ...a: Parameters<typeof slice>) {
    const s = slice.apply(this, a);
    counted.copied += s.length;
    return s;
  };
  proto.substr = function (this: string, ...a: Parameters<typeof substr>) {
    const s = substr.apply(this, a);
    counted.copied += s.length;
    return s;
  };
  try {
    fn();
  } finally {
    Object.assign(proto, { indexOf, slice, substr });
  }
  return counted;
}

test('a long text or attribute value read in 64 KiB chunks costs work linear in its length', () => {
  const chunk = 'a'.repeat(64 * 1024);
  for (const open of ['<iq id="t"><q>', '<iq id="t" x="']) {
    const Parser = boundedParser(inboundLimits(8 * 1024 * 1024), () => {});
    const p = new Parser();
    const stanzas: Element[] = [];
    p.on('element', (el: Element) => stanzas.push(el));
    p.write('<stream:stream xmlns="jabber:component:accept" xmlns:stream="http://etherx.jabber.org/streams">');
    const cost = work(() => {
      p.write(open);
      for (let i = 0; i < 64; i++) p.write(chunk); // 4 MiB
    });
    // ltx searched again from every character (4 million searches) and copied the token at every chunk (128 MiB).
    assert.ok(cost.searches < 1_000, `${open}: ${cost.searches} searches`);
    assert.ok(cost.copied < 2 * 64 * chunk.length, `${open}: ${cost.copied} characters copied`);
    p.write(open.endsWith('"') ? '"/>' : '</q></iq>');
    assert.is(stanzas.length, 1, 'the stanza still comes out');
  }
});

test.run();
