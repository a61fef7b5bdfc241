import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Element } from '@xmpp/component-core';
import { QuoaliseFormatError } from '../../component/quoalise/errors.js';
import { NS_SENML } from '../../component/quoalise/namespaces.js';
import { decodeSensml, encodeSensml, encodeSensmlRows, SenmlError } from '../../component/quoalise/senml.js';
import type { RecordRow, SeriesRecord } from '../../component/quoalise/types.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';

const SERIES = 'urn:dev:prm:00000000000000_consumption/power/active/raw';

function sensml(records: string): Element {
  return parseXml(`<sensml xmlns="${NS_SENML}">${records}</sensml>`);
}

function decode(records: string): SeriesRecord[] {
  return decodeSensml(sensml(records));
}

function attrsOf(xml: string): Record<string, string | undefined>[] {
  return parseXml(xml).getChildElements().map((el) => el.attrs);
}

// ------------------------------------------------------------------------------------------ decoding

test('decodes the example answer of quoalise.md exactly', () => {
  const records = decode(`
    <senml bn="${SERIES}" bt="1704063600" bu="W" v="342"/>
    <senml t="1800" v="351"/>
  `);
  assert.equal(records, [
    { name: SERIES, time: 1704063600, value: 342, unit: 'W' },
    { name: SERIES, time: 1704065400, value: 351, unit: 'W' },
  ]);
});

test('u overrides bu on its record only; either alone is accepted', () => {
  assert.equal(decode('<senml bn="a" bt="10" bu="W" v="1"/><senml u="Wh" t="1" v="2"/><senml t="2" v="3"/>'), [
    { name: 'a', time: 10, value: 1, unit: 'W' },
    { name: 'a', time: 11, value: 2, unit: 'Wh' },
    { name: 'a', time: 12, value: 3, unit: 'W' },
  ]);
  assert.equal(decode('<senml n="x" t="1704063600" u="VA" v="5"/>'), [{ name: 'x', time: 1704063600, value: 5, unit: 'VA' }]);
  assert.equal(decode('<senml n="x" t="1704063600" v="5"/>'), [{ name: 'x', time: 1704063600, value: 5 }]);
});

test('a unit longer than 64 characters is refused, naming the record and the attribute', () => {
  assert.equal(decode(`<senml n="x" t="1" u="${'k'.repeat(64)}" v="5"/>`)[0]!.unit, 'k'.repeat(64));
  for (const attr of ['u', 'bu']) {
    assert.throws(() => decode(`<senml n="x" t="1" v="1"/><senml n="x" t="2" ${attr}="${'k'.repeat(65_536)}" v="5"/>`), (e: unknown) => e instanceof SenmlError && e.message === `SenML record 1: ${attr} is longer than 64 characters: a unit is a symbol such as W or kWh`);
  }
});

test('a string value longer than 65,536 characters is refused, naming the record', () => {
  assert.equal(decode(`<senml n="x" t="1" vs="${'s'.repeat(65_536)}"/>`)[0]!.stringValue!.length, 65_536);
  assert.throws(() => decode(`<senml n="x" t="1" v="1"/><senml n="x" t="2" vs="${'s'.repeat(65_537)}"/>`), (e: unknown) => e instanceof SenmlError && e.message === 'SenML record 1: vs is longer than 65536 characters');
});

test('string values, with XML escapes, and boolean values', () => {
  assert.equal(decode(`<senml n="s" t="1" vs="a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;"/><senml n="b" t="2" vb="true"/><senml n="b" t="3" vb="0"/>`), [
    { name: 's', time: 1, stringValue: `a <b> & "c" 'd'` },
    { name: 'b', time: 2, boolValue: true },
    { name: 'b', time: 3, boolValue: false },
  ]);
  assert.equal(decode('<senml n="s" t="1" vs=""/>'), [{ name: 's', time: 1, stringValue: '' }]);
});

test('a zero is a reading', () => {
  assert.equal(decode('<senml n="z" t="1704063600" v="0"/>'), [{ name: 'z', time: 1704063600, value: 0 }]);
  assert.equal(decode('<senml bn="z" t="1704063600" bv="10" v="0"/><senml t="1704063601" v="-10"/>'), [
    { name: 'z', time: 1704063600, value: 10 },
    { name: 'z', time: 1704063601, value: 0 },
  ]);
});

