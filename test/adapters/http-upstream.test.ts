/**
 * The `http` adapter alone (no gateway) against a local stand-in for a misbehaving REST API (a third
 * party's, the one stand-in allowed): an answer of 700,000 records, and a range that would take
 * thousands of calls. What matters is what the adapter asks of the API and returns, not the wiring
 * (the end-to-end test is adapters/http).
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { AdapterError, type Adapter } from '../../adapters/contract.js';
import { adapterModule } from '../../adapters/index.js';

const T0 = 1_704_067_200; // 2024-01-01T00:00:00Z
const BIG = 700_000;

interface Ctx {
  api: http.Server;
  calls: number;
  /** The answer to every call, built once. */
  body: string;
}
const test = suite<Ctx>('adapter-http-upstream');

test.before(async (ctx) => {
  ctx.calls = 0;
  const items: string[] = [];
  for (let i = 0; i < BIG; i++) items.push(`{"time":${T0 + i},"value":${i % 1000}}`);
  ctx.body = `[${items.join(',')}]`;
  ctx.api = http.createServer((req, res) => {
    ctx.calls++;
    // A redirect loop: every answer sends elsewhere on the same server.
    if (req.url?.startsWith('/loop')) return void res.writeHead(302, { location: `/loop/${ctx.calls}` }).end();
    res.setHeader('content-type', 'application/json');
    res.end(req.url?.startsWith('/big') ? ctx.body : '[]');
  });
  await new Promise<void>((resolve) => ctx.api.listen(0, '127.0.0.1', resolve));
});

test.after(async ({ api }) => {
  api.closeAllConnections();
  await new Promise((resolve) => api.close(resolve));
});

async function adapter(api: http.Server, series: object[], extra: Record<string, unknown> = {}): Promise<Adapter> {
  const module = adapterModule('http');
  const options = module.parseOptions({ base_url: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, series, ...extra });
  return module.create({ app: { name: 'api', jid: 'api@energy.localhost' }, options, log: pino({ level: 'silent' }), databasePath: '/nonexistent', dataChanged() {} });
}

test('an answer of 700,000 records gives the first `limit` of them (it overflowed the stack)', async (ctx) => {
  const a = await adapter(ctx.api, [{ identifier: 'urn:dev:x:big', url: '/big', time_format: 'epoch_s' }]);
  const blocks = await a.history!({ series: 'urn:dev:x:big', start: T0, end: T0 + BIG, limit: 100_000, requester: 'c@client.localhost' });
  const records = blocks.flatMap((b) => ('records' in b ? b.records : []));
  assert.is(records.length, 100_000);
  assert.equal(records[99_999], { name: 'urn:dev:x:big', time: T0 + 99_999, value: 999 });
});

test('a range needing more calls than max_calls is refused bad-request before any call', async (ctx) => {
  const daily = [{ identifier: 'urn:dev:x:days', url: '/days?from={start_epoch}', time_format: 'epoch_s', max_range_days: 1 }];
  const a = await adapter(ctx.api, daily, { max_calls: 30 });
  const before = ctx.calls;
  // From 1990 with one-day windows: 13,000 calls and more, for one request.
  const err = await a.history!({ series: 'urn:dev:x:days', start: 631_152_000, end: T0, limit: 100_000, requester: 'c@client.localhost' }).catch((e: unknown) => e);
  assert.instance(err, AdapterError);
  assert.is((err as AdapterError).kind, 'bad-request');
  assert.match((err as AdapterError).message, 'at most 30 per request');
  assert.is(ctx.calls, before);
  // Within it, each window is asked once.
  const ok = await a.history!({ series: 'urn:dev:x:days', start: T0, end: T0 + 30 * 86_400, limit: 100_000, requester: 'c@client.localhost' });
  assert.is(ctx.calls, before + 30);
  assert.equal(ok.flatMap((b) => ('records' in b ? b.records : [])), []);
});

test('a redirect loop fails upstream saying so (it said "failed: Error")', async (ctx) => {
  const a = await adapter(ctx.api, [{ identifier: 'urn:dev:x:loop', url: '/loop', time_format: 'epoch_s' }]);
  const err = await a.history!({ series: 'urn:dev:x:loop', start: T0, end: T0 + 3600, limit: 10, requester: 'c@client.localhost' }).catch((e: unknown) => e);
  assert.instance(err, AdapterError);
  assert.is((err as AdapterError).kind, 'upstream');
  assert.match((err as AdapterError).message, 'too many redirects');
});

test.run();
