/**
 * The digest of data: the canonical form survives servers that re-serialize stanzas, and what fedgate's
 * own encoders write is already canonical (so the sender hashes the string as written, without parsing).
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { canonicalPayloadDigest, dataDigest, payloadDigest } from '../../component/trace/digest.js';
import { encodeQuoalise } from '../../component/quoalise/payload.js';
import { encodeRetention, parsePeriod } from '../../component/gdpr/retention.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';
import type { DataBlock } from '../../component/quoalise/types.js';

const test = suite('data digest');

const blocks: DataBlock[][] = [
  [{ meta: {}, records: [{ name: 'urn:dev:prm:30000000000001_consumption/power/active/raw', time: 1704063600, value: 0, unit: 'W' }] }],
  [
    {
      // Keys in an unsorted order, nested, with characters that need escaping.
      meta: { measurement: { unit: 'W', name: 'active-power', direction: 'consumption', 'sampling-interval': 'PT30M' }, device: { type: 'electricity-meter', identifier: { value: '30000000000001', type: 'prm', authority: 'enedis' } }, note: 'a "quoted" <text> & \'more\'\ttab\nline' },
      records: [
        { name: 'urn:dev:org:60060-lyon:12345', time: 1704063600.5, stringValue: 'door "open" & <closed>' },
        { name: 'urn:dev:org:60060-lyon:12345', time: 1704063660.25, value: -7.125e-3, unit: 'Cel' },
        { name: 'urn:dev:org:60060-lyon:12346', time: 1704063600, boolValue: true },
        { name: 'urn:dev:org:60060-lyon:12346', time: 1704063601.1, value: 1e21 },
      ],
    },
    { meta: { device: { type: 'x' } }, records: [{ name: 'urn:dev:prm:30000000000002_production/power/active/raw', time: 1704063600, value: 12000.5, unit: 'W' }] },
  ],
];

test("fedgate's encoding is canonical: hashing the string as written equals hashing its canonical form", () => {
  for (const b of blocks) {
    const retention = encodeRetention(new Map([[b[0]!.records[0]!.name, { maxAge: parsePeriod('P3Y'), until: 1830297600 }]]));
    for (const payload of [encodeQuoalise(b), encodeQuoalise(b) + retention]) {
      assert.is(canonicalPayloadDigest(payload), payloadDigest(payload), payload);
    }
  }
});

test('the digest does not depend on the order a server writes attributes in', () => {
  const payload = encodeQuoalise(blocks[1]!);
  // What a server may send on (Prosody does not keep the order of attributes).
  const reordered = payload.replace(/<senml ((?:[a-z]+="[^"]*" ?)+)\/>/g, (_m, attrs: string) => `<senml ${(attrs.match(/[a-z]+="[^"]*"/g) ?? []).reverse().join(' ')}/>`);
  assert.is.not(reordered, payload);
  for (const variant of [reordered]) {
    assert.is(dataDigest(parseXml(`<payload>${variant}</payload>`).getChildElements()), payloadDigest(payload), variant.slice(0, 200));
  }
});

test.run();