test('base fields on a later record apply from that record on', () => {
  const records = decode(`
    <senml bn="urn:dev:prm:1_" bt="1000" n="a" v="1"/>
    <senml n="b" t="5" v="2"/>
    <senml bn="urn:dev:prm:2_" bt="2000" bu="Wh" bv="100" n="c" v="3"/>
    <senml t="1" v="4"/>
    <senml n="d" t="2" vs="x"/>
  `);
  assert.equal(records, [
    { name: 'urn:dev:prm:1_a', time: 1000, value: 1 },
    { name: 'urn:dev:prm:1_b', time: 1005, value: 2 },
    { name: 'urn:dev:prm:2_c', time: 2000, value: 103, unit: 'Wh' },
    { name: 'urn:dev:prm:2_', time: 2001, value: 104, unit: 'Wh' },
    { name: 'urn:dev:prm:2_d', time: 2002, stringValue: 'x', unit: 'Wh' },
  ]);
});

test('fractional, negative-offset and exponent times', () => {
  assert.equal(decode('<senml bn="f" bt="1704063600.5" t="0.25" v="1"/><senml t="-0.5" v="2"/><senml t="1.5e1" v="3"/>'), [
    { name: 'f', time: 1704063600.75, value: 1 },
    { name: 'f', time: 1704063600, value: 2 },
    { name: 'f', time: 1704063615.5, value: 3 },
  ]);
});

test('times below 2^28 are taken as absolute, not relative to now', () => {
  assert.equal(decode('<senml n="r" t="-5" v="1"/><senml n="r" bt="3600" v="2"/>'), [
    { name: 'r', time: -5, value: 1 },
    { name: 'r', time: 3600, value: 2 },
  ]);
});

test('unknown attributes are ignored, whitespace between records too', () => {
  assert.equal(decode('\n  <senml n="x" t="1" v="1" ut="60" s="5" bver="10"/>\n'), [{ name: 'x', time: 1, value: 1 }]);
  assert.equal(decode(''), []);
});

const MALFORMED: [string, string, number, string | undefined][] = [
  ['no name', '<senml t="1" v="1"/>', 0, 'n'],
  ['no name on a later record', '<senml n="a" t="1" v="1"/><senml t="2" v="1"/>', 1, 'n'],
  ['non-numeric t', '<senml n="a" t="soon" v="1"/>', 0, 't'],
  ['empty t', '<senml n="a" t="" v="1"/>', 0, 't'],
  ['non-numeric v', '<senml n="a" t="1" v="12abc"/>', 0, 'v'],
  ['empty v', '<senml n="a" t="1" v=""/>', 0, 'v'],
  ['hex v', '<senml n="a" t="1" v="0x10"/>', 0, 'v'],
  ['non-numeric bt', '<senml n="a" bt="yesterday" v="1"/>', 0, 'bt'],
  ['non-numeric bv', '<senml n="a" t="1" bv="ten" v="1"/>', 0, 'bv'],
  ['infinite v', '<senml n="a" t="1" v="1e400"/>', 0, 'v'],
  ['NaN v', '<senml n="a" t="1" v="NaN"/>', 0, 'v'],
  ['Infinity v', '<senml n="a" t="1" v="Infinity"/>', 0, 'v'],
  ['infinite t', '<senml n="a" t="1e309" v="1"/>', 0, 't'],
  ['no value at all', '<senml n="a" t="1"/>', 0, 'v'],
  ['only a base value', '<senml n="a" t="1" bv="3"/>', 0, 'v'],
  ['two values', '<senml n="a" t="1" v="1" vs="one"/>', 0, 'v/vs'],
  ['a data value', '<senml n="a" t="1" vd="AAEC"/>', 0, 'vd'],
  ['a bad boolean', '<senml n="a" t="1" vb="yes"/>', 0, 'vb'],
  ['no time', '<senml n="a" v="1"/>', 0, 't'],
  ['a must-understand extension', '<senml n="a" t="1" v="1" xyz_="1"/>', 0, 'xyz_'],
  ['an unknown element', '<senml n="a" t="1" v="1"/><record n="a" t="1" v="1"/>', 1, '<record>'],
  ['a record in another namespace', '<senml xmlns="urn:other" n="a" t="1" v="1"/>', 0, '<senml>'],
  ['a child element in a record', '<senml n="a" t="1" v="1"><extra/></senml>', 0, 'child <extra>'],
  ['text in a record', '<senml n="a" t="1" v="1">42</senml>', 0, 'text content'],
  ['text between records', '<senml n="a" t="1" v="1"/>oops', 1, undefined],
];

