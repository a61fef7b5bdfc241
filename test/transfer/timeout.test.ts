/**
 * Adapter calls are time-limited by fedgate itself (adapters.timeout_seconds): an application's system
 * that never answers does not hold its inbox forever — the call is abandoned, and retried.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer, xml } from '../helpers/peer.js';
import { HttpSink } from '../helpers/http-sink.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';

test('a delivery that hangs past adapters.timeout_seconds is abandoned and retried', async () => {
  const ejabberd = await Ejabberd.start({ components: [{ domain: 'b.localhost', secret: 'b' }, { domain: 'peer.localhost', secret: 'p' }] });
  const http = await HttpSink.start();
  const fg = new Fedgate({ port: ejabberd.componentPort('b.localhost'), domain: 'b.localhost', secret: 'b', extraYaml: 'adapters:\n  timeout_seconds: 1\ndelivery:\n  retry_initial_ms: 100\n' });
  let peer: Peer | null = null;
  try {
    // The webhook's own HTTP timeout is a minute: only fedgate's limit can end the first call.
    await fg.must('app', 'add', 'sink', '--kind', 'webhook', '--option', `url=${http.url}`, '--option', 'timeout_ms=60000');
    await fg.must('consumer', 'add', '--source', 'meters@peer.localhost', '--destination', 'sink', '--schedule', 'none');
    let calls = 0;
    http.respond = () => (calls++ === 0 ? 'hang' : 200);
    fg.start();
    await fg.waitOnline();
    peer = (await Peer.connect(ejabberd.componentPort('peer.localhost'), 'peer.localhost', 'p')).answerDisco();
    const data = parseXml(
      '<quoalise xmlns="urn:quoalise:0"><data><meta/><sensml xmlns="urn:ietf:params:xml:ns:senml"><senml bn="urn:dev:prm:30000000000001_consumption/power/active/raw" bt="1704063600" u="W" v="1"/></sensml></data></quoalise>',
    );
    peer.send(xml('message', { to: 'sink@b.localhost', from: 'meters@peer.localhost/r', id: 'h1' }, data, xml('request', { xmlns: 'urn:xmpp:receipts' })));
    await peer.waitFor((el) => el.getChild('received', 'urn:xmpp:receipts')?.attrs.id === 'h1', 10_000);
    await http.waitAccepted(1, 15_000);
    assert.equal(http.received.map((r) => r.key), ['meters@peer.localhost/h1', 'meters@peer.localhost/h1'], 'the same message, posted again');
    assert.match(fg.stderr, 'did not finish within 1 s');
  } finally {
    await peer?.close();
    await fg.stop();
    fg.cleanup();
    await http.stop();
    await ejabberd.stop();
  }
});

test.run();
