/**
 * Submitted XEP-0004 forms as the commands read them (component/quoalise/commands/form.ts): a Quoalise
 * field holds one value, and a form names each field once. Two identifiers were served as the first
 * one, silently (seventh hostile campaign, low): now a bad-request naming the field.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { xml, type Element } from '../../component/xmpp/xml.js';
import { StanzaError } from '../../component/xmpp/stanza-error.js';
import { submittedFields, submittedValues } from '../../component/quoalise/commands/form.js';

const NS_DATA = 'jabber:x:data';
const S1 = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const S2 = 'urn:dev:prm:30000000000002_consumption/power/active/raw';

function command(...fields: Array<[string, string[]]>): Element {
  return xml('command', {}, xml('x', { xmlns: NS_DATA, type: 'submit' }, ...fields.map(([v, values]) => xml('field', { var: v }, ...values.map((x) => xml('value', {}, x))))));
}

const badRequest = (text: string) => (e: unknown) => e instanceof StanzaError && e.condition === 'bad-request' && e.message === text;

test('one value per field, trimmed; empty values as if absent; no form: null', () => {
  assert.equal(submittedFields(command(['identifier', [` ${S1} `]], ['start_time', ['']])), new Map([['identifier', S1]]));
  assert.is(submittedFields(xml('command')), null);
});

test('a field with two values, or given twice, is a bad-request naming it', () => {
  assert.throws(() => submittedFields(command(['identifier', [S1, S2]])), badRequest('the field "identifier" takes one value, not 2'));
  assert.throws(() => submittedFields(command(['identifier', [S1]], ['identifier', [S2]])), badRequest('the field "identifier" is given twice: give it once'));
  // A list-multi field keeps its values (the consent commands' series).
  assert.equal(submittedValues(command(['series', [S1, S2]])), new Map([['series', [S1, S2]]]));
});

test.run();