for (const [what, xml, index, attribute] of MALFORMED) {
  test(`rejects ${what} with a SenmlError naming record and attribute`, () => {
    try {
      decode(xml);
      assert.unreachable('should have thrown');
    } catch (e) {
      assert.instance(e, SenmlError);
      assert.instance(e, QuoaliseFormatError);
      const err = e as SenmlError;
      assert.is(err.recordIndex, index);
      assert.is(err.attribute, attribute);
      assert.match(err.message, `record ${index}`);
      if (attribute !== undefined) assert.match(err.message, attribute);
    }
  });
}

test('rejects an element that is not sensml', () => {
  assert.throws(() => decodeSensml(parseXml('<sensml xmlns="urn:other"/>')), (e: unknown) => e instanceof SenmlError);
  assert.throws(() => decodeSensml(parseXml(`<senml xmlns="${NS_SENML}" n="a" t="1" v="1"/>`)), (e: unknown) => e instanceof SenmlError);
});

// ------------------------------------------------------------------------------------------ encoding

test('encoder: bn is the longest common prefix, bt the earliest time, t offsets, bu when units agree', () => {
  const xml = encodeSensml([
    { name: `${SERIES}`, time: 1704065400, value: 351, unit: 'W' },
    { name: `${SERIES}`, time: 1704063600, value: 342, unit: 'W' },
  ]);
  assert.is(xml,
    `<sensml xmlns="${NS_SENML}">` +
    `<senml bn="${SERIES}" bt="1704063600" bu="W" t="1800" v="351"/>` +
    '<senml v="342"/>' +
    '</sensml>');
});

test('encoder: names share a prefix, n carries the rest and is omitted when empty', () => {
  const rows = attrsOf(encodeSensml([
    { name: 'urn:dev:prm:1_consumption/power', time: 1, value: 1 },
    { name: 'urn:dev:prm:1_consumption/energy', time: 2, value: 2 },
    { name: 'urn:dev:prm:1_consumption/', time: 3, value: 3 },
  ]));
  assert.is(rows[0]?.bn, 'urn:dev:prm:1_consumption/');
  assert.equal(rows.map((a) => a.n), ['power', 'energy', undefined]);
  assert.equal(rows.map((a) => a.t), [undefined, '1', '2']);
  const unrelated = attrsOf(encodeSensml([{ name: 'a', time: 1, value: 1 }, { name: 'b', time: 1, value: 2 }]));
  assert.equal(unrelated.map((a) => [a.bn, a.n]), [[undefined, 'a'], [undefined, 'b']]);
});

test('encoder: u per record when units differ, never u and bu together', () => {
  const rows = attrsOf(encodeSensml([
    { name: 'x', time: 1, value: 1, unit: 'W' },
    { name: 'x', time: 2, value: 2, unit: 'Wh' },
    { name: 'x', time: 3, value: 3 },
  ]));
  assert.equal(rows.map((a) => [a.bu, a.u]), [[undefined, 'W'], [undefined, 'Wh'], [undefined, undefined]]);
  const same = attrsOf(encodeSensml([{ name: 'x', time: 1, value: 1, unit: 'W' }, { name: 'x', time: 2, value: 2, unit: 'W' }]));
  assert.equal(same.map((a) => [a.bu, a.u]), [['W', undefined], [undefined, undefined]]);
});

test('encoder: v="0" for a zero, vs for strings, vb for booleans, escapes attribute values', () => {
  const xml = encodeSensml([
    { name: 'x', time: 1, value: 0 },
    { name: 'x', time: 1, stringValue: `<a href="x">&'\t\n` },
    { name: 'x', time: 1, boolValue: false },
  ]);
  assert.match(xml, '<senml bn="x" bt="1" v="0"/>');
  assert.match(xml, '<senml vs="&lt;a href=&quot;x&quot;&gt;&amp;&apos;&#9;&#10;"/>');
  assert.match(xml, '<senml vb="false"/>');
});

test('encoder: empty list, and records it cannot represent', () => {
  assert.is(encodeSensml([]), `<sensml xmlns="${NS_SENML}"/>`);
  const bad: [string, SeriesRecord][] = [
    ['empty name', { name: '', time: 1, value: 1 }],
    ['NaN time', { name: 'x', time: NaN, value: 1 }],
    ['infinite value', { name: 'x', time: 1, value: Infinity }],
    ['no value', { name: 'x', time: 1 }],
    ['two values', { name: 'x', time: 1, value: 1, boolValue: true }],
    ['a control character', { name: 'x', time: 1, stringValue: 'a\u0001b' }],
    ['a lone surrogate', { name: 'x\uD800', time: 1, value: 1 }],
  ];
  for (const [what, record] of bad) {
    assert.throws(() => encodeSensml([record]), (e: unknown) => e instanceof SenmlError, what);
  }
});

