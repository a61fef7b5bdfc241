/**
 * bench:mqtt — the `mqtt` adapter against a real mosquitto, beside a plain MQTT.js subscriber on the same
 * broker in the same run:
 * - ingest: N QoS 1 messages published at once, delivered by the broker to both subscribers at the same
 *   time; time until fedgate has committed them all to its store (polled in SQLite) vs until the plain
 *   subscriber has received them all;
 * - latency at 1,000 messages/s: each message published → the record pushed by fedgate to a Quoalise
 *   subscriber over XMPP (p50/p99), vs published → received by the plain subscriber.
 * Goals (issue 11): ingest ≥ 0.5 of the plain subscriber's rate; p99 publish → push < 50 ms at 1,000/s.
 *   npm run bench:mqtt [-- --messages 20000 --rounds 3 --seconds 5]
 */
import { paced } from './lib/relay-flow.js';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Ejabberd } from '../../test/helpers/ejabberd.js';
import { Fedgate } from '../../test/helpers/fedgate.js';
import { Mosquitto } from '../../test/helpers/mosquitto.js';
import { storeDatabasePath } from '../../adapters/store/store-database.js';
import { decodeQuoalise } from '../../component/quoalise/payload.js';
import { CommandClient } from './lib/command-client.js';
import { median, percentile, printTable } from './lib/stats.js';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '5' } } });
const N = Number(values.messages);
const ROUNDS = Number(values.rounds);
const RATE_SECONDS = Number(values.seconds);
const DOMAIN = 'energy.localhost';
const CLIENT = 'load.localhost';
const PRM = '30000000000042';
const SERIES = `urn:dev:prm:${PRM}_consumption/power/active/raw`;
const TOPIC = `meters/${PRM}/power`;

