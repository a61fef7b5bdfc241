/** Two-step command sessions (quoalise/commands/sessions.ts): bounded per requester, per domain and in all. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CommandSessions, type SessionOwner } from '../../component/quoalise/commands/sessions.js';
import { StanzaError } from '../../component/xmpp/stanza-error.js';

const owner = (requester: string): SessionOwner => ({ app: 'meters', node: 'get_history', requester });
const refused = (e: unknown) => e instanceof StanzaError && e.condition === 'resource-constraint';

test('a requester opening many closes only its own oldest', () => {
  const s = new CommandSessions(60_000, { perRequester: 2 });
  const a = s.start(owner('a@x/r'), 0);
  const b1 = s.start(owner('b@y/r'), 0);
  s.start(owner('b@y/r'), 0);
  s.start(owner('b@y/r'), 0);
  assert.is(s.openBy('b@y'), 2);
  assert.not.ok(s.take(b1, owner('b@y/r'), 1), "b's oldest was closed");
  assert.ok(s.take(a, owner('a@x/r'), 1), "a's session is intact");
});

test("one domain's many requesters cannot close other domains' sessions: past its cap, new ones are refused", () => {
  const s = new CommandSessions(60_000, { perRequester: 2, perDomain: 3, max: 5 });
  const honest = s.start(owner('alice@honest/r'), 0);
  const evil = [0, 1, 2].map((i) => s.start(owner(`u${i}@evil/r`), 0));
  assert.throws(() => s.start(owner('u9@evil/r'), 0), refused, 'a fourth requester of the domain');
  assert.throws(() => s.start(owner('u0@evil/r'), 0), refused, "a requester's second, its domain full");
  assert.ok(s.take(honest, owner('alice@honest/r'), 1), 'the other domain kept its session');
  // A session of the domain ending makes room for another.
  assert.ok(s.take(evil[1]!, owner('u1@evil/r'), 1));
  s.start(owner('u9@evil/r'), 1);
  // The whole table full (evil 3, d1 1, d2 1): a newcomer still gets a session; the domain holding
  // the most gives up its oldest, not the small ones.
  const d1 = s.start(owner('c@d1/r'), 1);
  const d2 = s.start(owner('c@d2/r'), 1);
  const d3 = s.start(owner('c@d3/r'), 1);
  assert.not.ok(s.take(evil[0]!, owner('u0@evil/r'), 2), "the largest domain's oldest made room");
  for (const [id, who] of [[d1, 'c@d1/r'], [d2, 'c@d2/r'], [d3, 'c@d3/r'], [evil[2]!, 'u2@evil/r']] as const) assert.ok(s.take(id, owner(who), 2), `${who} still open`);
});

test('a full table never refuses a newcomer: the sessions of a flood of domains make room for it', () => {
  const s = new CommandSessions(60_000, { perRequester: 5, perDomain: 5, max: 20 });
  for (let d = 0; d < 4; d++) for (let i = 0; i < 5; i++) s.start(owner(`u${i}@flood${d}/r`), 0);
  const alice = s.start(owner('alice@honest/r'), 0);
  assert.ok(s.take(alice, owner('alice@honest/r'), 1));
});

test.run();
