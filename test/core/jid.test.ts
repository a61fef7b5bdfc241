/**
 * JIDs are compared in one canonical spelling (component/xmpp/jid.ts): what a server's stringprep maps
 * to the same JID is the same party here.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bareJid, domainOf, parseJid } from '../../component/xmpp/jid.js';
import { requesterMatches } from '../../component/authz/requester-pattern.js';

test('spellings a server folds to one JID are one bare JID here', () => {
  for (const s of ['eve@evil.example', 'Eve@Evil.Example/Phone', 'e\u00adve@evil.example', 'eve@e\u00advil.example', 'ｅｖｅ@ＥＶＩＬ.example', 'eve@evi\u200dl.example/r', 'eve@evil\uff0eexample']) {
    assert.is(bareJid(s), 'eve@evil.example', JSON.stringify(s));
    assert.is(domainOf(s), 'evil.example', JSON.stringify(s));
  }
});

test('an internationalised domain has one spelling, its A-labels (as the configuration writes it), whether it came as Unicode or as xn--', () => {
  assert.is(domainOf('jean@énergie.example'), 'xn--nergie-9ua.example');
  assert.is(domainOf('jean@XN--NERGIE-9UA.example'), 'xn--nergie-9ua.example');
  assert.is(domainOf('jean@ÉNERGIE.example'), 'xn--nergie-9ua.example');
  assert.is(bareJid('Jean@énergie.example'), 'jean@xn--nergie-9ua.example');
  assert.is(bareJid('jean@energie.example.'), 'jean@energie.example', 'a trailing dot is the same domain');
});

test('the canonical spelling is stable: a mapping that would put an @ or a / in a localpart is not a JID', () => {
  assert.is(parseJid('eve\uff20n1@evil.example'), null, 'a full-width @ becomes @');
  assert.is(parseJid('eve\uff0fx@evil.example'), null, 'a full-width / becomes /');
  for (const s of ['ｅｖｅ@ＥＶＩＬ.example/r', 'jean@énergie.example', 'a@b.example.']) assert.is(bareJid(bareJid(s)), bareJid(s), s);
});

test('NFKC and nameprep\'s case folding, as the server applies them: a dot leader or a digit-with-stop is the dot the server read, ß is ss, ς is σ', () => {
  // The server took `evil\u2024localhost` (ONE DOT LEADER) for evil.localhost and forwarded it as sent.
  assert.equal(parseJid('eve@evil\u2024localhost/x@partner.localhost'), { local: 'eve', domain: 'evil.localhost', resource: 'x@partner.localhost' });
  assert.is(domainOf('eve@s\u2488evil.localhost'), 's1.evil.localhost');
  // UTS #46 keeps ß and ς (`claß` would be xn--cla-7ka, another domain than the class the server sees).
  assert.is(domainOf('eve@cla\u00df.example'), 'class.example');
  assert.is(domainOf('eve@\u1e9e.example'), 'ss.example');
  assert.is(domainOf('eve@\u03c3\u03bf\u03c6\u03bf\u03c2.gr'), domainOf('eve@\u03c3\u03bf\u03c6\u03bf\u03c3.gr'));
  assert.is(bareJid('Stra\u00dfe@x.example'), 'strasse@x.example');
});

test('a requester pattern matches parsed JIDs only: a raw string ending in @domain is nobody', () => {
  assert.ok(requesterMatches('*@partner.example', 'eve@partner.example/r'));
  assert.ok(requesterMatches('*@partner.example', 'partner.example'), "the domain's own JID");
  assert.not.ok(requesterMatches('*@partner.example', 'eve@evil\u2024example/x@partner.example'), 'a resource ending in @partner');
  assert.not.ok(requesterMatches('*@partner.example', 'eve@\u0301x.example/x@partner.example'), 'not a JID at all');
  assert.not.ok(requesterMatches('*@partner.example', 'eve@sub.partner.example'));
  assert.ok(requesterMatches('eve@partner.example', 'EVE@partner.example/phone'));
  assert.not.ok(requesterMatches('eve@partner.example', 'partner.example'));
});

test('plain ASCII keeps its resource, and what is not a JID stays null', () => {
  assert.equal(parseJid('Alice@Example.net/Home'), { local: 'alice', domain: 'example.net', resource: 'Home' });
  assert.is(parseJid(''), null);
  assert.is(parseJid('@example.net'), null);
  assert.is(parseJid('\u00ad@example.net'), null, 'a localpart of nothing but ignorable characters');
});

test.run();
