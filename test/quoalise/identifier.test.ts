import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { QuoaliseFormatError } from '../../component/quoalise/errors.js';
import { IdentifierError, parseIdentifier } from '../../component/quoalise/identifier.js';

test('splits device and series path', () => {
  assert.equal(parseIdentifier('urn:dev:prm:00000000000000_consumption/power/active/raw'),
    { device: 'urn:dev:prm:00000000000000', path: 'consumption/power/active/raw' });
  assert.equal(parseIdentifier('urn:dev:prm:12345678901234_production/power/active/corrected'),
    { device: 'urn:dev:prm:12345678901234', path: 'production/power/active/corrected' });
  assert.equal(parseIdentifier('urn:dev:prm:00000000000000_consumption/energy/active/daily'),
    { device: 'urn:dev:prm:00000000000000', path: 'consumption/energy/active/daily' });
});

test('Zabbix items and other RFC 9039 devices, with or without path', () => {
  assert.equal(parseIdentifier('urn:dev:org:60060-ville-de-x:123456'), { device: 'urn:dev:org:60060-ville-de-x:123456', path: null });
  assert.equal(parseIdentifier('urn:dev:mac:0024befffe804ff1_port/3'), { device: 'urn:dev:mac:0024befffe804ff1', path: 'port/3' });
  assert.equal(parseIdentifier('urn:dev:ow:10e2073a01080063'), { device: 'urn:dev:ow:10e2073a01080063', path: null });
  assert.equal(parseIdentifier('urn:dev:prm:00000000000000_a_b/c.d-e'), { device: 'urn:dev:prm:00000000000000', path: 'a_b/c.d-e' });
});

const BAD: [string, string][] = [
  ['', 'empty'],
  ['urn:foo:prm:00000000000000', 'urn:dev:'],
  ['URN:DEV:prm:00000000000000', 'urn:dev:'],
  ['prm:00000000000000_consumption', 'urn:dev:'],
  ['urn:dev:', 'device type'],
  ['urn:dev::123', 'device type'],
  ['urn:dev:prm', 'no device id'],
  ['urn:dev:prm:', 'no device id'],
  ['urn:dev:prm:_consumption', 'no device id'],
  ['urn:dev:prm:123_consumption', '14 digits'],
  ['urn:dev:prm:0000000000000a', '14 digits'],
  ['urn:dev:org:school:42', 'enterprise number'],
  ['urn:dev:org:60060-x::42', 'empty part'],
  ['urn:dev:prm:00000000000000_', 'no series path'],
  ['urn:dev:prm:00000000000000_consumption//raw', 'empty'],
  ['urn:dev:prm:00000000000000_/consumption', 'empty'],
  ['urn:dev:prm:00000000000000_consumption/', 'empty'],
  ['urn:dev:prm:00000000000000_consumption/../x', '".."'],
  ['urn:dev:prm:00000000000000_consumption/power?x=1', 'character'],
  ['urn:dev:prm:00000000000000_consumption/puissance/é', 'character'],
  ['urn:dev:prm:00000000000000 _consumption', 'whitespace'],
  ['urn:dev:prm:00000000000000_consumption\n', 'whitespace'],
  ['urn:dev:prm:00000000000000_consumption\u0000', 'control'],
  [`urn:dev:prm:00000000000000_${'a'.repeat(500)}`, '512'],
];

for (const [input, hint] of BAD) {
  test(`rejects ${JSON.stringify(input.slice(0, 60))}`, () => {
    try {
      parseIdentifier(input);
      assert.unreachable('should have thrown');
    } catch (e) {
      assert.instance(e, IdentifierError);
      assert.instance(e, QuoaliseFormatError);
      assert.match((e as Error).message, hint);
    }
  });
}

test.run();
