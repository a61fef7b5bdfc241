/**
 * bench:subscriptions — what a write costs the gateway when other series have subscribers (issue 7: it
 * must not grow with subscriptions to other series). A `store` app receives single-record data messages
 * for one series from an entitled peer, each committed, acknowledged, applied and stored; the gateway's
 * CPU time per message is measured with no subscription at all (the baseline, same run, same gateway),
 * then with 3,000 subscriptions to the app's other series.
 *   npm run bench:subscriptions [-- --messages 3000 --subscriptions 3000]
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { Component, xml, type Element } from '@xmpp/component-core';
import { Ejabberd } from '../../test/helpers/ejabberd.js';
import { Fedgate } from '../../test/helpers/fedgate.js';
import { storeScalar } from '../../test/helpers/db.js';
import { openDatabase } from '../../component/store/database.js';
import { ConsumerStore } from '../../component/transfer/consumers.js';
import { openStoreDatabase } from '../../adapters/store/store-database.js';
import { SeriesStore } from '../../adapters/store/series-store.js';
import { printTable } from './lib/stats.js';
import { cpuSeconds } from './lib/proc.js';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '3000' }, subscriptions: { type: 'string', default: '3000' } } });
const MESSAGES = Number(values.messages);
const SUBSCRIPTIONS = Number(values.subscriptions);
const WINDOW = 50;

const DOMAIN = 'energy.localhost';
const PEER = 'peer.localhost';
const T0 = 1704063600;
const series = (i: number) => `urn:dev:prm:${String(30000000000000 + i)}_consumption/power/active/raw`;
const WRITTEN = series(0);

const ej = await Ejabberd.start({ components: [{ domain: DOMAIN, secret: 'fg' }, { domain: PEER, secret: 'peer' }] });
const fg = new Fedgate({ port: ej.componentPort(DOMAIN), domain: DOMAIN, secret: 'fg' });
try {
  await fg.must('app', 'add', 'meters', '--kind', 'store');
  await fg.must('consumer', 'add', '--source', `src@${PEER}`, '--destination', 'meters', '--series', WRITTEN, '--schedule', 'none');
  // The other series exist (a subscription is to a series the app has), one record each.
  const store = openStoreDatabase(join(fg.dir, 'fedgate.sqlite'));
  new SeriesStore(store, 'meters').ingest([{ meta: {}, records: Array.from({ length: SUBSCRIPTIONS + 1 }, (_, i) => ({ name: series(i), time: T0, value: i, unit: 'W' })) }]);
  store.close();
  fg.start();
  await fg.waitOnline();
  const peer = new Component({ service: `xmpp://127.0.0.1:${ej.componentPort(PEER)}`, domain: PEER });
  peer.on('open', (el: Element) => void peer.authenticate(el.attrs.id ?? '', 'peer').catch(() => {}));
  peer.on('error', () => {});
  await peer.start();
  peer.socket?.setNoDelay(true);
  // It answers disco#info, as any XMPP entity must: the gateway asks a sender's domain whether it signs.
  peer.on('stanza', (el: Element) => {
    if (el.name === 'iq' && el.attrs.type === 'get' && el.getChild('query', 'http://jabber.org/protocol/disco#info')) {
      void peer.send(xml('iq', { type: 'result', id: el.attrs.id, to: el.attrs.from, from: el.attrs.to }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
    }
  });

  let sent = 0;
  /** Sends `n` messages of one record each, `WINDOW` unacknowledged at most; resolves when all are stored. */
  const writes = async (n: number): Promise<number> => {
    const stored = storeScalar<number>(fg, 'SELECT count(*) FROM store_points');
    const pid = fg.proc!.pid!;
    const cpu0 = cpuSeconds(pid);
    await new Promise<void>((resolve) => {
      let acked = 0;
      let next = 0;
      const one = () => {
        const i = sent++;
        next++;
        return `<message to="meters@${DOMAIN}" from="src@${PEER}" id="w${i}"><quoalise xmlns="urn:quoalise:0"><data><meta/><sensml xmlns="urn:ietf:params:xml:ns:senml"><senml bn="${WRITTEN}" bt="${T0 + 1800 * (i + 1)}" v="${i}" u="W"/></sensml></data></quoalise><request xmlns="urn:xmpp:receipts"/></message>`;
      };
      const onStanza = (el: Element) => {
        if (!el.getChild('received', 'urn:xmpp:receipts')) return;
        if (++acked === n) {
          peer.off('stanza', onStanza);
          resolve();
        } else if (next < n) peer.socket!.write(one());
      };
      peer.on('stanza', onStanza);
      let burst = '';
      while (next < Math.min(WINDOW, n)) burst += one();
      peer.socket!.write(burst);
    });
    while (storeScalar<number>(fg, 'SELECT count(*) FROM store_points') < stored + n) await new Promise((r) => setTimeout(r, 20));
    return ((cpuSeconds(pid) - cpu0) / n) * 1e6;
  };

  await writes(500); // warm-up
  const none = await writes(MESSAGES);
  // Subscriptions to every other series, as the subscribe command makes them: at the current end.
  const db = openDatabase(join(fg.dir, 'fedgate.sqlite'));
  const consumers = new ConsumerStore(db);
  const end = String(storeScalar<number>(fg, 'SELECT seq FROM store_sequence'));
  db.transaction(() => {
    for (let i = 1; i <= SUBSCRIPTIONS; i++) consumers.subscribe(`meters@${DOMAIN}`, series(i), `sub${i % 10}@${PEER}`, end);
  }).immediate();
  db.close();
  // The gateway learns of them through its change feed; give it time to set up their jobs.
  await new Promise((r) => setTimeout(r, 3000));
  const many = await writes(MESSAGES);
  printTable(`bench:subscriptions — CPU time of the gateway per data message (one record, stored), ${MESSAGES} messages`, 'no subscription', [
    { figure: `with ${SUBSCRIPTIONS.toLocaleString('en-US')} subscriptions to other series`, value: many, baseline: none, unit: 'us', higherIsBetter: false },
  ]);
  process.stdout.write(`\nCPU per write with ${SUBSCRIPTIONS} subscriptions to other series / with none: ${(many / none).toFixed(2)} (goal: about 1)\n`);
  await peer.stop().catch(() => peer.socket?.destroy());
} finally {
  await fg.stop();
  fg.cleanup();
  await ej.stop();
}