const [ejabberd, broker] = await Promise.all([Ejabberd.start({ components: [{ domain: DOMAIN, secret: 'fg' }, { domain: CLIENT, secret: 'load' }] }), Mosquitto.start()]);
const fg = new Fedgate({ port: ejabberd.componentPort(DOMAIN), domain: DOMAIN, secret: 'fg', extraYaml: 'quoalise:\n  requests_per_second: 1000000\ndelivery:\n  push_messages_per_second: 100000\n' });
const clients: MqttClient[] = [];
let xmpp: CommandClient | null = null;
const connect = async () => {
  const c = await mqtt.connectAsync(broker.url, { username: broker.user, password: broker.password });
  clients.push(c);
  return c;
};
try {
  await fg.must('app', 'add', 'meters', '--kind', 'mqtt', '--option', `url=${broker.url}`, '--option', `username=${broker.user}`, '--option', `password_file=${broker.passwordFile}`,
    '--option', `subscriptions=${JSON.stringify([{ topic: 'meters/+/power', identifier: 'urn:dev:prm:{1}_consumption/power/active/raw', unit: 'W' }])}`);
  await fg.must('grant', 'add', 'meters', CLIENT, '*');
  fg.start();
  await fg.waitOnline();
  xmpp = await CommandClient.connect(ejabberd.componentPort(CLIENT), CLIENT, 'load');
  const appJid = `meters@${DOMAIN}`;
  const publisher = await connect();
  const plain = await connect();
  await plain.subscribeAsync('meters/+/power', { qos: 1 });
  // Ready when a published value is stored (the app's worker is up and subscribed at the broker).
  const store = () => new Database(storeDatabasePath(join(fg.dir, 'fedgate.sqlite')), { readonly: true, fileMustExist: true });
  let db: Database.Database | null = null;
  const stored = () => (db ??= store()).prepare("SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = 'meters'").pluck().get() as number;
  for (const deadline = Date.now() + 15_000; ; ) {
    await publisher.publishAsync(TOPIC, '0', { qos: 1 });
    try {
      if (stored() > 0) break;
    } catch {
      db = null; // the store file appears with the first write
    }
    if (Date.now() > deadline) throw new Error(`nothing stored: ${fg.stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  // ---- ingest
  let plainGot = 0;
  let plainWaiter: (() => void) | null = null;
  let plainTarget = 0;
  plain.on('message', () => {
    plainGot++;
    if (plainWaiter && plainGot >= plainTarget) plainWaiter();
  });
  const burst = () => Promise.all(Array.from({ length: N }, (_, i) => publisher.publishAsync(TOPIC, String(i), { qos: 1 })));
  const ingestRounds: number[] = [];
  const plainRounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Both subscribers get the same messages from the broker at once; each is timed to its last one.
    const before = stored();
    plainTarget = plainGot + N;
    const t0 = process.hrtime.bigint();
    const plainDone = new Promise<void>((res) => (plainWaiter = res)).then(() => plainRounds.push(Number(process.hrtime.bigint() - t0) / 1e6));
    void burst();
    while (stored() < before + N) await new Promise((res) => setTimeout(res, 2));
    ingestRounds.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await plainDone;
    plainWaiter = null;
  }
  const ingestMs = median(ingestRounds);
  const plainMs = median(plainRounds);
  printTable(`bench:mqtt — ingest: ${N.toLocaleString('en-US')} QoS 1 messages published at once, median of ${ROUNDS} rounds`, 'plain subscriber', [
    { figure: 'messages per second (stored / received)', value: (N / ingestMs) * 1000, baseline: (N / plainMs) * 1000, unit: '/s', higherIsBetter: true },
  ]);

  // ---- latency at 1,000 messages/s
  xmpp.confirmReceipts();
  const sub = await xmpp.execute(appJid, 'subscribe', { identifier: SERIES });
  if (!sub.answer.getChild('command')) throw new Error('subscribe failed');
  // A subscriber that confirms each push (XEP-0184), as a fedgate peer does; warm-up push first.
  const warm = new Promise<void>((resolve) => {
    const stop = xmpp!.onMessage((el) => {
      if (el.getChild('quoalise')) (stop(), resolve());
    });
  });
  await publisher.publishAsync(TOPIC, '1', { qos: 1 });
  await warm;
  const total = RATE_SECONDS * 1000;
  const sentAt = new Map<number, bigint>();
  const pushLatency: number[] = [];
  const plainLatency: number[] = [];
  const base = 10_000_000;
  plain.removeAllListeners('message');
  plain.on('message', (_t, payload) => {
    const seq = Number(payload.toString()) - base;
    const at = sentAt.get(seq);
    if (at !== undefined) plainLatency.push(Number(process.hrtime.bigint() - at) / 1e6);
  });
  const done = new Promise<void>((resolve) => {
    xmpp!.onMessage((el) => {
      const now = process.hrtime.bigint();
      const q = el.getChild('quoalise');
      if (!q) return;
      for (const r of decodeQuoalise(q).flatMap((b) => b.records)) {
        const at = sentAt.get((r.value ?? 0) - base);
        if (at !== undefined) pushLatency.push(Number(now - at) / 1e6);
      }
      if (pushLatency.length >= total) resolve();
    });
  });
  // Paced by a 1 ms timer, the messages due published at each tick (each timed from its own publish): a
  // busy-waiting pacer would take one of the two cores from the broker, ejabberd and fedgate.
  let sent = 0;
  await paced(1000, RATE_SECONDS, (due) => {
    for (const end = sent + due; sent < end && sent < total; sent++) {
      sentAt.set(sent, process.hrtime.bigint());
      publisher.publish(TOPIC, String(base + sent), { qos: 1 });
    }
  });
  for (; sent < total; sent++) {
    sentAt.set(sent, process.hrtime.bigint());
    publisher.publish(TOPIC, String(base + sent), { qos: 1 });
  }
  await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${pushLatency.length}/${total} pushed`)), 60_000))]);
  const sortedPush = [...pushLatency].sort((a, b) => a - b);
  const sortedPlain = [...plainLatency].sort((a, b) => a - b);
  printTable(`latency at 1,000 messages/s for ${RATE_SECONDS} s: published → pushed over XMPP to a Quoalise subscriber / → received by the plain subscriber`, 'plain subscriber', [
    { figure: 'p50 latency', value: percentile(sortedPush, 50), baseline: percentile(sortedPlain, 50), unit: 'ms', higherIsBetter: false },
    { figure: 'p99 latency', value: percentile(sortedPush, 99), baseline: percentile(sortedPlain, 99), unit: 'ms', higherIsBetter: false },
  ]);
  process.stdout.write(`\ningest ratio fedgate / plain subscriber: ${(plainMs / ingestMs).toFixed(2)} (goal >= 0.5); p99 publish → push at 1000/s: ${percentile(sortedPush, 99).toFixed(1)} ms (goal < 50 ms)\n`);
  (db as Database.Database | null)?.close();
} finally {
  for (const c of clients) await c.endAsync().catch(() => {});
  await xmpp?.close();
  await fg.stop();
  fg.cleanup();
  await Promise.all([ejabberd.stop(), broker.stop()]);
}
