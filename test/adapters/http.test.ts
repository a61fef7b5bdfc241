/**
 * The `http` adapter through a real ejabberd, against a local stand-in for Enedis Data Connect (the one
 * stand-in allowed: a third party's API): the dataconnect preset (OAuth2 client credentials with cached
 * and refreshed token, 7-day load-curve windows split and stamped at their start across a DST change,
 * daily values), 429 + Retry-After honoured, 5xx and malformed answers mapped, the authorization wiped
 * (consent invalidated → not-authorized), the API going away and coming back; the generic mode (URL
 * templates, bearer token, response mapping); bad options refused by key.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer } from '../helpers/peer.js';
import { DataConnectStandIn, curveValue, dailyValue } from '../helpers/dataconnect.js';
import { errorCondition, errorText } from '../helpers/inbox.js';
import { command, recordsOf, seriesOf, upstreamError } from '../helpers/quoalise.js';
import { until } from '../helpers/db.js';

const DOMAIN = 'energy.localhost';
const CLIENT = 'client.localhost';
const DC = `dc@${DOMAIN}`;
const PRM = '30001442769830';
const OTHER = '30002187651024';
const CURVE = `urn:dev:prm:${PRM}_consumption/power/active/raw`;
const DAILY = `urn:dev:prm:${PRM}_consumption/energy/active/daily`;

interface Ctx {
  ejabberd: Ejabberd;
  api: DataConnectStandIn;
  fg: Fedgate;
  client: Peer;
}
const test = suite<Ctx>('adapter-http');

test.before(async (ctx) => {
  const [ejabberd, api] = await Promise.all([
    Ejabberd.start({ components: [{ domain: DOMAIN, secret: 'fg-secret' }, { domain: CLIENT, secret: 'client-secret' }] }),
    DataConnectStandIn.start(),
  ]);
  Object.assign(ctx, { ejabberd, api });
  const fg = (ctx.fg = new Fedgate({ port: ejabberd.componentPort(DOMAIN), domain: DOMAIN, secret: 'fg-secret', extraYaml: 'quoalise:\n  requests_per_second: 1000\n' }));
  const secretFile = join(fg.dir, 'client-secret');
  writeFileSync(secretFile, `${api.clientSecret}\n`, { mode: 0o600 });
  const preset = ['--option', 'preset=dataconnect', '--option', `base_url=${api.url}`, '--option', `client_id=${api.clientId}`, '--option', `client_secret_file=${secretFile}`];
  await fg.must('app', 'add', 'dc', '--kind', 'http', ...preset, '--option', `usage_points=["${PRM}","${OTHER}"]`);
  await fg.must('app', 'add', 'limited', '--kind', 'http', ...preset, '--option', `usage_points=["${PRM}"]`);
  // The generic mode, reading the same API by hand: a bearer token (issued by the stand-in) from a file.
  const tokenFile = join(fg.dir, 'token');
  const token = (await (await fetch(`${api.url}/oauth2/v3/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: api.clientId, client_secret: api.clientSecret }) })).json()) as { access_token: string };
  writeFileSync(tokenFile, token.access_token, { mode: 0o600 });
  const series = [{
    identifier: DAILY,
    url: `/metering_data_dc/v5/daily_consumption?usage_point_id=${PRM}&start={start_date}&end={end_date}`,
    records: 'meter_reading.interval_reading', time_field: 'date', time_format: 'date', value_field: 'value', unit: 'Wh', max_range_days: 30,
    meta: { measurement: { name: 'active-energy', unit: 'Wh' } },
  }];
  await fg.must('app', 'add', 'generic', '--kind', 'http', '--option', `base_url=${api.url}`, '--option', 'auth=bearer', '--option', `token_file=${tokenFile}`, '--option', `series=${JSON.stringify(series)}`);
  for (const app of ['dc', 'limited', 'generic']) await fg.must('grant', 'add', app, CLIENT, '*');
  // A consent about the other usage point alone: it ends when Enedis says the authorization is gone.
  await fg.must('grant', 'add', 'dc', CLIENT, `urn:dev:prm:${OTHER}_*`);
  fg.start();
  await fg.waitOnline();
  ctx.client = await Peer.connect(ejabberd.componentPort(CLIENT), CLIENT, 'client-secret');
  for (const jid of [DC, `limited@${DOMAIN}`, `generic@${DOMAIN}`]) {
    await until(async () => (await command(ctx.client, jid, 'list_series')).attrs.type === 'result', 15_000, () => `${jid} not ready: ${fg.stderr}`);
  }
});

test.after(async (ctx) => {
  await ctx.client?.close();
  await ctx.fg?.stop();
  ctx.fg?.cleanup();
  await Promise.all([ctx.ejabberd?.stop(), ctx.api?.stop()]);
});

const history = (client: Peer, jid: string, identifier: string, start: string, end: string) => command(client, jid, 'get_history', { identifier, start_time: start, end_time: end });

test('bad options are refused with the key named; secrets never inline', async ({ fg }) => {
  for (const [opts, key] of [
    [['preset=dataconnect', 'client_id=x', 'client_secret_env=DC_SECRET'], 'usage_points'],
    [['preset=dataconnect', 'client_id=x', 'client_secret=hunter2', 'usage_points=["30001442769830"]'], 'client_secret'],
    [['preset=dataconnect', 'client_id=x', 'client_secret_env=DC_SECRET', 'usage_points=["3000"]'], 'usage_points[0]'],
    [['series=[]'], 'base_url'],
    [['base_url=http://x', `series=${JSON.stringify([{ identifier: 'meter-1', url: '/x' }])}`], 'series[0].identifier'],
    [['base_url=http://x', `series=${JSON.stringify([{ identifier: DAILY, url: '/x?from={from}' }])}`], 'series[0].url'],
    [['base_url=http://x', 'auth=oauth2', 'client_id=x', 'client_secret_env=S', `series=${JSON.stringify([{ identifier: DAILY, url: '/x' }])}`], 'token_url'],
  ] as const) {
    const r = await fg.cli('app', 'add', 'bad', '--kind', 'http', ...opts.flatMap((o) => ['--option', o]));
    assert.is.not(r.code, 0, opts.join(' '));
    assert.match(r.stderr, `option ${key}:`);
    assert.not.match(r.stderr, 'hunter2');
  }
});

test('list_series: each usage point × measure, with Quoalise metadata', async ({ client }) => {
  const ids = seriesOf(await command(client, DC, 'list_series')).map((s) => s.identifier);
  assert.is(ids.length, 10);
  assert.ok(ids.includes(CURVE) && ids.includes(`urn:dev:prm:${OTHER}_production/power/active/raw`));
});

test('load curve: 10 days split into 7-day calls, stamped at each half-hour start, across the spring DST change', async ({ api, client }) => {
  const before = api.calls.length;
  const answer = await history(client, DC, CURVE, '2024-03-25T00:00:00+01:00', '2024-04-04T00:00:00+02:00');
  const records = recordsOf(answer);
  const calls = api.calls.slice(before);
  assert.equal(calls.map((c) => [c.start, c.end]), [['2024-03-25', '2024-04-01'], ['2024-04-01', '2024-04-04']]);
  // 10 days of 48 half-hours, less the hour that does not exist on 31 March.
  assert.is(records.length, 10 * 48 - 2);
  assert.is(records[0]!.time, Date.parse('2024-03-25T00:00:00+01:00') / 1000);
  assert.ok(records.every((r, i) => r.unit === 'W' && r.value === curveValue(PRM, r.time + 1800) && (i === 0 || r.time - records[i - 1]!.time === 1800)));
  // The token was fetched once for both calls.
  assert.is(api.tokensIssued, 2); // one for the generic app's file, one for dc
});

test('daily consumption: one value per local day, at local midnight', async ({ client }) => {
  const records = recordsOf(await history(client, DC, DAILY, '2024-01-01T00:00:00+01:00', '2024-01-04T00:00:00+01:00'));
  assert.equal(records.map((r) => [r.time, r.value, r.unit]), [1, 2, 3].map((d) => [Date.parse(`2024-01-0${d}T00:00:00+01:00`) / 1000, dailyValue(PRM, `2024-01-0${d}`), 'Wh']));
});

// Before the tokens are revoked below: its bearer token is a fixed one.
test('generic mode: URL template with local dates, 30-day calls, bearer token, response mapping', async ({ api, client }) => {
  const before = api.calls.length;
  const records = recordsOf(await history(client, `generic@${DOMAIN}`, DAILY, '2024-01-01T00:00:00+01:00', '2024-03-01T00:00:00+01:00'));
  assert.equal(api.calls.slice(before).map((c) => [c.start, c.end]), [['2024-01-01', '2024-01-31'], ['2024-01-31', '2024-03-01']]);
  assert.is(records.length, 60);
  assert.equal(records[59], { name: DAILY, time: Date.parse('2024-02-29T00:00:00+01:00') / 1000, value: dailyValue(PRM, '2024-02-29'), unit: 'Wh' });
});

test('a revoked token is replaced (401 → a new client-credentials token, one more try)', async ({ api, client }) => {
  const issued = api.tokensIssued;
  api.revokeTokens();
  assert.is(recordsOf(await history(client, DC, DAILY, '2024-01-01T00:00:00+01:00', '2024-01-02T00:00:00+01:00')).length, 1);
  assert.is(api.tokensIssued, issued + 1);
});

test('429 + Retry-After: rate-limited for the requester, and no call to the API before the delay', async ({ api, client }) => {
  const L = `limited@${DOMAIN}`;
  api.script.push({ status: 429, headers: { 'retry-after': '30' }, body: { error: 'Too many requests' } });
  const first = await history(client, L, DAILY, '2024-01-01T00:00:00+01:00', '2024-01-02T00:00:00+01:00');
  assert.is(errorCondition(first), 'resource-constraint');
  const calls = api.calls.length;
  const second = await history(client, L, DAILY, '2024-01-01T00:00:00+01:00', '2024-01-02T00:00:00+01:00');
  assert.is(errorCondition(second), 'resource-constraint');
  assert.match(errorText(second), /retry in (29|30) s/);
  assert.is(api.calls.length, calls);
});

test('5xx and malformed readings are failures of the upstream system; nothing is served', async ({ api, client }) => {
  api.script.push({ status: 500, body: { error: 'ADAM-DC-0002', error_description: 'Technical error' } });
  const failed = await history(client, DC, DAILY, '2024-01-01T00:00:00+01:00', '2024-01-02T00:00:00+01:00');
  assert.is(errorCondition(failed), 'undefined-condition');
  assert.equal(upstreamError(failed), { issuer: 'enedis', code: 'ADAM-DC-0002' });
  api.garbled.add(OTHER);
  const garbled = await history(client, DC, `urn:dev:prm:${OTHER}_consumption/energy/active/daily`, '2024-01-01T00:00:00+01:00', '2024-01-05T00:00:00+01:00');
  assert.equal(upstreamError(garbled), { issuer: 'enedis', code: 'malformed-data' });
  assert.not.ok(garbled.getChild('command'));
  api.garbled.delete(OTHER);
});

test('the authorization wiped (change of supplier) is reported as an invalidated consent: not-authorized', async ({ api, client, fg }) => {
  api.wiped.add(OTHER);
  const answer = await history(client, DC, `urn:dev:prm:${OTHER}_consumption/energy/active/daily`, '2024-01-01T00:00:00+01:00', '2024-01-02T00:00:00+01:00');
  assert.is(errorCondition(answer), 'not-authorized');
  assert.match(errorText(answer), 'ADAM-DC-0008');
  api.wiped.delete(OTHER);
  // The consent about that usage point ends (recorded as such); the app-wide grant does not.
  const states = async () =>
    (JSON.parse(await fg.must('consent', 'list', '--json')) as { rows: Array<{ app: string; series: string; state: string }> }).rows.filter((c) => c.app === 'dc');
  await until(async () => (await states()).find((c) => c.series === `urn:dev:prm:${OTHER}_*`)?.state === 'invalidated', 5000, () => 'not invalidated');
  assert.is((await states()).find((c) => c.series === '*')?.state, 'given');
});

test('the API going away and coming back', async ({ api, client }) => {
  await api.pause();
  const down = await history(client, DC, DAILY, '2024-01-01T00:00:00+01:00', '2024-01-02T00:00:00+01:00');
  assert.equal(upstreamError(down), { issuer: 'enedis', code: 'unreachable' });
  await api.restart();
  assert.is(recordsOf(await history(client, DC, DAILY, '2024-01-01T00:00:00+01:00', '2024-01-02T00:00:00+01:00')).length, 1);
});

test.run();
