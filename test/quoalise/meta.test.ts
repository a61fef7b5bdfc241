import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Element } from '@xmpp/component-core';
import { QuoaliseFormatError } from '../../component/quoalise/errors.js';
import { decodeMeta, encodeMeta } from '../../component/quoalise/meta.js';
import { NS_QUOALISE } from '../../component/quoalise/namespaces.js';
import type { Meta } from '../../component/quoalise/types.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';

/** A meta string as it travels: under `quoalise`, whose namespace it inherits. */
function metaElement(meta: string): Element {
  const el = parseXml(`<quoalise xmlns="${NS_QUOALISE}"><data>${meta}</data></quoalise>`).getChild('data')?.getChild('meta');
  if (!el) throw new Error('fixture has no meta');
  return el;
}

const CURRENT: Meta = {
  device: { type: 'electricity-meter', identifier: { authority: 'enedis', type: 'prm', value: '00000000000000' } },
  measurement: {
    name: 'active-power', direction: 'consumption', quantity: 'power', type: 'electrical', unit: 'W',
    aggregation: 'mean', 'sampling-interval': 'PT30M', corrected: 'false',
  },
};

test('reads the current generation as it is', () => {
  const el = metaElement(`
    <meta>
      <device type="electricity-meter"><identifier authority="enedis" type="prm" value="00000000000000"/></device>
      <measurement name="active-power" direction="consumption" quantity="power" type="electrical" unit="W"
                   aggregation="mean" sampling-interval="PT30M" corrected="false"/>
    </meta>`);
  assert.equal(decodeMeta(el), CURRENT);
});

test('reads the older generation into the current shape', () => {
  const el = metaElement(`
    <meta>
      <device type="electricity-meter"><identifier authority="enedis" type="prm" value="00000000000000"/></device>
      <measurement name="active-power" corrected="false">
        <physical quantity="power" type="electrical" unit="W"/>
        <business graph="load-curve" direction="consumption"/>
        <aggregate type="mean"/>
        <sampling interval="PT30M"/>
      </measurement>
    </meta>`);
  const measurement = CURRENT.measurement as Meta;
  assert.equal(decodeMeta(el), { ...CURRENT, measurement: { ...measurement, business: { graph: 'load-curve' } } });
});

test('when both generations say something, the current one wins and the old value stays in place', () => {
  const meta = decodeMeta(metaElement('<meta><measurement unit="Wh"><physical unit="W" quantity="energy"/></measurement></meta>'));
  assert.equal(meta, { measurement: { unit: 'Wh', quantity: 'energy', physical: { unit: 'W' } } });
});

test('unknown keys are kept, namespace declarations and prefixed attributes are not', () => {
  const meta = decodeMeta(metaElement(
    '<meta xml:lang="fr" origin="x"><retention xmlns="urn:example:gdpr" max="P3Y"><basis law="GDPR-6-1-a"/></retention></meta>'));
  assert.equal(meta, { origin: 'x', retention: { max: 'P3Y', basis: { law: 'GDPR-6-1-a' } } });
});

test('a meta value longer than 65,536 characters is refused, naming where, written or read', () => {
  assert.is(encodeMeta({ a: 'x'.repeat(65_536) }).length, 65_536 + 12);
  assert.throws(() => encodeMeta({ device: { a: 'x'.repeat(65_537) } }), (e: unknown) => e instanceof QuoaliseFormatError && e.message === 'meta value meta/device/@a is longer than 65536 characters');
  // The same on arrival (a peer's message): refused before it is acknowledged, not a dead letter once stored.
  assert.is(decodeMeta(metaElement(`<meta a="${'x'.repeat(65_536)}"/>`)).a, 'x'.repeat(65_536));
  assert.throws(() => decodeMeta(metaElement(`<meta><device a="${'x'.repeat(65_537)}"/></meta>`)), (e: unknown) => e instanceof QuoaliseFormatError && e.message === 'meta value meta/device/@a is longer than 65536 characters');
});

test('empty meta reads as {}', () => {
  assert.equal(decodeMeta(metaElement('<meta/>')), {});
});

test('hostile keys stay plain data', () => {
  const meta = decodeMeta(metaElement('<meta><__proto__ polluted="yes"/><constructor a="1"/></meta>'));
  assert.equal(Object.keys(meta), ['__proto__', 'constructor']);
  assert.is(Object.getPrototypeOf(meta), Object.prototype);
  assert.is((meta as Record<string, unknown>).polluted, undefined);
});

test('rejects what a dictionary cannot hold, wrong elements, and absurd nesting', () => {
  const bad = [
    '<meta><device/><device/></meta>',
    '<meta device="a"><device/></meta>',
    '<meta><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a/></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></meta>',
  ];
  for (const xml of bad) assert.throws(() => decodeMeta(metaElement(xml)), (e: unknown) => e instanceof QuoaliseFormatError, xml);
  assert.throws(() => decodeMeta(parseXml('<meta/>')), (e: unknown) => e instanceof QuoaliseFormatError);
});

test('write rule: scalars are attributes, nested keys child elements, no xmlns', () => {
  assert.is(encodeMeta({}), '<meta/>');
  assert.is(encodeMeta({ a: '1', b: { c: '2', d: { e: '3' } }, f: '<&>"\'' }),
    '<meta a="1" f="&lt;&amp;&gt;&quot;&apos;"><b c="2"><d e="3"/></b></meta>');
});

test('write rule: refuses keys that are not XML names and values XML cannot carry', () => {
  const bad: Meta[] = [{ 'a b': '1' }, { '1a': '1' }, { xmlns: 'urn:evil' }, { 'p:q': '1' }, { a: 'x\u0000' }, { a: { '': '1' } }];
  for (const meta of bad) assert.throws(() => encodeMeta(meta), (e: unknown) => e instanceof QuoaliseFormatError, JSON.stringify(meta));
  const cyclic: Meta = {};
  cyclic.self = cyclic;
  assert.throws(() => encodeMeta(cyclic), (e: unknown) => e instanceof QuoaliseFormatError);
});

test('round trip: decode(encode(meta)) is meta in the current shape', () => {
  const metas: Meta[] = [{}, CURRENT, { origin: 'a"b', retention: { max: 'P3Y', basis: { law: 'x\ty' } } }];
  for (const meta of metas) assert.equal(decodeMeta(metaElement(encodeMeta(meta))), meta);
});

test.run();
