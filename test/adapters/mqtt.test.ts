/**
 * The `mqtt` adapter against a real mosquitto (test/helpers/mosquitto.ts: own config, free port,
 * password, TLS) through a real ejabberd: values published by mosquitto_pub and MQTT.js reach a Quoalise
 * subscriber and get_history / list_series; number, JSON, Homie and Home Assistant payloads; malformed
 * payloads counted, never stored, no crash; a broker restart loses nothing published with QoS 1;
 * deliveries published QoS 1; TLS with the broker's authority; bad options refused by key.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { Peer } from '../helpers/peer.js';
import { queryStore, storeScalar, until } from '../helpers/db.js';
import { command, isPush, recordsOf, seriesOf } from '../helpers/quoalise.js';

const run = promisify(execFile);
const DOMAIN = 'energy.localhost';
const CLIENT = 'client.localhost';
const HOME = `home@${DOMAIN}`;
const PRM = '30000000000007';
const POWER = `urn:dev:prm:${PRM}_consumption/power/active/raw`;
const T0 = 1704063600;

interface Ctx {
  ejabberd: Ejabberd;
  broker: Mosquitto;
  fg: Fedgate;
  client: Peer;
  mq: MqttClient;
}
const test = suite<Ctx>('adapter-mqtt');

const subscriptions = [
  { topic: 'meters/+/power', identifier: 'urn:dev:prm:{1}_consumption/power/active/raw', unit: 'W', meta: { device: { type: 'electricity-meter' }, measurement: { name: 'active-power', unit: 'W' } } },
  { topic: 'sensors/+/json', identifier: 'urn:dev:org:60060-lyon:{1}', format: 'json', value_field: 'reading.v', time_field: 'ts', unit_field: 'u' },
  { topic: 'homie/+/+/+', identifier: 'urn:dev:org:60060-homie:{1}.{2}.{3}', format: 'homie' },
  { topic: 'ha/sensor/+/state', identifier: 'urn:dev:org:60060-ha:{1}', format: 'homeassistant' },
];

async function pub(broker: Mosquitto, topic: string, payload: string, retain = false): Promise<void> {
  await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), '-u', broker.user, '-P', broker.password, '-q', '1', '-t', topic, '-m', payload, ...(retain ? ['-r'] : [])]);
}

/** Records in the store file; 0 before the app's worker has created it. */
function points(fg: Fedgate): number {
  try {
    // Not the `capped` app's: its readiness loop may still be storing a reading when the next test counts.
    return storeScalar<number>(fg, "SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app <> 'capped'");
  } catch (err) {
    // Not created yet, or created and not yet migrated by the app's worker.
    if ((err as { code?: string }).code === 'SQLITE_CANTOPEN' || /no such table/.test((err as Error).message)) return 0;
    throw err;
  }
}

