/**
 * Routing on one subdomain of a real ejabberd, and of a real Prosody: two apps, apps added and
 * removed while running, unknown JIDs, disco, ping, version, time, exactly one answer per IQ, forbidden
 * characters.
 */
import * as assert from 'uvu/assert';
import { startServer, type XmppServer } from '../helpers/xmpp-server.js';
import { perServer, type ServerContext } from '../helpers/per-server.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer, xml, type Element } from '../helpers/peer.js';
import { errorCondition, errorText } from '../helpers/inbox.js';

const DOMAIN = 'energy.localhost';
const NS_INFO = 'http://jabber.org/protocol/disco#info';
const NS_ITEMS = 'http://jabber.org/protocol/disco#items';

interface Ctx extends ServerContext {
  server: XmppServer;
  fedgate: Fedgate;
  peer: Peer;
}
const test = perServer<Ctx>('routing');

test.before(async (ctx) => {
  ctx.server = await startServer(ctx.kind, { components: [{ domain: DOMAIN, secret: 'fg-secret' }, { domain: 'peer.localhost', secret: 'peer-secret' }] });
  ctx.fedgate = new Fedgate({ port: ctx.server.componentPort(DOMAIN), domain: DOMAIN, secret: 'fg-secret' });
  for (const [name, prefix] of [['alpha', 'A:'], ['beta', 'B:']]) {
    const r = await ctx.fedgate.cli('app', 'add', name!, '--kind', 'echo', '--option', `prefix=${prefix}`, '--description', `App ${name}`);
    assert.is(r.code, 0, r.stderr);
  }
  ctx.fedgate.start();
  await ctx.fedgate.waitOnline();
  ctx.peer = await Peer.connect(ctx.server.componentPort('peer.localhost'), 'peer.localhost', 'peer-secret');
});

test.after(async (ctx) => {
  await ctx.peer?.close();
  await ctx.fedgate?.stop();
  ctx.fedgate?.cleanup();
  await ctx.server?.stop();
});

function chat(peer: Peer, to: string, body: string, timeoutMs?: number): Promise<Element> {
  const id = peer.id();
  peer.send(xml('message', { to, from: 'bob@peer.localhost/phone', type: 'chat', id }, xml('body', {}, body)));
  return peer.waitFor((el) => el.name === 'message' && el.attrs.id?.startsWith(id) === true, timeoutMs);
}

