/**
 * The XEP-0114 link against a real ejabberd: fatal configuration errors, crash and restart of the
 * server, a server that stops answering (keepalive), graceful stop.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer, xml } from '../helpers/peer.js';

const DOMAIN = 'energy.localhost';

interface Ctx {
  ejabberd: Ejabberd;
}
const test = suite<Ctx>('link');

test.before(async (ctx) => {
  ctx.ejabberd = await Ejabberd.start({ components: [{ domain: DOMAIN, secret: 'right-secret' }, { domain: 'peer.localhost', secret: 'peer-secret' }] });
});
test.after(async (ctx) => {
  await ctx.ejabberd?.stop();
});

async function withFedgate(
  ej: Ejabberd,
  secret: string,
  link: Record<string, number>,
  fn: (fg: Fedgate) => Promise<void>,
  domain = DOMAIN,
): Promise<void> {
  const fg = new Fedgate({ port: ej.componentPort, domain, secret, link });
  try {
    await fn(fg);
  } finally {
    await fg.stop().catch(() => {});
    fg.cleanup();
  }
}

/** Sends pings to an app until one is answered; returns when it is. */
async function untilRouting(ej: Ejabberd, app: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  const peer = await Peer.connect(ej.componentPort, 'peer.localhost', 'peer-secret');
  try {
    for (;;) {
      const r = await peer.iq(`${app}@${DOMAIN}`, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }), { timeoutMs: 1000 }).catch(() => null);
      if (r?.attrs.type === 'result') return Date.now() - t0;
      if (Date.now() - t0 > timeoutMs) throw new Error(`${app} not routed after ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 25));
    }
  } finally {
    await peer.close();
  }
}

test('a wrong secret exits non-zero within 5 s with one clear line, without retrying', async ({ ejabberd }) => {
  await withFedgate(ejabberd, 'wrong-secret', {}, async (fg) => {
    const t0 = Date.now();
    fg.start();
    const code = await fg.waitExit(5000);
    assert.ok(Date.now() - t0 < 5000);
    assert.is(code, 3);
    const line = fg.stderr.split('\n').find((l) => l.startsWith('fedgate: '));
    assert.ok(line, fg.stderr);
    assert.match(line!, 'not-authorized');
    assert.match(line!, 'secret');
    assert.match(line!, 'link.domain');
    assert.not.match(fg.stderr, 'wrong-secret', 'the secret is never printed');
  });
});

test('a domain the listener does not serve is fatal too, with the same line (ejabberd says not-authorized)', async ({ ejabberd }) => {
  await withFedgate(ejabberd, 'right-secret', {}, async (fg) => {
    fg.start();
    const code = await fg.waitExit(5000);
    assert.is(code, 3);
    assert.match(fg.stderr, /fedgate: cannot connect to .* as other\.localhost: not-authorized: .*link\.domain/);
  }, 'other.localhost');
});

test('SIGTERM stops cleanly with exit code 0', async ({ ejabberd }) => {
  await withFedgate(ejabberd, 'right-secret', {}, async (fg) => {
    fg.start();
    await fg.waitOnline();
    fg.signal('SIGTERM');
    assert.is(await fg.waitExit(10_000), 0);
    const st = await fg.cli('status', '--json');
    assert.is(st.code, 3, 'status says not running');
  });
});

test('ejabberd killed and restarted: routing again within 3 s of the server accepting connections', async ({ ejabberd }) => {
  await withFedgate(ejabberd, 'right-secret', {}, async (fg) => {
    assert.is((await fg.cli('app', 'add', 'meters', '--kind', 'echo')).code, 0);
    fg.start();
    await fg.waitOnline();
    await untilRouting(ejabberd, 'meters', 5000);
    await ejabberd.kill();
    // Long enough for several reconnect attempts to fail and the backoff to grow to its cap.
    await new Promise((res) => setTimeout(res, 4000));
    await ejabberd.restart();
    const ms = await untilRouting(ejabberd, 'meters', 10_000);
    assert.ok(ms < 3000, `routing resumed ${ms} ms after ejabberd accepted connections`);
    assert.ok(fg.proc, 'fedgate kept running');
  });
});

test('a server that stops answering is detected by the keepalive ping and reconnected', async ({ ejabberd }) => {
  await withFedgate(ejabberd, 'right-secret', { keepalive_seconds: 1, ping_timeout_seconds: 1 }, async (fg) => {
    assert.is((await fg.cli('app', 'add', 'meters', '--kind', 'echo')).code, 0);
    fg.start();
    await fg.waitOnline();
    const pid = ejabberd.pid()!;
    process.kill(pid, 'SIGSTOP'); // the TCP connection stays open, nothing answers
    try {
      const t0 = Date.now();
      for (;;) {
        const st = JSON.parse((await fg.cli('status', '--json')).stdout) as { link: string };
        if (st.link !== 'online') break;
        assert.ok(Date.now() - t0 < 8000, 'link still online 8 s after the server froze');
        await new Promise((res) => setTimeout(res, 200));
      }
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await untilRouting(ejabberd, 'meters', 10_000);
    assert.match(fg.stderr, 'keepalive ping unanswered');
  });
});

test.run();