test.before(async (ctx) => {
  const [ejabberd, broker] = await Promise.all([
    Ejabberd.start({ components: [{ domain: DOMAIN, secret: 'fg-secret' }, { domain: CLIENT, secret: 'client-secret' }] }),
    Mosquitto.start({ tls: true }),
  ]);
  Object.assign(ctx, { ejabberd, broker });
  const fg = (ctx.fg = new Fedgate({ port: ejabberd.componentPort(DOMAIN), domain: DOMAIN, secret: 'fg-secret', extraYaml: 'delivery:\n  push_messages_per_second: 1000\nquoalise:\n  requests_per_second: 1000\n' }));
  const auth = ['--option', `username=${broker.user}`, '--option', `password_file=${broker.passwordFile}`];
  await fg.must(
    'app', 'add', 'home', '--kind', 'mqtt', '--option', `url=${broker.url}`, ...auth,
    '--option', `subscriptions=${JSON.stringify(subscriptions)}`, '--option', 'publish_topic=out/{device}/{path}', '--option', 'reconnect_max_ms=500',
  );
  await fg.must('app', 'add', 'secure', '--kind', 'mqtt', '--option', `url=${broker.tlsUrl}`, '--option', `ca_file=${broker.caFile}`, ...auth,
    '--option', `subscriptions=${JSON.stringify([{ topic: 'secure/+', identifier: 'urn:dev:org:60060-tls:{1}' }])}`);
  await fg.must('app', 'add', 'capped', '--kind', 'mqtt', '--option', `url=${broker.url}`, ...auth, '--option', 'max_series=3',
    '--option', `subscriptions=${JSON.stringify([{ topic: 'capped/+', identifier: 'urn:dev:org:60060-cap:{1}' }])}`);
  await fg.must('app', 'add', 'meters', '--kind', 'store');
  for (const app of ['home', 'secure']) await fg.must('grant', 'add', app, CLIENT, '*');
  await fg.must('consumer', 'add', '--source', 'meters', '--destination', 'home', '--series', '*', '--schedule', 'on-change');
  fg.start();
  await fg.waitOnline();
  ctx.client = (await Peer.connect(ejabberd.componentPort(CLIENT), CLIENT, 'client-secret')).answerDisco();
  ctx.mq = await mqtt.connectAsync(broker.url, { username: broker.user, password: broker.password, reconnectPeriod: 100 });
  // Ready when a published value is stored (the worker is up and subscribed at the broker): the series
  // exists from its first value on, and can be subscribed to.
  await until(async () => {
    await pub(broker, `meters/${PRM}/power`, '0');
    return points(fg) > 0;
  }, 15_000, () => `nothing stored from the broker: ${fg.stderr}`);
  assert.is((await command(ctx.client, HOME, 'subscribe', { identifier: POWER })).attrs.type, 'result');
});

test.after(async (ctx) => {
  await ctx.mq?.endAsync();
  await ctx.client?.close();
  await ctx.fg?.stop();
  ctx.fg?.cleanup();
  await Promise.all([ctx.ejabberd?.stop(), ctx.broker?.stop()]);
});

test('bad options are refused with the key named', async ({ fg }) => {
  for (const [opts, key] of [
    [['url=http://x'], 'url'],
    [['url=mqtt://127.0.0.1:1883', `subscriptions=${JSON.stringify([{ topic: 'a/+', identifier: 'urn:dev:x:{2}' }])}`], 'subscriptions[0].identifier'],
    [['url=mqtt://127.0.0.1:1883', `subscriptions=${JSON.stringify([{ topic: 'a/#/b', identifier: 'urn:dev:x:1' }])}`], 'subscriptions[0].topic'],
    [['url=mqtt://127.0.0.1:1883', 'publish_topic=x', 'password=hunter2'], 'password'],
    [['url=mqtt://127.0.0.1:1883', 'publish_topic=x', 'ca_file=ca.crt'], 'ca_file'],
    [['url=mqtt://127.0.0.1:1883'], 'subscriptions'],
  ] as const) {
    const r = await fg.cli('app', 'add', 'bad', '--kind', 'mqtt', ...opts.flatMap((o) => ['--option', o]));
    assert.is.not(r.code, 0, opts.join(' '));
    assert.match(r.stderr, `option ${key}:`);
    assert.not.match(r.stderr, 'hunter2');
  }
});

test('a value published by mosquitto_pub is pushed to the Quoalise subscriber and kept for get_history', async ({ broker, client }) => {
  await pub(broker, `meters/${PRM}/power`, '342.5');
  const pushed = recordsOf(await client.waitFor(isPush, 30_000));
  assert.equal(pushed.map((r) => [r.name, r.value, r.unit]), [[POWER, 342.5, 'W']]);
  const history = recordsOf(await command(client, HOME, 'get_history', { identifier: POWER }));
  assert.ok(history.slice(0, -1).every((r) => r.value === 0)); // the readiness probes of before()
  assert.equal(history.at(-1), pushed[0]);
});