/** An IQ round trip on the same route: everything sent before it has been answered when it returns. */
async function barrier(peer: Peer, to: string): Promise<void> {
  const r = await peer.iq(to, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
  assert.ok(r.attrs.type === 'result' || r.attrs.type === 'error');
}

test('routes each app JID to its own adapter and answers from the exact JID addressed', async ({ peer }) => {
  const a = await chat(peer, `alpha@${DOMAIN}/any-resource`, 'hello');
  const b = await chat(peer, `beta@${DOMAIN}/other`, 'hello');
  assert.is(a.getChildText('body'), 'A:hello');
  assert.is(b.getChildText('body'), 'B:hello');
  assert.is(a.attrs.from, `alpha@${DOMAIN}/any-resource`);
  assert.is(b.attrs.from, `beta@${DOMAIN}/other`);
  assert.is(a.attrs.to, 'bob@peer.localhost/phone');
});

test('unknown JID: IQ gets service-unavailable, message an error, presence nothing', async ({ peer }) => {
  const iq = await peer.iq(`nobody@${DOMAIN}`, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
  assert.is(iq.attrs.type, 'error');
  assert.is(errorCondition(iq), 'service-unavailable');
  assert.match(errorText(iq), 'nobody');

  const m = await chat(peer, `nobody@${DOMAIN}`, 'anyone?');
  assert.is(m.attrs.type, 'error');
  assert.is(errorCondition(m), 'service-unavailable');

  peer.send(xml('presence', { to: `nobody@${DOMAIN}`, from: 'bob@peer.localhost/phone', type: 'subscribe' }));
  await barrier(peer, `nobody@${DOMAIN}`);
  assert.is(peer.inbox.matching((el) => el.name === 'presence' && el.attrs.from?.startsWith('nobody@') === true).length, 0);
});

test('disco#info and disco#items on the domain', async ({ peer }) => {
  const info = await peer.iq(DOMAIN, 'get', xml('query', { xmlns: NS_INFO }));
  const q = info.getChild('query', NS_INFO)!;
  assert.is(q.getChild('identity')?.attrs.category, 'component');
  const features = q.getChildren('feature').map((f) => f.attrs.var);
  for (const f of [NS_INFO, NS_ITEMS, 'urn:xmpp:ping', 'jabber:iq:version', 'urn:xmpp:time']) assert.ok(features.includes(f), f);

  const items = await peer.iq(DOMAIN, 'get', xml('query', { xmlns: NS_ITEMS }));
  const jids = items.getChild('query', NS_ITEMS)!.getChildren('item').map((i) => i.attrs.jid);
  assert.ok(jids.includes(`alpha@${DOMAIN}`) && jids.includes(`beta@${DOMAIN}`), String(jids));
});

test('disco#info and ping on an app JID', async ({ peer }) => {
  const info = await peer.iq(`alpha@${DOMAIN}/x`, 'get', xml('query', { xmlns: NS_INFO }));
  assert.is(info.attrs.type, 'result');
  assert.is(info.attrs.from, `alpha@${DOMAIN}/x`);
  const q = info.getChild('query', NS_INFO)!;
  assert.is(q.getChild('identity')?.attrs.name, 'App alpha');
  assert.ok(q.getChildren('feature').some((f) => f.attrs.var === 'urn:xmpp:ping'));
  const ping = await peer.iq(`alpha@${DOMAIN}`, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
  assert.is(ping.attrs.type, 'result');
  assert.is(ping.children.length, 0);
});

test('disco#info and disco#items on a node the entity does not have are item-not-found (XEP-0030)', async ({ peer }) => {
  for (const to of [DOMAIN, `alpha@${DOMAIN}`]) {
    for (const ns of [NS_INFO, 'http://jabber.org/protocol/disco#items']) {
      const iq = await peer.iq(to, 'get', xml('query', { xmlns: ns, node: 'no-such-node' }));
      assert.is(iq.attrs.type, 'error', `${to} ${ns}`);
      assert.is(errorCondition(iq), 'item-not-found', `${to} ${ns}`);
      assert.match(errorText(iq), 'has no node no-such-node');
    }
  }
});

test('domain answers ping, version and time', async ({ peer }) => {
  assert.is((await peer.iq(DOMAIN, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }))).attrs.type, 'result');
  const v = await peer.iq(DOMAIN, 'get', xml('query', { xmlns: 'jabber:iq:version' }));
  assert.is(v.getChild('query')?.getChildText('name'), 'fedgate');
  const t = await peer.iq(DOMAIN, 'get', xml('time', { xmlns: 'urn:xmpp:time' }));
  const utc = t.getChild('time')?.getChildText('utc') ?? '';
  assert.ok(Math.abs(Date.parse(utc) - Date.now()) < 60_000, utc);
});

test('exactly one answer per IQ, whatever the outcome', async ({ peer }) => {
  const cases: Array<[string, 'get' | 'set', Element, string]> = [
    [DOMAIN, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }), 'result'],
    [`alpha@${DOMAIN}`, 'get', xml('query', { xmlns: NS_INFO }), 'result'],
    [`alpha@${DOMAIN}`, 'get', xml('query', { xmlns: 'jabber:iq:unknown' }), 'error'],
    [DOMAIN, 'set', xml('ping', { xmlns: 'urn:xmpp:ping' }), 'error'],
    [`alpha@${DOMAIN}`, 'get', xml('command', { xmlns: 'http://jabber.org/protocol/commands', node: 'get_history', action: 'execute' }), 'error'],
    [`nobody@${DOMAIN}`, 'set', xml('query', { xmlns: 'jabber:iq:register' }), 'error'],
  ];
  const ids: string[] = [];
  for (const [to, type, payload, expected] of cases) {
    const r = await peer.iq(to, type, payload);
    assert.is(r.attrs.type, expected, `${to} ${payload.attrs.xmlns}: ${r}`);
    if (expected === 'error') assert.ok(errorText(r).length > 0, 'errors carry a human text');
    // A payload handled with the other type: not-allowed, saying which type (not "does not support").
    if (payload.name === 'ping' && type === 'set') assert.equal([errorCondition(r), errorText(r)], ['not-allowed', '<ping/> of "urn:xmpp:ping" is asked with an iq of type get, not set']);
    if (payload.name === 'command') assert.equal([errorCondition(r), errorText(r)], ['not-allowed', '<command/> of "http://jabber.org/protocol/commands" is asked with an iq of type set, not get']);
    ids.push(r.attrs.id!);
  }
  // Replies from one entity arrive in order: after these barriers, a second answer would be in the inbox.
  await barrier(peer, DOMAIN);
  await barrier(peer, `alpha@${DOMAIN}`);
  await barrier(peer, `nobody@${DOMAIN}`);
  const extra = peer.inbox.matching((el) => el.name === 'iq' && ids.includes(el.attrs.id ?? ''));
  assert.is(extra.length, 0, `second replies: ${extra.join('\n')}`);
});