test('encoder: a time that bt + t cannot give back exactly re-bases on its own record', () => {
  // In doubles, -1e10 + (0.3 - -1e10) is 0.2999992370605469, not 0.3.
  const records = [
    { name: 'x', time: -1e10, value: 1 },
    { name: 'x', time: 0.3, value: 2 },
    { name: 'x', time: 0.5, value: 3 },
  ];
  const xml = encodeSensml(records);
  const rows = attrsOf(xml);
  assert.equal(rows.map((a) => [a.bt, a.t]), [['-10000000000', undefined], ['0.3', undefined], [undefined, '0.2']]);
  assert.equal(decodeSensml(parseXml(xml)), records);
});

test('encoder: large epoch seconds and fractional offsets come back exactly', () => {
  const records = [
    { name: 'x', time: 1704063600.123, value: 1 },
    { name: 'x', time: 1704063600.1230001, value: 2 },
    { name: 'x', time: 4102444800.999999, value: 3 },
    { name: 'x', time: 1704063600 + 1e-7, value: 4 },
  ];
  assert.equal(decodeSensml(parseXml(encodeSensml(records))), records);
});

test('encoder: 100,000 records encode and decode', () => {
  const records: SeriesRecord[] = [];
  for (let i = 0; i < 100_000; i++) records.push({ name: SERIES, time: 1704063600 + i * 1800, value: i % 500, unit: 'W' });
  const xml = encodeSensml(records);
  assert.equal(decodeSensml(parseXml(xml)), records);
});

/** The rows a database would give for these records of one series. */
function rowsOf(records: SeriesRecord[]): RecordRow[] {
  return records.map((r) => [r.time, r.value ?? r.stringValue ?? r.boolValue!, r.unit ?? null]);
}

test('rows encoder: the same SenML as the records encoder, units shared or per record, every kind of value', () => {
  const cases: SeriesRecord[][] = [
    [],
    [{ name: SERIES, time: 1704063600, value: 342, unit: 'W' }],
    Array.from({ length: 600 }, (_, i) => ({ name: SERIES, time: 1704063600 + 1800 * i, value: i % 5 === 0 ? 0 : i / 3, unit: 'W' })),
    [
      { name: SERIES, time: 1704063600, value: 1, unit: 'W' },
      { name: SERIES, time: 1704063600.5, stringValue: 'door "open" <now>' },
      { name: SERIES, time: 1704065400, boolValue: false, unit: 'kW' },
      { name: SERIES, time: 1704065400 + 1e-9, value: -2.5e-7 },
    ],
    [{ name: SERIES, time: 0.1, value: 1 }, { name: SERIES, time: 0.30000000000000004, value: 2 }],
  ];
  for (const records of cases) {
    const { xml, count } = encodeSensmlRows(SERIES, rowsOf(records));
    assert.is(count, records.length);
    assert.is(xml, encodeSensml(records));
    assert.equal(decodeSensml(parseXml(xml)), records);
  }
});

test('rows encoder: stops at the limit without encoding; refuses what it cannot represent', () => {
  const rows = rowsOf(Array.from({ length: 10 }, (_, i) => ({ name: SERIES, time: i, value: i })));
  assert.equal(encodeSensmlRows(SERIES, rows, 5), { xml: '', count: 5 });
  assert.is(encodeSensmlRows(SERIES, rows, 11).count, 10);
  assert.throws(() => encodeSensmlRows(SERIES, [[1, NaN, null]]), (e: unknown) => e instanceof SenmlError && e.attribute === 'v');
  assert.throws(() => encodeSensmlRows(SERIES, [[Infinity, 1, null]]), (e: unknown) => e instanceof SenmlError && e.attribute === 't');
  assert.throws(() => encodeSensmlRows(SERIES, [[1, 'bell\u0007', null]]), (e: unknown) => e instanceof SenmlError && e.attribute === 'vs');
  assert.throws(() => encodeSensmlRows('', [[1, 1, null]]), (e: unknown) => e instanceof SenmlError);
});

test.run();
