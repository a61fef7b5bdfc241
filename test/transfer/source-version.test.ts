/**
 * A fedgate sender's version of its records (`<request epoch version/>`) is not signed, but its message
 * id is made of it: for a verified message the two must agree, or a replay with a forged, huge version
 * would outrank every later correction.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sourceVersion } from '../../component/transfer/intake.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';

const message = (id: string, epoch: string, version: string) =>
  parseXml(`<message xmlns="jabber:component:accept" id="${id}"><request xmlns="urn:fedgate:delivery:0" epoch="${epoch}" version="${version}"/></message>`);

test("a verified message's version is the one its signed id carries, or none", () => {
  assert.equal(sourceVersion(message('fg0a1b-9071', '0a1b', '9071'), true), { origin: '0a1b', version: 9071 });
  assert.equal(sourceVersion(message('fg0a1b-9071', '0a1b', '9007199254740991'), true), { origin: null, version: null }, 'a forged version');
  assert.equal(sourceVersion(message('fg0a1b-9071', 'ffff', '9071'), true), { origin: null, version: null }, 'a forged epoch');
  // Unsigned (a peer that publishes no key): nothing to check it against.
  assert.equal(sourceVersion(message('x', '0a1b', '12'), false), { origin: '0a1b', version: 12 });
});

test.run();
