/**
 * The adapters' pure pieces, fast and without servers: MQTT topic matching and payload decoding, range
 * splitting on local days, the OAuth2 token cache on a fake clock, Retry-After, Data Connect answers
 * mapped to records, options refused by key (URLs with credentials included).
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { matchTopic, validFilter } from '../../adapters/mqtt/topics.js';
import { decodeHomeAssistant, decodeHomie, decodeJson, decodeNumber, haDiscovery } from '../../adapters/mqtt/payloads.js';
import { splitDays, splitSeconds } from '../../adapters/http/ranges.js';
import { TokenCache } from '../../adapters/http/token.js';
import { MAX_RETRY_AFTER_MS, retryAfterMs } from '../../adapters/http/client.js';
import { BodyTooLargeError, readBody } from '../../adapters/common/http-body.js';
import { dataconnectRecords } from '../../adapters/http/mapping.js';
import { MEASURES } from '../../adapters/http/dataconnect.js';
import { AdapterError, OptionsError } from '../../adapters/contract.js';
import { adapterModule } from '../../adapters/index.js';
import { MalformedCounter } from '../../adapters/mqtt/malformed.js';
import Database from 'better-sqlite3';
import pino from 'pino';
import { readFileSync } from 'node:fs';

const test = suite('adapter-pieces');
const b = (s: string) => Buffer.from(s);

test('MQTT filters: + captures a level, # the rest, $ topics stay out of wildcards', () => {
  assert.equal(matchTopic('meters/+/power', 'meters/301/power'), ['301']);
  assert.equal(matchTopic('meters/#', 'meters/a/b/c'), ['a/b/c']);
  assert.equal(matchTopic('meters/#', 'meters'), ['']);
  assert.is(matchTopic('meters/+/power', 'meters/301/energy'), null);
  assert.is(matchTopic('meters/+', 'meters/a/b'), null);
  assert.is(matchTopic('#', '$SYS/broker/load'), null);
  assert.ok(validFilter('a/+/b/#'));
  for (const f of ['a/#/b', 'a/b+', 'a/#x', '']) assert.not.ok(validFilter(f), f);
});

test('payloads: numbers only as numbers, JSON fields and times, Homie types, Home Assistant discovery', () => {
  assert.equal(decodeNumber(b(' 342.5\n')), { ok: true, decoded: { value: 342.5 } });
  assert.equal(decodeNumber(b('0')), { ok: true, decoded: { value: 0 } });
  for (const bad of ['', 'twelve', '0x10', '1e999', 'NaN', '\xff\xfe']) assert.not.ok(decodeNumber(Buffer.from(bad, bad.startsWith('\xff') ? 'latin1' : 'utf8')).ok, bad);
  assert.not.ok(decodeNumber(Buffer.alloc(20_000, 0x31)).ok);
  assert.equal(decodeJson(b('{"r":{"v":1.5},"t":"2024-01-01T00:00:00+01:00","u":"W"}'), { value_field: 'r.v', time_field: 't', unit_field: 'u' }), {
    ok: true,
    decoded: { value: 1.5, time: 1704063600, unit: 'W' },
  });
  assert.not.ok(decodeJson(b('{"v":1,"t":"2024-01-01T00:00:00"}'), { value_field: 'v', time_field: 't' }).ok); // no offset
  assert.not.ok(decodeJson(b('{"v":null}'), { value_field: 'v' }).ok);
  assert.equal(decodeHomie(b('true'), undefined), { ok: true, decoded: { value: true } });
  assert.equal(decodeHomie(b('21.5'), '°C'), { ok: true, decoded: { value: 21.5, unit: '°C' } });
  assert.equal(decodeHomie(b('open'), undefined), { ok: true, decoded: { value: 'open' } });
  const d = haDiscovery(b('{"stat_t":"ha/x/state","unit_of_meas":"kWh","val_tpl":"{{ value_json.energy }}"}'));
  assert.equal(d, { stateTopic: 'ha/x/state', entity: { unit: 'kWh', valueField: 'energy' } });
  assert.equal(decodeHomeAssistant(b('{"energy": 12}'), d!.entity), { ok: true, decoded: { value: 12, unit: 'kWh' } });
  assert.not.ok(decodeHomeAssistant(b('unavailable'), undefined).ok);
  // Learnt entities stay in memory: a state topic or a unit past its size is not learnt.
  assert.is(haDiscovery(b(JSON.stringify({ stat_t: `ha/${'x'.repeat(2000)}/state` }))), null);
  assert.equal(haDiscovery(b(JSON.stringify({ stat_t: 'ha/y/state', unit_of_meas: 'k'.repeat(65) }))), { stateTopic: 'ha/y/state', entity: {} });
});

test('ranges: seconds, and local days (end excluded, DST days, an end on midnight pulls in no day)', () => {
  assert.equal(splitSeconds(0, 25, 10), [{ start: 0, end: 10 }, { start: 10, end: 20 }, { start: 20, end: 25 }]);
  const t = (iso: string) => Date.parse(iso) / 1000;
  assert.equal(splitDays(t('2024-03-25T00:00:00+01:00'), t('2024-04-04T00:00:00+02:00'), 7, 'Europe/Paris'), [
    { startDate: '2024-03-25', endDate: '2024-04-01' },
    { startDate: '2024-04-01', endDate: '2024-04-04' },
  ]);
  assert.equal(splitDays(t('2024-01-01T12:00:00+01:00'), t('2024-01-01T12:30:00+01:00'), 7, 'Europe/Paris'), [{ startDate: '2024-01-01', endDate: '2024-01-02' }]);
});

test('token cache: one fetch for concurrent calls, renewed before expiry and after a refusal', async () => {
  let now = 0;
  let fetched = 0;
  const cache = new TokenCache({ fetchToken: async () => ({ access_token: `t${++fetched}`, expires_in: 3600 }), marginMs: 60_000, now: () => now });
  assert.equal(await Promise.all([cache.get(), cache.get(), cache.get()]), ['t1', 't1', 't1']);
  now = 3_539_000;
  assert.is(await cache.get(), 't1');
  now = 3_541_000; // inside the margin
  assert.is(await cache.get(), 't2');
  cache.invalidate('t1'); // an old token refused: the current one stays
  assert.is(await cache.get(), 't2');
  cache.invalidate('t2');
  assert.is(await cache.get(), 't3');
});

test('Retry-After: seconds or an HTTP date', () => {
  assert.is(retryAfterMs('30', 0), 30_000);
  assert.is(retryAfterMs(new Date(90_000).toUTCString(), 30_000), 60_000);
  assert.is(retryAfterMs(null, 0), 1000);
  assert.is(retryAfterMs('soon', 0), 1000);
  // A mistaken (or hostile) header never stops the app for longer than an hour.
  assert.is(retryAfterMs('99999999999', 0), MAX_RETRY_AFTER_MS);
  assert.is(retryAfterMs(new Date(8.64e15).toUTCString(), 0), MAX_RETRY_AFTER_MS);
});

test('Data Connect: a load curve reading is stamped at its interval start; a bad value refuses the answer', () => {
  const curve = MEASURES.get('consumption/power/active/raw')!;
  const doc = { meter_reading: { reading_type: { unit: 'W' }, interval_reading: [{ value: '540', date: '2024-01-01 00:30:00', interval_length: 'PT30M' }, { value: '0', date: '2024-01-01 01:00:00' }] } };
  assert.equal(dataconnectRecords(doc, 'urn:x', curve, 'enedis'), [
    { name: 'urn:x', time: 1704063600, value: 540, unit: 'W' },
    { name: 'urn:x', time: 1704065400, value: 0, unit: 'W' },
  ]);
  try {
    dataconnectRecords({ meter_reading: { interval_reading: [{ value: 'n/a', date: '2024-01-01 00:30:00' }] } }, 'urn:x', curve, 'enedis');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, AdapterError);
    assert.is((err as AdapterError).upstream?.code, 'malformed-data');
  }
});

test('options: the key named, secrets refused inline, defaults filled', () => {
  const refused = (kind: string, raw: Record<string, unknown>): string => {
    try {
      adapterModule(kind).parseOptions(raw);
    } catch (err) {
      assert.instance(err, OptionsError);
      return (err as OptionsError).key;
    }
    throw new Error('accepted');
  };
  assert.is(refused('sql', { database: 'd', user: 'u', history_query: 'SELECT 1', statement_timeout_ms: 5 }), 'statement_timeout_ms');
  assert.is(refused('sql', { database: 'd', user: 'u', history_query: 'SELECT 1', colour: 'red' }), 'colour');
  assert.is(refused('mqtt', { url: 'mqtt://h:1', publish_topic: 'x', token: 't' }), 'token');
  assert.is(refused('mqtt', { url: 'mqtt://h:1', subscriptions: [{ topic: 'a/+', identifier: 'urn:dev:x:{1}', format: 'xml' }] }), 'subscriptions[0].format');
  assert.is(refused('http', { preset: 'dataconnect', client_id: 'c', client_secret_env: 'S', usage_points: ['30001442769830'], auth: 'bearer' }), 'auth');
  const o = adapterModule('mqtt').parseOptions({ url: 'mqtt://h:1', subscriptions: [{ topic: 'a/+', identifier: 'urn:dev:x:{1}' }] }) as { subscriptions: Array<{ format: string }>; protocol_version: number };
  assert.is(o.subscriptions[0]!.format, 'number');
  assert.is(o.protocol_version, 4);
});

test('a URL option carrying a user or password is refused, whatever the adapter', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['mqtt', { url: 'mqtt://fedgate:BrokerPass99@127.0.0.1:1883', subscriptions: [] }],
    ['webhook', { url: 'https://user:pw@hooks.example.org/in' }],
  ];
  for (const [kind, raw] of cases) {
    try {
      adapterModule(kind).parseOptions(raw);
      assert.unreachable(`${kind} accepted credentials in its URL`);
    } catch (err) {
      assert.instance(err, OptionsError, kind);
      assert.match((err as Error).message, 'never carries a user or password');
      assert.not.match((err as Error).message, 'Pass99');
    }
  }
});

test('an answer body is read up to a size: past it the call fails, or what was read is kept when asked', async () => {
  const big = () => new Response('x'.repeat(100_000));
  assert.is(await readBody(new Response('{"a":1}'), 1000), '{"a":1}');
  try {
    await readBody(big(), 1000);
    assert.unreachable('read past the limit');
  } catch (err) {
    assert.instance(err, BodyTooLargeError);
  }
  assert.is(await readBody(big(), 200, { truncate: true }), 'x'.repeat(200));
});

test('MQTT malformed payloads: counted in memory, written once per flush in one transaction, kept when the write fails', () => {
  const db = new Database(':memory:');
  db.exec(readFileSync(new URL('../../../schema/store/020_mqtt.sql', import.meta.url), 'utf8'));
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
  let now = 1_000_000;
  const counter = new MalformedCounter(db, 'home', log, () => now);
  const rows = () => db.prepare('SELECT filter, count, last_topic, last_reason FROM mqtt_malformed ORDER BY filter').all();
  for (let i = 0; i < 1000; i++) counter.count('meters/+/power', `meters/${i}/power`, `bad ${i}`);
  counter.count('sensors/+', 'sensors/1', 'not json');
  assert.equal(rows(), [], 'nothing written before the flush');
  let upserts = 0;
  db.function('counted', () => ++upserts);
  db.exec("CREATE TEMP TRIGGER c AFTER INSERT ON mqtt_malformed BEGIN SELECT counted(); END");
  counter.write();
  assert.is(upserts, 2, 'one row written per filter, not per payload');
  assert.equal(rows(), [
    { filter: 'meters/+/power', count: 1000, last_topic: 'meters/999/power', last_reason: 'bad 999' },
    { filter: 'sensors/+', count: 1, last_topic: 'sensors/1', last_reason: 'not json' },
  ]);
  // Logged once per filter per 10 s, with what was refused meanwhile.
  assert.is(lines.length, 2);
  now += 10_000;
  counter.count('meters/+/power', 'meters/x/power', 'again');
  assert.is(JSON.parse(lines[2]!).refused, 1000);
  // A failed write (a full disk) loses no count: it is added to the next one.
  db.exec('CREATE TEMP TRIGGER full BEFORE UPDATE ON mqtt_malformed BEGIN SELECT RAISE(ABORT, \'disk full\'); END');
  assert.throws(() => counter.write(), /disk full/);
  counter.count('meters/+/power', 'meters/y/power', 'and again');
  db.exec('DROP TRIGGER temp.full');
  counter.write();
  assert.is((rows()[0] as { count: number }).count, 1002);
  db.close();
});

test.run();
