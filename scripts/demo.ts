/**
 * scripts/demo: the federation's first use case, live on this machine.
 *
 * A local ejabberd with two fedgate gateways: `city.localhost` (the local authority's building
 * monitoring) serves a school's solar production; `citizens.localhost` (the citizen home-automation
 * platform) serves a household's load curve and an `investors` app to which the city sends the school's
 * production. A year of half-hourly data (scripts/demo-data.ts, a documented model) is loaded, the
 * school's year flows from one gateway to the other, a client account asks for data the Quoalise way,
 * subscribes, and receives a new reading every few seconds. A simulated Linky meter publishes its
 * apparent power to a local mosquitto, served by an `mqtt` app as a live series. Ctrl-C stops everything.
 *   node dist/scripts/demo.js [--once]      (--once: run the scenario, then stop)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Ejabberd } from '../test/helpers/ejabberd.js';
import { Fedgate } from '../test/helpers/fedgate.js';
import { User } from '../test/helpers/client.js';
import { Mosquitto } from '../test/helpers/mosquitto.js';
import mqtt, { type MqttClient } from 'mqtt';
import { storeScalar, until } from '../test/helpers/db.js';
import { decodeQuoalise } from '../component/quoalise/payload.js';
import { formatIsoUtc } from '../component/quoalise/time.js';
import type { Element } from '../component/xmpp/xml.js';
import { DIST_ROOT } from '../component/paths.js';

const { values } = parseArgs({ options: { once: { type: 'boolean', default: false } } });
const HOUSEHOLD = 'urn:dev:prm:30001442769830_consumption/power/active/raw';
const SCHOOL = 'urn:dev:prm:30002187651024_production/power/active/raw';
const LINKY_PRM = '30001442769830';
const LINKY = `urn:dev:prm:${LINKY_PRM}_consumption/power/apparent/raw`;
const CITY = 'city.localhost';
const CITIZENS = 'citizens.localhost';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const step = (s: string) => process.stdout.write(`\n${bold(`== ${s}`)}\n`);
const say = (s: string) => process.stdout.write(`${s}\n`);

async function admin(fg: Fedgate, ...args: string[]): Promise<string> {
  say(dim(`  $ fedgate ${args.map((a) => (/[\s*]/.test(a) ? `'${a}'` : a)).join(' ')}`));
  return fg.must(...args);
}

function command(user: User, to: string, node: string, fields: Record<string, string>): Promise<Element> {
  const form = user.xml(
    'x',
    { xmlns: 'jabber:x:data', type: 'submit' },
    ...Object.entries(fields).map(([k, v]) => user.xml('field', { var: k }, user.xml('value', {}, v))),
  );
  return user.iq(to, 'set', user.xml('command', { xmlns: 'http://jabber.org/protocol/commands', node, action: 'execute' }, form), 30_000);
}

const kW = (w: number | undefined) => `${((w ?? 0) / 1000).toFixed(2)} kW`;
const local = (t: number) => new Date(t * 1000).toLocaleString('en-GB', { timeZone: 'Europe/Paris', dateStyle: 'short', timeStyle: 'short' });

step('Starting a local ejabberd');
const ejabberd = await Ejabberd.start({ components: [{ domain: CITY, secret: 'city-secret-demo' }, { domain: CITIZENS, secret: 'citizens-secret-demo' }] });
const city = new Fedgate({ port: ejabberd.componentPort(CITY), domain: CITY, secret: 'city-secret-demo', logLevel: 'warn' });
const citizens = new Fedgate({ port: ejabberd.componentPort(CITIZENS), domain: CITIZENS, secret: 'citizens-secret-demo', logLevel: 'warn' });
const broker = await Mosquitto.start();
let meter: MqttClient | null = null;
let user: User | null = null;
let live: NodeJS.Timeout | null = null;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (live) clearInterval(live);
    step('Stopping');
    await user?.close();
    await meter?.endAsync();
    for (const [name, fg] of [[CITY, city], [CITIZENS, citizens]] as const) {
      say(`  fedgate ${name}: exit code ${await fg.stop()}`);
      fg.cleanup();
    }
    await ejabberd.stop();
    await broker.stop();
    say('  ejabberd and mosquitto stopped; scratch folders removed');
  }
  process.exit(code);
}
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));

try {
  say(`  node ${ejabberd.node}, client port 127.0.0.1:${ejabberd.c2sPort}, component ports 127.0.0.1:${ejabberd.componentPort(CITY)} (${CITY}), 127.0.0.1:${ejabberd.componentPort(CITIZENS)} (${CITIZENS})`);
  say(`  component listeners: ${CITY}, ${CITIZENS} (see ejabberd.example.yml for a production listener)`);
  await ejabberd.register('demo', 'demo');
  say('  account demo@localhost, password demo');

  step('Generating a year of half-hourly data near Lyon (scripts/demo-data.ts)');
  const csv = join(city.dir, 'demo.csv');
  execFileSync(process.execPath, [join(DIST_ROOT, 'scripts/demo-data.js'), '--out', csv, '--year', '2024'], { stdio: 'inherit' });
  const [header, ...lines] = readFileSync(csv, 'utf8').trim().split('\n');
  const meta = JSON.parse(readFileSync(csv.replace(/\.csv$/, '.meta.json'), 'utf8')) as Record<string, unknown>;
  for (const [file, series] of [[join(city.dir, 'school.csv'), SCHOOL], [join(citizens.dir, 'household.csv'), HOUSEHOLD]] as const) {
    writeFileSync(file, `${header}\n${lines.filter((l) => l.startsWith(series)).join('\n')}\n`);
    writeFileSync(file.replace(/\.csv$/, '.meta.json'), JSON.stringify({ [series]: meta[series] }, null, 2));
  }
  say(`  ${lines.length.toLocaleString('en-US')} readings: a household's load curve and a school's 36 kWp solar production`);

  step(`Configuring ${CITY} (the city's buildings)`);
  await admin(city, 'app', 'add', 'school', '--kind', 'store', '--description', 'École Jean Macé — solar production');
  await admin(city, 'store', 'import', 'school', join(city.dir, 'school.csv'));
  await admin(city, 'consumer', 'add', '--source', 'school', '--destination', `investors@${CITIZENS}`, '--series', SCHOOL, '--schedule', 'on-change');
  await admin(city, 'grant', 'add', 'school', 'demo@localhost', '*', '--purpose', 'demo: citizen investors follow the production');

  step(`Configuring ${CITIZENS} (the citizens' platform)`);
  await admin(citizens, 'app', 'add', 'household', '--kind', 'store', '--description', 'A reference household — load curve');
  await admin(citizens, 'store', 'import', 'household', join(citizens.dir, 'household.csv'));
  await admin(citizens, 'app', 'add', 'investors', '--kind', 'store', '--description', 'Citizen investors of the school roof');
  await admin(citizens, 'app', 'add', 'hello', '--kind', 'echo', '--option', 'prefix=hello from fedgate: ', '--description', 'Says hello back');
  await admin(citizens, 'consumer', 'add', '--source', `school@${CITY}`, '--destination', 'investors', '--series', '*', '--schedule', 'none');
  await admin(citizens, 'grant', 'add', 'household', 'demo@localhost', '*', '--purpose', 'demo: compare with the school');
  await admin(citizens, 'grant', 'add', 'investors', 'demo@localhost', '*');
  const linky = [{ topic: 'teleinfo/+/papp', identifier: 'urn:dev:prm:{1}_consumption/power/apparent/raw', unit: 'VA',
    meta: { device: { type: 'electricity-meter', identifier: { authority: 'enedis', type: 'prm', value: LINKY_PRM } }, measurement: { name: 'apparent-power', direction: 'consumption', quantity: 'power', type: 'electrical', unit: 'VA' } } }];
  say(`  mosquitto on ${broker.url}, user ${broker.user}, password in ${broker.passwordFile}`);
  await admin(citizens, 'app', 'add', 'linky', '--kind', 'mqtt', '--option', `url=${broker.url}`, '--option', `username=${broker.user}`,
    '--option', `password_file=${broker.passwordFile}`, '--option', `subscriptions=${JSON.stringify(linky)}`, '--description', 'The household\'s Linky meter, live over MQTT');
  await admin(citizens, 'grant', 'add', 'linky', 'demo@localhost', '*');

  step('Starting both gateways');
  const t0 = Date.now();
  city.start();
  citizens.start();
  await Promise.all([city.waitOnline(), citizens.waitOnline()]);
  for (const fg of [city, citizens]) say((await admin(fg, 'status')).trimEnd().replace(/^/gm, '    '));

  step(`The school's year flows from ${CITY} to investors@${CITIZENS}`);
  const total = lines.filter((l) => l.startsWith(SCHOOL)).length;
  await until(
    () => {
      const n = (() => {
        try {
          return storeScalar(citizens, "SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = 'investors'");
        } catch {
          return 0; // the store file is created by the receiving app's first write
        }
      })();
      process.stdout.write(`\r  investors@${CITIZENS} has ${n.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} readings`);
      return n === total;
    },
    120_000,
    () => 'transfer did not finish',
  );
  say(` — ${((Date.now() - t0) / 1000).toFixed(1)} s after the gateways started: extracted, sent through ejabberd, committed, confirmed, stored`);

  step('demo@localhost asks, as a Quoalise client would');
  user = await User.connect(ejabberd.c2sPort, 'demo', 'demo');
  user.send(user.xml('presence'));
  const hello = user.xml('message', { to: `hello@${CITIZENS}`, type: 'chat', id: 'hi' }, user.xml('body', {}, 'bonjour'));
  user.send(hello);
  say(`  chat to hello@${CITIZENS}: "${(await user.waitFor((el) => el.name === 'message' && !!el.getChildText('body'))).getChildText('body')}"`);
  const catalogue = await command(user, `household@${CITIZENS}`, 'list_series', {});
  for (const s of catalogue.getChild('command')?.getChild('quoalise')?.getChildren('series') ?? []) {
    say(`  list_series household: ${s.attrs.identifier}  ${s.attrs.count} records from ${s.attrs.first} to ${s.attrs.last}`);
  }
  const day = { start_time: '2024-01-15T00:00:00+01:00', end_time: '2024-01-16T00:00:00+01:00' };
  const answers = await Promise.all([
    command(user, `household@${CITIZENS}/proxy`, 'get_history', { identifier: HOUSEHOLD, ...day }),
    command(user, `investors@${CITIZENS}/proxy`, 'get_history', { identifier: SCHOOL, ...day }),
  ]);
  const [house, solar] = answers.map((a) => decodeQuoalise(a.getChild('command')!.getChild('quoalise')!)[0]!.records);
  say(`  get_history of 15 January 2024 (${house!.length} half-hours each), household consumption vs school production:`);
  for (let i = 0; i < house!.length; i += 4) {
    say(`    ${local(house![i]!.time).padEnd(17)} household ${kW(house![i]!.value).padStart(9)}   school ${kW(solar![i]?.value).padStart(9)}`);
  }

  step(`demo@localhost subscribes to the school's production at ${CITY}; a new reading every 2 s`);
  const sub = await command(user, `school@${CITY}/proxy`, 'subscribe', { identifier: SCHOOL });
  say(`  subscribe: ${sub.getChild('command')?.attrs.status}`);
  let next = Date.parse('2025-01-01T00:00:00Z') / 1000 + 11 * 3600; // noon-ish, so that the sun shines
  let sent = 0;
  const feed = async () => {
    const file = join(city.dir, `live-${sent}.csv`);
    const watts = Math.round(8000 + 6000 * Math.sin(sent / 3));
    writeFileSync(file, `identifier,time,value,unit\n${SCHOOL},${next},${watts},W\n`);
    next += 1800;
    sent++;
    await city.cli('store', 'import', 'school', file);
  };
  // The first push to a plain client waits for stable evidence that it confirms nothing (two featureless
  // disco#info answers 5 s apart: README, "Delivery guarantees"); a loaded machine adds its own delays.
  const PUSH_WAIT_MS = 45_000;
  const pushes = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const m = await user!.waitFor((el) => el.name === 'message' && !!el.getChild('quoalise', 'urn:quoalise:0'), PUSH_WAIT_MS);
      for (const r of decodeQuoalise(m.getChild('quoalise', 'urn:quoalise:0')!).flatMap((b) => b.records)) {
        say(`  pushed by ${m.attrs.from}: ${formatIsoUtc(r.time)}  ${r.unit === 'W' ? kW(r.value) : `${r.value} ${r.unit ?? ''}`}`);
      }
    }
  };
  await feed();
  await pushes(1);
  await feed();
  await pushes(1);

  step(`A simulated Linky meter publishes its apparent power to mosquitto; demo@localhost follows it at linky@${CITIZENS}`);
  meter = await mqtt.connectAsync(broker.url, { username: broker.user, password: broker.password });
  let papp = 0;
  const publish = async () => {
    const va = Math.round(900 + 600 * Math.sin(papp++ / 2));
    say(dim(`  meter → mosquitto: teleinfo/${LINKY_PRM}/papp ${va} (QoS 1)`));
    await meter!.publishAsync(`teleinfo/${LINKY_PRM}/papp`, String(va), { qos: 1 });
  };
  // The series exists from the meter's first reading on (once the app's worker is subscribed at the broker).
  await until(async () => {
    await publish();
    return (await command(user!, `linky@${CITIZENS}/proxy`, 'subscribe', { identifier: LINKY })).attrs.type === 'result';
  }, 15_000, () => 'linky not ready');
  const livePushes = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const m = await user!.waitFor((el) => el.name === 'message' && el.attrs.from === `linky@${CITIZENS}` && !!el.getChild('quoalise', 'urn:quoalise:0'), PUSH_WAIT_MS);
      for (const r of decodeQuoalise(m.getChild('quoalise', 'urn:quoalise:0')!).flatMap((b) => b.records)) say(`  pushed by ${m.attrs.from}: ${r.value} ${r.unit}`);
    }
  };
  await publish();
  await livePushes(1);
  await publish();
  await livePushes(1);

  if (values.once) await shutdown(0);
  step('Running. Ctrl-C stops everything.');
  say(`  Connect any XMPP client to 127.0.0.1:${ejabberd.c2sPort} as demo@localhost / demo (no TLS), or query it with`);
  say(`    quoalise get-history --server 127.0.0.1:${ejabberd.c2sPort} ... household@${CITIZENS}/proxy ${HOUSEHOLD}`);
  say(`  Inspect the gateways: FEDGATE_CONFIG=${city.configPath} node dist/scripts/fedgate.js consumer list`);
  live = setInterval(() => void feed().then(publish).catch(() => {}), 2000);
  for (;;) await pushes(1).catch(() => {});
} catch (err) {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? err}\n`);
  await shutdown(1);
}
