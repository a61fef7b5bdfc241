/**
 * Bytes of answers one requester domain may have in the XMPP link (component/router/answer-budget.ts).
 * The pure rule with a link whose writes the test completes; then a real ejabberd behind a proxy that
 * stops reading what the gateway writes (a server reading slowly): a grant holder's burst of big
 * get_history answers from an app of its own thread gets one or a few answers and `resource-constraint`
 * for the rest, each request exactly one answer, and an honest domain's answer is not refused.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AnswerBudget } from '../../component/router/answer-budget.js';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { HeldProxy } from '../helpers/held-proxy.js';
import { Peer, xml } from '../helpers/peer.js';
import { errorCondition, errorText } from '../helpers/inbox.js';
import { scalar, until } from '../helpers/db.js';
import { command } from '../helpers/quoalise.js';

/** A link whose writes complete when the test says. */
function fakeLink(): { whenWritten(cb: () => void): void; writeAll(): void } {
  let waiting: Array<() => void> = [];
  return {
    whenWritten: (cb) => void waiting.push(cb),
    writeAll() {
      const w = waiting;
      waiting = [];
      for (const cb of w) cb();
    },
  };
}
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

const pure = suite('answer budget');

pure('one answer alone always passes; more wait until the link has written them; other domains are not held back', async () => {
  const link = fakeLink();
  const b = new AnswerBudget(1000, link.whenWritten);
  assert.ok(b.take('a.example', 5000), 'alone, even past the budget');
  assert.ok(b.full('a.example'));
  assert.not.ok(b.take('a.example', 10), 'the domain has an answer in the link');
  assert.ok(b.take('b.example', 900));
  assert.ok(b.take('b.example', 100), 'up to the budget');
  assert.not.ok(b.take('b.example', 1));
  await turn();
  link.writeAll();
  assert.is(b.held('a.example'), 0);
  assert.is(b.held('b.example'), 0);
  assert.not.ok(b.full('a.example'));
  assert.ok(b.take('a.example', 600));
});

pure('a new connection forgets what the old one held; its late callbacks give nothing back twice', async () => {
  const link = fakeLink();
  const b = new AnswerBudget(1000, link.whenWritten);
  b.take('a.example', 800);
  await turn();
  b.reset();
  assert.is(b.held('a.example'), 0);
  b.take('a.example', 300);
  link.writeAll(); // the old connection's callback, and the new answer's not yet asked for
  assert.is(b.held('a.example'), 300);
  await turn();
  link.writeAll();
  assert.is(b.held('a.example'), 0);
});

pure('an answer sent turns later (its access entry waiting for a busy database) keeps its bytes until it has left', async () => {
  const link = fakeLink();
  const b = new AnswerBudget(1000, link.whenWritten);
  let committed!: () => void;
  const sent = new Promise<void>((resolve) => (committed = resolve));
  assert.ok(b.take('a.example', 800, sent));
  for (let i = 0; i < 3; i++) {
    await turn();
    link.writeAll(); // the link is empty: the answer is not in it yet
  }
  assert.is(b.held('a.example'), 800, 'not given back before the answer was queued');
  assert.not.ok(b.take('a.example', 800), 'the next big answer of the burst waits');
  committed();
  await turn(); // the answer is queued in the turn its entry commits in; the budget watches the link after it
  await turn();
  link.writeAll();
  assert.is(b.held('a.example'), 0);
});

pure.run();

const GW = 'gw.localhost';
const PARTNER = 'partner.localhost';
const HONEST = 'honest.localhost';
const BIG = 'urn:dev:prm:20000000000000_consumption/power/active/raw';
const SMALL = 'urn:dev:prm:30000000000000_consumption/power/active/raw';
/** 100,000 records: a 3.7 MB answer. */
const RECORDS = 100_000;
const BURST = 12;
/** More than one answer, less than two. */
const BUDGET = 5 * 1024 * 1024;

interface Ctx {
  ejabberd: Ejabberd;
  proxy: HeldProxy;
  fg: Fedgate;
  partner: Peer;
  honest: Peer;
}
const wired = suite<Ctx>('answer budget, wired');

