import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { QuoaliseFormatError } from '../../component/quoalise/errors.js';
import { NS_QUOALISE, NS_SENML } from '../../component/quoalise/namespaces.js';
import { NS } from '../../component/xmpp/namespaces.js';
import { decodeQuoalise, encodeQuoalise } from '../../component/quoalise/payload.js';
import { SenmlError } from '../../component/quoalise/senml.js';
import type { DataBlock } from '../../component/quoalise/types.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';

const SERIES = 'urn:dev:prm:00000000000000_consumption/power/active/raw';

// The successful answer of quoalise.md, with its `<meta> … </meta>` placeholder filled in.
const ANSWER = `
<iq type="result" to="client@example.net/r" id="q1">
  <command xmlns="${NS.commands}" node="get_history" sessionid="s1" status="completed">
    <x xmlns="jabber:x:data" type="result">
      <title>Get history</title>
      <field var="result" type="fixed"><value>Success</value></field>
    </x>
    <quoalise xmlns="${NS_QUOALISE}">
      <data>
        <meta>
          <device type="electricity-meter"/>
          <measurement name="active-power" direction="consumption" unit="W"/>
        </meta>
        <sensml xmlns="${NS_SENML}">
          <senml bn="${SERIES}" bt="1704063600" bu="W" v="342"/>
          <senml t="1800" v="351"/>
        </sensml>
      </data>
    </quoalise>
  </command>
</iq>`;

test('decodes the data of the example answer', () => {
  const quoalise = parseXml(ANSWER).getChild('command', NS.commands)?.getChild('quoalise', NS_QUOALISE);
  assert.ok(quoalise);
  assert.equal(decodeQuoalise(quoalise), [{
    meta: { device: { type: 'electricity-meter' }, measurement: { name: 'active-power', direction: 'consumption', unit: 'W' } },
    records: [
      { name: SERIES, time: 1704063600, value: 342, unit: 'W' },
      { name: SERIES, time: 1704065400, value: 351, unit: 'W' },
    ],
  }]);
});

test('encodes one data per block and reads them back in order', () => {
  const blocks: DataBlock[] = [
    { meta: { measurement: { name: 'active-power', unit: 'W' } }, records: [{ name: SERIES, time: 1704063600, value: 0, unit: 'W' }] },
    { meta: {}, records: [] },
    { meta: { measurement: { name: 'active-energy', unit: 'Wh' } }, records: [{ name: 'urn:dev:prm:00000000000000_consumption/energy/active/daily', time: 1704063600, value: 12345, unit: 'Wh' }] },
  ];
  const xml = encodeQuoalise(blocks);
  assert.ok(xml.startsWith(`<quoalise xmlns="${NS_QUOALISE}"><data><meta><measurement name="active-power" unit="W"/></meta><sensml xmlns="${NS_SENML}">`));
  assert.equal(decodeQuoalise(parseXml(xml)), blocks);
  assert.is(encodeQuoalise([]), `<quoalise xmlns="${NS_QUOALISE}"></quoalise>`);
});

test('ignores extensions beside data and inside it', () => {
  const xml = `<quoalise xmlns="${NS_QUOALISE}"><upstream-error issuer="x" code="1"/><data><meta/><sensml xmlns="${NS_SENML}"/><signature xmlns="urn:example:sig"/></data></quoalise>`;
  assert.equal(decodeQuoalise(parseXml(xml)), [{ meta: {}, records: [] }]);
});

test('rejects missing or doubled meta and sensml, and a wrong root', () => {
  const sensml = `<sensml xmlns="${NS_SENML}"/>`;
  const bad = [
    `<quoalise xmlns="${NS_QUOALISE}"><data>${sensml}</data></quoalise>`,
    `<quoalise xmlns="${NS_QUOALISE}"><data><meta/><meta/>${sensml}</data></quoalise>`,
    `<quoalise xmlns="${NS_QUOALISE}"><data><meta/></data></quoalise>`,
    `<quoalise xmlns="${NS_QUOALISE}"><data><meta/>${sensml}${sensml}</data></quoalise>`,
    `<quoalise xmlns="urn:quoalise:1"><data><meta/>${sensml}</data></quoalise>`,
  ];
  for (const xml of bad) assert.throws(() => decodeQuoalise(parseXml(xml)), (e: unknown) => e instanceof QuoaliseFormatError, xml);
  const missingMeta = (() => { try { decodeQuoalise(parseXml(bad[0] as string)); } catch (e) { return e; } })();
  assert.match((missingMeta as Error).message, 'no meta');
});

test('bad records surface as SenmlError, a QuoaliseFormatError', () => {
  const xml = `<quoalise xmlns="${NS_QUOALISE}"><data><meta/><sensml xmlns="${NS_SENML}"><senml n="a" t="1"/></sensml></data></quoalise>`;
  assert.throws(() => decodeQuoalise(parseXml(xml)), (e: unknown) => e instanceof SenmlError && e instanceof QuoaliseFormatError);
});

test('parseXml rejects what is not exactly one well-formed element', () => {
  for (const s of ['', '<a>', '<a></b>', '<a/><b/>', '</fedgate-xml-fragment><a/>', '<a x="&bogus;"/>', 'text']) {
    assert.throws(() => parseXml(s), (e: unknown) => e instanceof QuoaliseFormatError, JSON.stringify(s));
  }
});

test.run();