test('an app added while running answers within a second; one removed stops; others keep flowing', async ({ peer, fedgate }) => {
  let stop = false;
  let answered = 0;
  let failed = 0;
  // Traffic to alpha runs during the changes: none of it may be lost or refused.
  const traffic = (async () => {
    while (!stop) {
      const r = await chat(peer, `alpha@${DOMAIN}`, 'ping', 3000);
      if (r.getChildText('body') === 'A:ping') answered++;
      else failed++;
    }
  })();

  assert.is((await fedgate.cli('app', 'add', 'gamma', '--kind', 'echo', '--option', 'prefix=G:')).code, 0);
  const added = Date.now();
  let reply: Element | null = null;
  while (Date.now() - added < 3000) {
    const r = await chat(peer, `gamma@${DOMAIN}`, 'hi');
    if (r.attrs.type !== 'error') {
      reply = r;
      break;
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.ok(reply, 'gamma never answered');
  assert.is(reply!.getChildText('body'), 'G:hi');
  assert.ok(Date.now() - added < 1500, `gamma answered after ${Date.now() - added} ms`);

  // Changed options: the app's worker restarts with them, the others are untouched.
  assert.is((await fedgate.cli('app', 'set', 'gamma', '--option', 'prefix=G2:')).code, 0);
  const changed = Date.now();
  let body = '';
  while (body !== 'G2:hi' && Date.now() - changed < 3000) {
    const r = await chat(peer, `gamma@${DOMAIN}`, 'hi');
    body = r.getChildText('body') ?? '';
  }
  assert.is(body, 'G2:hi');
  assert.ok(Date.now() - changed < 1500, `new options applied after ${Date.now() - changed} ms`);

  assert.is((await fedgate.cli('app', 'remove', 'beta')).code, 0);
  const removed = Date.now();
  let gone = false;
  while (Date.now() - removed < 3000) {
    const r = await peer.iq(`beta@${DOMAIN}`, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
    if (r.attrs.type === 'error' && errorCondition(r) === 'service-unavailable') {
      gone = true;
      break;
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.ok(gone, 'beta still answers after removal');
  assert.ok(Date.now() - removed < 1500);

  stop = true;
  await traffic;
  assert.is(failed, 0);
  assert.ok(answered > 0);
});

test('a forbidden control character in app data is stripped and the stream survives', async ({ peer, fedgate }) => {
  assert.is((await fedgate.cli('app', 'add', 'bell', '--kind', 'echo', '--option', 'prefix="\\u0007\\u0001>"')).code, 0);
  let r: Element | null = null;
  const t0 = Date.now();
  while (!r && Date.now() - t0 < 3000) {
    const m = await chat(peer, `bell@${DOMAIN}`, 'ring');
    if (m.attrs.type !== 'error') r = m;
    else await new Promise((res) => setTimeout(res, 50));
  }
  assert.ok(r, 'bell never answered');
  assert.is(r!.getChildText('body'), '>ring');
  // The same link still works, and it never reconnected.
  assert.is((await chat(peer, `alpha@${DOMAIN}`, 'after')).getChildText('body'), 'A:after');
  assert.not.match(fedgate.stderr, 'link lost');
});

test.run();
