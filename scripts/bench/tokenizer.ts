/**
 * bench:tokenizer — the link's XML tokenizer (component/xmpp/tokenizer.ts) beside ltx's, which it
 * replaces, on the same chunks in the same run: 20,000 single-record Quoalise messages (what the relay
 * reads), and one long text of 1, 2 and 4 MiB cut in 64 KiB chunks as a socket delivers it (what a
 * stranger can send: ltx searches for the text's end again from every character of every chunk, ~0.4 s
 * per MiB here; ours reads each character once). No server.
 *   npm run bench:tokenizer [-- --rounds 5]
 */
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { LinearTokenizer } from '../../component/xmpp/tokenizer.js';
import { median, printTable, type Row } from './lib/stats.js';

interface Tokenizer {
  on(event: string, fn: (...args: unknown[]) => void): unknown;
  write(data: string): void;
}
const SaxLtx = createRequire(createRequire(import.meta.url).resolve('@xmpp/xml'))('ltx/lib/parsers/ltx.js') as new () => Tokenizer;

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);

const STANZA =
  '<message from="src@a.localhost" to="sink@b.localhost" id="fgabc-123" type="normal"><quoalise xmlns="urn:quoalise:0"><data><meta>' +
  '<device type="electricity-meter"><identifier authority="enedis" type="prm" value="12345678901234"/></device><measurement>' +
  '<physical quantity="power" type="electrical" unit="W"/><business direction="consumption"/><aggregate type="average"/>' +
  '<sampling interval="1800"/></measurement></meta><sensml xmlns="urn:ietf:params:xml:ns:senml"><senml ' +
  'bn="urn:dev:prm:12345678901234_consumption/power/active/raw" bt="1700000000" t="0" v="1234.5" bu="W"/></sensml></data>' +
  '</quoalise><request xmlns="urn:xmpp:receipts"/></message>';
const HEADER = '<stream:stream xmlns="jabber:component:accept">';

function chunks(doc: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < doc.length; i += size) out.push(doc.slice(i, i + size));
  return out;
}

/** ms to tokenize every chunk; throws if the two tokenizers do not see the same number of elements. */
function time(make: () => Tokenizer, parts: string[]): { ms: number; elements: number } {
  const t = make();
  let elements = 0;
  t.on('startElement', () => elements++);
  t.on('endElement', () => {});
  t.on('text', () => {});
  const t0 = process.hrtime.bigint();
  for (const p of parts) t.write(p);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, elements };
}

function compare(label: string, parts: string[], unit: { per: number; name: string }): Row {
  const ours: number[] = [];
  const ltx: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = time(() => new SaxLtx(), parts);
    const b = time(() => new LinearTokenizer(), parts);
    if (a.elements !== b.elements) throw new Error(`${label}: ltx saw ${a.elements} elements, ours ${b.elements}`);
    ltx.push(a.ms);
    ours.push(b.ms);
  }
  return { figure: `${label} (${unit.name})`, value: median(ours) / unit.per, baseline: median(ltx) / unit.per, unit: unit.per === 1 ? 'ms' : 'µs', higherIsBetter: false };
}

const messages = 20_000;
const rows: Row[] = [compare(`${messages.toLocaleString('en-US')} Quoalise messages, 8 KiB chunks`, chunks(HEADER + STANZA.repeat(messages), 8192), { per: messages / 1000, name: 'per message' })];
for (const mib of [1, 2, 4]) {
  const doc = `${HEADER}<message to="app@gw.localhost" from="eve@evil.localhost"><body>${'a'.repeat(mib * 1024 * 1024)}</body></message>`;
  rows.push(compare(`one ${mib} MiB text, 64 KiB chunks`, chunks(doc, 65536), { per: 1, name: 'whole' }));
}
printTable(`bench:tokenizer — the link's tokenizer beside ltx's, same chunks, median of ${rounds} rounds`, "ltx's", rows);