/** get_history of a series, answered within a minute (the burst's answers wait for the proxy). */
function history(peer: Peer, identifier: string) {
  const form = xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, xml('field', { var: 'identifier' }, xml('value', {}, identifier)));
  return peer.iq(`meters@${GW}`, 'set', xml('command', { xmlns: 'http://jabber.org/protocol/commands', node: 'get_history', action: 'execute' }, form), { from: `eve@${peer.domain}/r`, timeoutMs: 60_000 });
}

wired.before(async (ctx) => {
  ctx.ejabberd = await Ejabberd.start({ components: [GW, PARTNER, HONEST].map((domain) => ({ domain, secret: `${domain}-secret` })) });
  ctx.proxy = await HeldProxy.start(ctx.ejabberd.componentPort(GW));
  const fg = (ctx.fg = new Fedgate({ port: ctx.proxy.port, domain: GW, secret: `${GW}-secret`, extraYaml: `quoalise:\n  answer_bytes_per_domain: ${BUDGET}\n` }));
  await fg.must('app', 'add', 'meters', '--kind', 'store', '--option', 'isolation=own');
  const csv = join(fg.dir, 'd.csv');
  writeFileSync(csv, `identifier,time,value,unit\n${Array.from({ length: RECORDS }, (_, i) => `${BIG},${1704063600 + i * 60},${i}.125,W`).join('\n')}\n${SMALL},1704063600,1,W\n`);
  await fg.must('store', 'import', 'meters', csv);
  await fg.must('grant', 'add', 'meters', `*@${PARTNER}`, 'urn:dev:prm:*');
  await fg.must('grant', 'add', 'meters', `*@${HONEST}`, SMALL);
  fg.start();
  await fg.waitOnline();
  ctx.partner = await Peer.connect(ctx.ejabberd.componentPort(PARTNER), PARTNER, `${PARTNER}-secret`);
  ctx.honest = await Peer.connect(ctx.ejabberd.componentPort(HONEST), HONEST, `${HONEST}-secret`);
  await until(async () => (await command(ctx.honest, `meters@${GW}`, 'get_history', { identifier: SMALL })).attrs.type === 'result', 10_000, () => 'meters not ready');
});

wired.after(async (ctx) => {
  await ctx.partner?.close();
  await ctx.honest?.close();
  await ctx.fg?.stop();
  await ctx.proxy?.stop();
  await ctx.ejabberd?.stop();
});

wired('a burst of big answers to one domain waits its turn in the link; every request gets one answer', async ({ fg, proxy, partner, honest }) => {
  const access = () => scalar<number>(fg, "SELECT count(*) FROM trace_entries WHERE kind = 'access'");
  const before = access();
  proxy.hold();
  const burst = Array.from({ length: BURST }, () => history(partner, BIG));
  // Every call decided (allowed or refused, each has its access entry) while nothing left the gateway.
  await until(() => access() === before + BURST, 60_000, () => `${access() - before} of ${BURST} calls decided`);
  const honestAnswer = history(honest, SMALL);
  proxy.release();
  const answers = await Promise.all(burst);
  const results = answers.filter((a) => a.attrs.type === 'result');
  const refused = answers.filter((a) => a.attrs.type === 'error');
  assert.ok(results.length >= 1, 'the first answer passes');
  assert.ok(refused.length >= 1, `some of the burst waits its turn (${results.length} results of ${BURST})`);
  for (const a of refused) {
    assert.is(errorCondition(a), 'resource-constraint');
    assert.is(a.getChild('error')?.attrs.type, 'wait');
    assert.match(errorText(a), `answers to ${PARTNER} are still being sent`);
    assert.match(errorText(a), 'quoalise.answer_bytes_per_domain');
  }
  assert.is((await honestAnswer).attrs.type, 'result');
  // Once its answers have arrived, the domain asks again and is served.
  assert.is((await history(partner, BIG)).attrs.type, 'result');
});

wired.run();
