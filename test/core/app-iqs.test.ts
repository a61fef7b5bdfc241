/**
 * IQs sent by adapters (component/apps/app-iqs.ts), without servers: the answer counts only from the
 * entity asked and to the app that asked, ids are not guessable, IQs in flight are limited per app, and
 * an IQ that cannot leave or gets no answer is answered with why.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { AppIqs, MAX_IQS_PER_APP } from '../../component/apps/app-iqs.js';
import type { AppHost } from '../../component/apps/app-host.js';
import { xml, type Element } from '../../component/xmpp/xml.js';
import { until } from '../helpers/db.js';

const test = suite('app-iqs');

function setup(online = true) {
  const sent: Element[] = [];
  const answers: Array<{ id: number; ok: boolean; xml?: string; message?: string }> = [];
  const host = { jid: 'relay@energy.localhost', answerIq: (a: { id: number; ok: boolean; xml?: string; message?: string }) => answers.push(a) } as unknown as AppHost;
  const iqs = new AppIqs((el) => (online ? (sent.push(el), true) : false));
  const ask = (id: number, timeoutMs = 10_000) => iqs.request(host, { t: 'iq', app: 'relay', id, to: 'Meters@Remote.localhost/proxy', type: 'set', payload: '<ping xmlns="urn:xmpp:ping"/>', timeoutMs });
  const answer = (to: Element, from: string) => xml('iq', { type: 'result', id: to.attrs.id, from, to: to.attrs.from });
  return { sent, answers, iqs, ask, answer };
}

test('the answer counts only from the entity asked, to the app that asked', () => {
  const { sent, answers, iqs, ask, answer } = setup();
  ask(1);
  const out = sent[0]!;
  assert.is(out.attrs.from, 'relay@energy.localhost');
  assert.match(out.attrs.id!, /^fgq-[A-Za-z0-9_-]{16}$/);
  assert.is(out.getChild('ping')?.attrs.xmlns, 'urn:xmpp:ping');
  assert.not.ok(iqs.onAnswer(answer(out, 'mallory@remote.localhost/proxy')));
  assert.not.ok(iqs.onAnswer(answer(out, 'meters@remote.localhost/other')));
  assert.not.ok(iqs.onAnswer(xml('iq', { type: 'result', id: out.attrs.id, from: 'meters@remote.localhost/proxy', to: 'other@energy.localhost' })));
  assert.is(answers.length, 0);
  assert.ok(iqs.onAnswer(answer(out, 'meters@remote.localhost/proxy'))); // the domain and local part in any case
  assert.equal(answers.map((a) => [a.id, a.ok]), [[1, true]]);
  assert.not.ok(iqs.onAnswer(answer(out, 'meters@remote.localhost/proxy'))); // once
});

test('limits, a payload that is not one element, the link offline, no answer in time', async () => {
  const { answers, ask, iqs } = setup();
  for (let i = 0; i < MAX_IQS_PER_APP + 1; i++) ask(i);
  assert.equal(answers.map((a) => [a.id, a.ok]), [[MAX_IQS_PER_APP, false]]);
  const host = { jid: 'x@energy.localhost', answerIq: (a: { message?: string }) => answers.push(a as never) } as unknown as AppHost;
  iqs.request(host, { t: 'iq', app: 'x', id: 7, to: 'a@b', type: 'get', payload: '<a/><b/>', timeoutMs: 1000 });
  assert.match(answers.at(-1)!.message!, 'not one XML element');
  const offline = setup(false);
  offline.ask(1);
  assert.match(offline.answers[0]!.message!, 'offline');
  const slow = setup();
  slow.ask(1, 50);
  await until(() => slow.answers.length === 1, 5000, () => 'no time-out');
  assert.match(slow.answers[0]!.message!, 'no answer from');
});

test.run();
