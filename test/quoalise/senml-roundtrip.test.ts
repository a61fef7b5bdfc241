import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NS_SENML } from '../../component/quoalise/namespaces.js';
import { QuoaliseFormatError } from '../../component/quoalise/errors.js';
import { decodeSensml, encodeSensml, SenmlError } from '../../component/quoalise/senml.js';
import type { SeriesRecord } from '../../component/quoalise/types.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';

/** mulberry32: a tiny seeded PRNG, so that a failure can be replayed from its seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;

// Name stems: several share long prefixes, two share only a surrogate pair's first half (U+1F600/U+1F601).
const STEMS = [
  'urn:dev:prm:00000000000000_consumption/power/active/raw',
  'urn:dev:prm:00000000000000_consumption/energy/active/daily',
  'urn:dev:prm:00000000000000_production/power/active/corrected',
  'urn:dev:prm:12345678901234_consumption/power/active/raw',
  'urn:dev:org:60060-school:4242',
  'urn:x:\u{1F600}a',
  'urn:x:\u{1F601}b',
  'a',
];
const UNITS = ['W', 'Wh', 'VA', 'V', '%RH', `<&>"'`];
const NUMBERS = [0, -0, 1, -1, 0.1, -273.15, 1e21, -1e21, 1e300, -1.7976931348623157e308, 5e-324, 1e-7, 2 ** 53, 123456.789];
const STRINGS = ['', '<>&"\'', 'a < b && c > "d"', "it's", '\t tab\nnewline\r', 'éàü \u{1F600}', ']]>', '&amp;'];

function randomNumber(rng: Rng): number {
  if (rng() < 0.5) return pick(rng, NUMBERS);
  const magnitude = 10 ** Math.floor(rng() * 40 - 20);
  return (rng() - 0.5) * magnitude;
}

function randomTime(rng: Rng, base: number): number {
  switch (Math.floor(rng() * 5)) {
    case 0: return base + Math.floor(rng() * 86400) * 1800; // whole half-hours
    case 1: return base + Math.round(rng() * 1e6) / 1000; // millisecond fractions
    case 2: return base + rng() * 1e5; // full-precision fractions
    case 3: return base - rng(); // just before the base
    default: return pick(rng, [0.3, -1e10, 1e15 + 0.5, 1 / 3, base]); // far from the others: may need a re-base
  }
}

function randomRecords(rng: Rng): SeriesRecord[] {
  const count = pick(rng, [1, 1, 2, 3, 10, 50, 200]);
  const stems = STEMS.slice(0, 1 + Math.floor(rng() * STEMS.length));
  const suffixed = rng() < 0.5;
  const unitMode = Math.floor(rng() * 3); // 0: none, 1: all the same, 2: mixed (some missing)
  const sharedUnit = pick(rng, UNITS);
  const base = 1_500_000_000 + rng() * 300_000_000;
  const records: SeriesRecord[] = [];
  for (let i = 0; i < count; i++) {
    const name = pick(rng, stems) + (suffixed ? `/${Math.floor(rng() * 3)}` : '');
    const record: SeriesRecord = { name, time: randomTime(rng, base) };
    const kind = rng();
    if (kind < 0.7) record.value = randomNumber(rng);
    else if (kind < 0.85) record.stringValue = pick(rng, STRINGS);
    else record.boolValue = rng() < 0.5;
    if (unitMode === 1) record.unit = sharedUnit;
    else if (unitMode === 2 && rng() < 0.7) record.unit = pick(rng, UNITS);
    records.push(record);
  }
  return records;
}

test('decode(parse(encode(records))) gives back the records, for 500 seeded random sets', () => {
  for (let seed = 1; seed <= 500; seed++) {
    const records = randomRecords(mulberry32(seed));
    const xml = encodeSensml(records);
    const el = parseXml(xml);
    for (const row of el.getChildElements()) {
      assert.ok(row.attrs.u === undefined || row.attrs.bu === undefined, `seed ${seed}: u and bu on one record`);
    }
    assert.equal(decodeSensml(el), records, `seed ${seed}`);
  }
});

// Fragments that break XML or SenML in interesting ways, spliced into valid documents.
const HOSTILE = ['<', '>', '/', '"', '=', ' ', '&', '&amp;', '&#0;', 'bn', 'bt', 'v', 'vs', 'vb', 't', 'n', 'u', 'bv',
  '1e999', '-', '.', 'e', '0', 'x_', '\u0000', '<senml/>', '<foo/>', '</sensml>', '<![CDATA[', '<!--', '-->'];

test('mutated documents only ever raise QuoaliseFormatError (parsing) or SenmlError (decoding)', () => {
  const rng = mulberry32(2024);
  for (let i = 0; i < 3000; i++) {
    let xml = encodeSensml(randomRecords(rng).slice(0, 4));
    for (let m = 1 + Math.floor(rng() * 4); m > 0; m--) {
      const at = Math.floor(rng() * xml.length);
      xml = rng() < 0.5 ? xml.slice(0, at) + pick(rng, HOSTILE) + xml.slice(at) : xml.slice(0, at) + xml.slice(at + 1 + Math.floor(rng() * 5));
    }
    let el;
    try {
      el = parseXml(xml);
    } catch (e) {
      assert.instance(e, QuoaliseFormatError, xml);
      continue;
    }
    try {
      decodeSensml(el);
    } catch (e) {
      assert.instance(e, SenmlError, xml);
    }
  }
});

test('the encoder writes the senml namespace on sensml only', () => {
  const xml = encodeSensml(randomRecords(mulberry32(42)));
  assert.is(xml.split('xmlns=').length - 1, 1);
  assert.ok(xml.startsWith(`<sensml xmlns="${NS_SENML}">`));
});

test.run();
