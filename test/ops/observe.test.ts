/**
 * What an admin watches, against a real ejabberd and two gateways with a flow between them: the
 * Prometheus metrics of `metrics.listen` (and the Grafana dashboard's queries against them), /health
 * for liveness and readiness, and the live status page rendered by a real headless Chromium, which
 * also takes a screenshot (printed path).
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer, xml } from '../helpers/peer.js';
import { freePort } from '../helpers/ports.js';
import { scalar, storeScalar, until } from '../helpers/db.js';
import { launchChromium } from '../helpers/browser.js';
import { importSeries, startFlow } from '../helpers/flow.js';
import { openDatabase } from '../../component/store/database.js';
import { ConsentService, consentPolicy, xmppActor } from '../../component/consent/service.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const A = 'a.localhost';
const B = 'b.localhost';
const PEER = 'peer.localhost';
const SERIES = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const N = 100;

interface Ctx {
  ejabberd: Ejabberd;
  a: Fedgate;
  b: Fedgate;
  peer: Peer;
  base: string;
}
const test = suite<Ctx>('metrics, health and status page');

test.before(async (ctx) => {
  ctx.ejabberd = await Ejabberd.start({ components: [A, B, PEER].map((domain) => ({ domain, secret: `${domain}-secret` })) });
  const port = await freePort();
  ctx.base = `http://127.0.0.1:${port}`;
  ctx.a = new Fedgate({ port: ctx.ejabberd.componentPort(A), domain: A, secret: `${A}-secret`, extraYaml: `metrics:\n  listen: 127.0.0.1:${port}\n` });
  ctx.b = new Fedgate({ port: ctx.ejabberd.componentPort(B), domain: B, secret: `${B}-secret` });
  await ctx.a.must('app', 'add', 'chat', '--kind', 'echo');
  await startFlow(ctx.a, ctx.b);
  await importSeries(ctx.a, SERIES, N);
  // A consent request waiting for a decision, as request_access records it.
  const db = openDatabase(join(ctx.a.dir, 'fedgate.sqlite'));
  const policy = consentPolicy({ max_validity: 'P3Y', max_pending_per_requester: 10, max_pending_per_app: 10, max_pending_per_domain: 10, max_requests_per_day: 10, max_requests_per_domain_per_day: 100 });
  new ConsentService(db, policy).request('bob@example.net', { app: 'meters', series: SERIES, purpose: 'energy coaching', processing: ['read'] }, xmppActor('bob@example.net', 'requester', { id: 'q1', from: 'bob@example.net/phone' }));
  db.close();
  await until(() => storeScalar(ctx.b, 'SELECT count(*) FROM store_points') === N && scalar(ctx.a, 'SELECT count(*) FROM outbox') === 0, 30_000, () => ctx.a.stderr);
  ctx.peer = await Peer.connect(ctx.ejabberd.componentPort(PEER), PEER, `${PEER}-secret`);
  // An IQ to the domain and a chat with an app: IQ answers and adapter calls to count.
  assert.is((await ctx.peer.iq(A, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }))).attrs.type, 'result');
  const id = ctx.peer.id();
  ctx.peer.send(xml('message', { to: `chat@${A}`, from: `bob@${PEER}/x`, type: 'chat', id }, xml('body', {}, 'hello')));
  await ctx.peer.waitFor((el) => el.name === 'message' && el.attrs.id === `${id}-r`);
});

test.after(async (ctx) => {
  await ctx.peer?.close();
  for (const f of [ctx.a, ctx.b]) {
    await f?.stop();
    f?.cleanup();
  }
  await ctx.ejabberd?.stop();
});

/** The value of one sample of the exposition text (labels in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z0-9_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

test('/metrics: the link, stanzas, IQ answers, adapter calls, flows, queues and deliveries', async ({ base }) => {
  const res = await fetch(`${base}/metrics`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', 'text/plain');
  const text = await res.text();
  assert.is(sample(text, 'fedgate_link_up'), 1);
  assert.is(sample(text, 'fedgate_link_connects_total'), 1);
  assert.ok(sample(text, 'fedgate_stanzas_out_total', { kind: 'message' })! >= N / 10, 'the flow left as messages');
  assert.ok(sample(text, 'fedgate_stanzas_in_total', { kind: 'iq' })! >= 1);
  assert.is(sample(text, 'fedgate_iq_answers_total', { request: 'urn:xmpp:ping', outcome: 'result' }), 1);
  assert.is(sample(text, 'fedgate_adapter_calls_total', { app: 'chat', op: 'chat', outcome: 'ok' }), 1);
  assert.is(sample(text, 'fedgate_flow_records_total', { direction: 'out', app: `meters@${A}`, peer: `sink@${B}` }), N);
  assert.is(sample(text, 'fedgate_flow_messages_total', { direction: 'out', app: `meters@${A}`, peer: `sink@${B}` }), N / 10);
  assert.is(sample(text, 'fedgate_delivered_messages_total', { destination: `sink@${B}` }), N / 10);
  assert.is(sample(text, 'fedgate_inbox_pending_messages', { app: 'meters' }), 0);
  assert.is(sample(text, 'fedgate_app_ready', { app: 'meters' }), 1);
  assert.ok(sample(text, 'fedgate_database_bytes', { file: 'fedgate' })! > 0);
  assert.is(sample(text, 'fedgate_consent_requests_pending'), 1);
  assert.ok(sample(text, 'fedgate_nodejs_eventloop_lag_p99_seconds') !== undefined, 'process metrics of the XMPP thread');
});

test('the Grafana dashboard queries only metrics that fedgate exports', async ({ base }) => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'scripts/deploy/grafana-dashboard.json'), 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
  const text = await (await fetch(`${base}/metrics`)).text();
  const exported = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap((m) => (m[2] === 'histogram' ? [`${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]!])));
  const queried = new Set(dashboard.panels.flatMap((p) => p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/fedgate_[a-z0-9_]+/g)].map((m) => m[0])));
  assert.ok(queried.size >= 15, `${queried.size} metrics queried`);
  for (const name of queried) assert.ok(exported.has(name), `the dashboard queries ${name}, which is not exported`);
});

test('/health answers while the process lives; /health/ready only while the link is up and every app ready', async ({ base }) => {
  const live = await fetch(`${base}/health`);
  assert.is(live.status, 200);
  assert.is(((await live.json()) as { status: string }).status, 'alive');
  const ready = await fetch(`${base}/health/ready`);
  assert.is(ready.status, 200, await ready.clone().text());
  assert.is(((await ready.json()) as { ready: boolean }).ready, true);
  assert.is((await fetch(`${base}/nothing`)).status, 404);
});

test('the status page renders the apps and the flow in Chromium, with no external asset', async ({ base, a }) => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const foreign: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(base)) foreign.push(r.url());
    });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${base}/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
    assert.is(await page.textContent('#domain'), A);
    assert.match((await page.textContent('#link')) ?? '', 'link online');
    const apps = await page.$$eval('#apps tr td:first-child', (tds) => tds.map((t) => t.textContent));
    assert.equal(apps, ['chat', 'meters']);
    // The graph: our two apps, the destination, and the flow between meters and sink.
    const nodes = await page.$$eval('#graph g.node', (gs) => gs.map((g) => g.getAttribute('data-jid')));
    for (const jid of [`meters@${A}`, `chat@${A}`, `sink@${B}`]) assert.ok(nodes.includes(jid), `${jid} in ${nodes}`);
    const edge = await page.$(`#graph g.edge[data-flow="meters@${A} > sink@${B}"]`);
    assert.ok(edge, 'the flow is drawn');
    const consent = (await page.textContent('#consent')) ?? '';
    assert.ok(consent.includes('bob@example.net') && consent.includes('energy coaching'), consent);
    const flowRow = await page.$$eval('#flows tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    assert.ok(flowRow.some((r) => r.includes('meters') && r.includes(`sink@${B}`) && r.includes(`${N} records`)), flowRow.join('\n'));
    const dir = join(ROOT, 'dist', 'test-output');
    mkdirSync(dir, { recursive: true });
    const shot = join(dir, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000, 'a screenshot was taken');
    process.stdout.write(`  (status page screenshot: ${shot})\n`);
    assert.equal(foreign, [], 'the page loads nothing from elsewhere');
    assert.equal(problems, [], 'no script error, no blocked resource');
  } finally {
    await browser.close();
  }
  void a;
});

test('metrics.listen on an address in use: start exits 2 with a message naming it', async ({ ejabberd, base }) => {
  const taken = base.replace('http://', '');
  const c = new Fedgate({ port: ejabberd.componentPort(PEER), domain: 'other.localhost', secret: 'x', extraYaml: `metrics:\n  listen: ${taken}\n` });
  try {
    c.start();
    assert.is(await c.waitExit(15_000), 2);
    assert.match(c.stderr, `fedgate: metrics.listen ${taken}: address already in use`);
    assert.not.match(c.stderr, '    at ', 'no stack trace');
  } finally {
    c.cleanup();
  }
});

test('the server gone: /health still answers, /health/ready says why it is not ready', async ({ ejabberd, base }) => {
  await ejabberd.kill();
  await until(async () => (await fetch(`${base}/health/ready`)).status === 503, 15_000, () => 'still ready');
  const ready = (await (await fetch(`${base}/health/ready`)).json()) as { ready: boolean; reasons: string[] };
  assert.is(ready.ready, false);
  assert.ok(ready.reasons.some((r) => r.startsWith('link ')), ready.reasons.join(', '));
  assert.is((await fetch(`${base}/health`)).status, 200);
  await ejabberd.restart();
});

test.run();
