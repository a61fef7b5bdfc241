/**
 * A sender the router cannot read as a JID is nobody (component/router/router.ts): its requests and
 * messages are answered `jid-malformed`, everything else is dropped, and nothing behind the router sees
 * it. No server can make such a `from` reach us today (ejabberd's nodeprep refuses what our parser
 * refuses, since jid.ts maps as nameprep does), so the router is driven directly: every collaborator
 * throws if reached.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Router, type RouterOptions } from '../../component/router/router.js';
import { readError } from '../../component/xmpp/stanza-error.js';
import { xml, type Element } from '../../component/xmpp/xml.js';

const DOMAIN = 'gw.example';
/** A full-width @ that nodeprep would map to @: not a localpart. */
const UNREADABLE = 'eve\uff20x@evil.example/r';

function router(): { route(el: Element): void; sent: Element[] } {
  const sent: Element[] = [];
  const untouchable = new Proxy({}, {
    get(_t, key) {
      throw new Error(`the router used ${String(key)} for a sender that is not a JID`);
    },
  });
  const r = new Router({
    domain: DOMAIN,
    apps: untouchable as RouterOptions['apps'],
    presence: untouchable as RouterOptions['presence'],
    intake: untouchable as RouterOptions['intake'],
    delivery: untouchable as RouterOptions['delivery'],
    commands: untouchable as RouterOptions['commands'],
    domainIq: untouchable as RouterOptions['domainIq'],
    observer: untouchable as RouterOptions['observer'],
    log: untouchable as RouterOptions['log'],
    maxStanzaBytes: () => null,
    send: (el) => (sent.push(el as Element), true),
  });
  return { route: (el) => r.route(el), sent };
}

test('requests and messages from an unreadable sender get jid-malformed, addressed back as they came', () => {
  const r = router();
  r.route(xml('iq', { type: 'get', id: 'q1', from: UNREADABLE, to: `app@${DOMAIN}` }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
  r.route(xml('message', { type: 'chat', id: 'm1', from: UNREADABLE, to: `app@${DOMAIN}` }, xml('body', {}, 'hi')));
  r.route(xml('iq', { type: 'set', id: 'q2', from: UNREADABLE, to: DOMAIN }, xml('command', { xmlns: 'http://jabber.org/protocol/commands', node: 'x' })));
  assert.equal(r.sent.map((el) => [el.name, el.attrs.id, el.attrs.to, el.attrs.from, el.attrs.type]), [
    ['iq', 'q1', UNREADABLE, `app@${DOMAIN}`, 'error'],
    ['message', 'm1', UNREADABLE, `app@${DOMAIN}`, 'error'],
    ['iq', 'q2', UNREADABLE, DOMAIN, 'error'],
  ]);
  for (const el of r.sent) {
    const e = readError(el);
    assert.is(e.condition, 'jid-malformed');
    assert.is(e.type, 'modify');
    assert.match(e.text, 'not a JID');
  }
});

test('presences, answers, errors and messages without a sender from nobody are dropped without a word', () => {
  const r = router();
  r.route(xml('presence', { type: 'subscribe', from: UNREADABLE, to: `app@${DOMAIN}` }));
  r.route(xml('iq', { type: 'result', id: 'q3', from: UNREADABLE, to: `app@${DOMAIN}` }));
  r.route(xml('iq', { type: 'error', id: 'q4', from: UNREADABLE, to: `app@${DOMAIN}` }));
  r.route(xml('message', { type: 'error', id: 'm2', from: UNREADABLE, to: `app@${DOMAIN}` }));
  r.route(xml('message', { type: 'chat', id: 'm3', to: `app@${DOMAIN}` }, xml('body', {}, 'hi')));
  assert.equal(r.sent, []);
});

test.run();
