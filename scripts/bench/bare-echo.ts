/**
 * The baseline for bench:route and bench:relay: the barest echo an @xmpp/component user would
 * write — every chat message is sent back at once. Run as its own process, like fedgate.
 *   node dist/scripts/bench/bare-echo.js PORT DOMAIN SECRET
 */
import { component, xml } from '@xmpp/component';
import type { Element } from '@xmpp/component-core';

const [port, domain, password] = process.argv.slice(2);
const c = component({ service: `xmpp://127.0.0.1:${port}`, domain: domain!, password: password! });
c.on('error', () => {});
c.on('stanza', (el: Element) => {
  if (el.name !== 'message' || el.attrs.type === 'error') return;
  const body = el.getChildText('body');
  if (body === null) return;
  void c.send(xml('message', { from: el.attrs.to, to: el.attrs.from, type: el.attrs.type, id: `${el.attrs.id}-r` }, xml('body', {}, body)));
});
c.on('online', () => {
  // TCP_NODELAY as fedgate sets it: the comparison is about the work done, not about Nagle's algorithm.
  c.socket?.setNoDelay(true);
  process.stdout.write('online\n');
});
process.on('SIGTERM', () => void c.stop().finally(() => process.exit(0)));
await c.start();