test('JSON, Homie and Home Assistant payloads, with their times and units', async ({ broker, fg, client }) => {
  const before = points(fg);
  await pub(broker, 'sensors/42/json', JSON.stringify({ reading: { v: 21.5 }, ts: '2024-01-01T00:00:00+01:00', u: 'Cel' }));
  await pub(broker, 'homie/boiler/tank/temperature/$unit', '°C', true);
  await pub(broker, 'homeassistant/sensor/heatpump/config', JSON.stringify({ state_topic: 'ha/sensor/heatpump/state', unit_of_measurement: 'W', value_template: '{{ value_json.power }}' }), true);
  // The attribute and discovery messages come first (retained, QoS 1, in order on one connection).
  await pub(broker, 'homie/boiler/tank/temperature', '55.5');
  await pub(broker, 'ha/sensor/heatpump/state', JSON.stringify({ power: 1200 }));
  await until(() => points(fg) === before + 3, 10_000, () => `stored ${points(fg) - before} of 3`);
  const get = async (id: string) => recordsOf(await command(client, HOME, 'get_history', { identifier: id }));
  assert.equal(await get('urn:dev:org:60060-lyon:42'), [{ name: 'urn:dev:org:60060-lyon:42', time: T0, value: 21.5, unit: 'Cel' }]);
  assert.equal((await get('urn:dev:org:60060-homie:boiler.tank.temperature')).map((r) => [r.value, r.unit]), [[55.5, '°C']]);
  assert.equal((await get('urn:dev:org:60060-ha:heatpump')).map((r) => [r.value, r.unit]), [[1200, 'W']]);
  const catalogue = seriesOf(await command(client, HOME, 'list_series')).map((s) => s.identifier);
  assert.ok(catalogue.includes(POWER) && catalogue.includes('urn:dev:org:60060-lyon:42'), catalogue.join(' '));
});

test('malformed payloads are counted and logged, never stored, and the adapter keeps working', async ({ broker, fg, client }) => {
  const before = points(fg);
  const bad: Array<[string, string]> = [
    [`meters/${PRM}/power`, 'twelve'],
    [`meters/${PRM}/power`, ''],
    [`meters/${PRM}/power`, '1e999'],
    ['meters/not-a-prm/power', '5'],
    ['sensors/42/json', '{"reading": {"v": 1}, "ts": "yesterday"}'],
    ['sensors/42/json', '{not json'],
    ['ha/sensor/heatpump/state', 'unavailable'],
  ];
  for (const [t, p] of bad) await pub(broker, t, p);
  await pub(broker, `meters/${PRM}/power`, '7');
  await until(() => points(fg) === before + 1, 10_000, () => 'the valid reading after the bad ones was not stored');
  const counts = Object.fromEntries(
    (await import('../helpers/db.js')).queryStore<{ filter: string; count: number }>(fg, "SELECT filter, count FROM mqtt_malformed WHERE app = 'home'").map((r) => [r.filter, r.count]),
  );
  assert.equal(counts, { 'meters/+/power': 4, 'sensors/+/json': 2, 'ha/sensor/+/state': 1 });
  assert.match(fg.stderr, 'malformed MQTT payload refused');
  assert.equal(recordsOf(await client.waitFor(isPush, 30_000)).map((r) => r.value), [7]);
  assert.is(fg.proc !== null, true);
});

test('a publisher making a series per topic stops at max_series: the next new ones are refused and counted, the known ones still stored', async ({ broker, fg }) => {
  const capped = () => storeScalar<number>(fg, "SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = 'capped'");
  // Subscribed once the first reading is stored.
  await until(async () => (await pub(broker, 'capped/a', '1'), capped() > 0), 15_000, () => fg.stderr.slice(-1000));
  for (const t of ['b', 'c', 'd', 'e']) await pub(broker, `capped/${t}`, '2');
  await pub(broker, 'capped/a', '3');
  await until(
    () => queryStore<{ count: number }>(fg, "SELECT count FROM mqtt_malformed WHERE app = 'capped'")[0]?.count === 2,
    10_000,
    () => JSON.stringify(queryStore(fg, "SELECT * FROM mqtt_malformed WHERE app = 'capped'")),
  );
  assert.equal(queryStore<{ identifier: string }>(fg, "SELECT identifier FROM store_series WHERE app = 'capped' ORDER BY identifier").map((r) => r.identifier), [
    'urn:dev:org:60060-cap:a', 'urn:dev:org:60060-cap:b', 'urn:dev:org:60060-cap:c',
  ]);
  assert.match(queryStore<{ last_reason: string }>(fg, "SELECT last_reason FROM mqtt_malformed WHERE app = 'capped'")[0]!.last_reason, 'beyond max_series (3)');
  await until(() => storeScalar<number>(fg, "SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.identifier = 'urn:dev:org:60060-cap:a'") >= 2, 10_000, () => 'a known series refused');
});

test('a broker restart loses nothing published with QoS 1, even before fedgate is back', async ({ broker, fg, client, mq }) => {
  const before = points(fg);
  await broker.stopBroker();
  await broker.boot();
  await until(() => mq.connected, 10_000, () => 'the test publisher did not reconnect');
  // Queued by the broker for fedgate's persistent session if fedgate has not reconnected yet.
  for (let i = 0; i < 50; i++) await mq.publishAsync(`meters/${PRM}/power`, String(1000 + i), { qos: 1 });
  await until(() => points(fg) === before + 50, 15_000, () => `stored ${points(fg) - before} of 50`);
  const values: number[] = [];
  while (values.length < 50) values.push(...recordsOf(await client.waitFor(isPush, 30_000)).map((r) => r.value!));
  assert.equal(values, Array.from({ length: 50 }, (_, i) => 1000 + i));
});

test('data sent to the app is published QoS 1 to its topic template', async ({ fg, mq }) => {
  const got: Array<{ topic: string; body: Record<string, unknown> }> = [];
  mq.on('message', (topic, payload) => got.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> }));
  await mq.subscribeAsync('out/#', { qos: 1 });
  const csv = join(fg.dir, 'out.csv');
  writeFileSync(csv, `identifier,time,value,unit\n${POWER},${T0},342,W\n${POWER},${T0 + 1800},0,W\n`);
  await fg.must('store', 'import', 'meters', csv);
  await until(() => got.length >= 2, 15_000, () => `published ${got.length} of 2`);
  assert.equal(got.map((g) => [g.topic, g.body.time, g.body.value, g.body.unit, g.body.from]), [
    [`out/urn:dev:prm:${PRM}/consumption/power/active/raw`, T0, 342, 'W', `meters@${DOMAIN}`],
    [`out/urn:dev:prm:${PRM}/consumption/power/active/raw`, T0 + 1800, 0, 'W', `meters@${DOMAIN}`],
  ]);
});

test('TLS: the app connects with the broker authority and reads what is published there', async ({ broker, fg, client }) => {
  await until(async () => {
    await pub(broker, 'secure/door', '1');
    return storeScalar<number>(fg, "SELECT count(*) FROM store_series WHERE app = 'secure'") === 1;
  }, 15_000, () => `nothing stored over TLS: ${fg.stderr}`);
  const h = recordsOf(await command(client, `secure@${DOMAIN}`, 'get_history', { identifier: 'urn:dev:org:60060-tls:door' }));
  assert.ok(h.length >= 1 && h.every((r) => r.value === 1));
});

test("a retained value without a time of its own is the broker's memory, not a reading: not stored at subscription", async ({ broker, fg }) => {
  // Published (retained) before the app subscribes: the broker hands it over at the subscription, with
  // the retain flag; stored, it would be a reading dated now, again at every reconnect.
  await pub(broker, 'late/boiler', '41', true);
  const readings = () => storeScalar<number>(fg, "SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.identifier = 'urn:dev:org:60060-late:boiler'");
  const auth = ['--option', `username=${broker.user}`, '--option', `password_file=${broker.passwordFile}`];
  await fg.must('app', 'add', 'late', '--kind', 'mqtt', '--option', `url=${broker.url}`, ...auth, '--option', `subscriptions=${JSON.stringify([{ topic: 'late/+', identifier: 'urn:dev:org:60060-late:{1}' }])}`);
  // A live value published after the subscription arrives after the retained one (one connection, in order).
  await until(async () => {
    await pub(broker, 'late/boiler', '42');
    return readings() > 0;
  }, 15_000, () => `nothing stored: ${fg.stderr.slice(-500)}`);
  const values = queryStore<{ value: number }>(fg, "SELECT p.value FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.identifier = 'urn:dev:org:60060-late:boiler'").map((r) => r.value);
  assert.ok(values.length >= 1 && values.every((v) => v === 42), `stored ${JSON.stringify(values)}`);
});

test.run();
