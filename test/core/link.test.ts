/**
 * The XEP-0114 link against a real ejabberd: fatal configuration errors, crash and restart of the
 * server, a server that stops answering (keepalive), graceful stop; why the link is down (logged at
 * warn with the address, shown by `fedgate status`), a reset during the stream open, several
 * listeners (`link.hosts`), a domain written with capitals, SIGTERM during start-up, and ejabberd's
 * check_from holding per listener.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { Component } from '@xmpp/component-core';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { Peer, xml } from '../helpers/peer.js';
import { FlakyProxy } from '../helpers/flaky-proxy.js';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/db.js';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';

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
  link: Record<string, number | string>,
  fn: (fg: Fedgate) => Promise<void>,
  domain = DOMAIN,
  logLevel = 'warn',
): Promise<void> {
  const fg = new Fedgate({ port: ej.componentPort(DOMAIN), domain, secret, link, logLevel });
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
  const peer = await Peer.connect(ej.componentPort('peer.localhost'), 'peer.localhost', 'peer-secret');
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

test('SIGTERM while the server is frozen: fedgate stops and exits 0 all the same, without waiting for it', async ({ ejabberd }) => {
  await withFedgate(ejabberd, 'right-secret', {}, async (fg) => {
    assert.is((await fg.cli('app', 'add', 'meters', '--kind', 'echo')).code, 0);
    fg.start();
    await fg.waitOnline();
    const pid = ejabberd.pid()!;
    process.kill(pid, 'SIGSTOP'); // the TCP connection stays open, nothing answers the stream's close
    try {
      fg.proc!.kill('SIGTERM');
      // It stayed for ever (a half-closed socket with unsent bytes) until the server came back.
      assert.is(await fg.waitExit(20_000), 0);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});

interface StatusJson {
  link: string;
  server: string | null;
  lastLinkError: { reason: string; server: string; at: string } | null;
}

async function status(fg: Fedgate): Promise<StatusJson> {
  return JSON.parse((await fg.cli('status', '--json')).stdout) as StatusJson;
}

/** The JSON log lines of a fedgate at warn. */
function warnings(fg: Fedgate): Array<{ msg: string; server?: string; reason?: string; time: string }> {
  return fg.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; server?: string; reason?: string; time: string })
    .filter((l) => l.level === 40);
}

test('nothing listening: the reason and the address at warn, and in status with since when', async ({ ejabberd }) => {
  const closed = await freePort();
  await withFedgate(ejabberd, 'right-secret', { hosts: `["127.0.0.1:${closed}"]` }, async (fg) => {
    fg.start();
    await until(async () => (await status(fg)).lastLinkError !== null, 10_000, () => fg.stderr);
    const st = await status(fg);
    assert.is(st.link === 'online', false);
    assert.match(st.lastLinkError!.reason, 'connection refused');
    assert.is(st.lastLinkError!.server, `127.0.0.1:${closed}`);
    assert.ok(Math.abs(Date.parse(st.lastLinkError!.at) - Date.now()) < 60_000, st.lastLinkError!.at);
    assert.match(st.lastLinkError!.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    await until(() => warnings(fg).some((w) => w.msg === 'link down, retrying'), 5000, () => fg.stderr);
    const w = warnings(fg).find((l) => l.msg === 'link down, retrying')!;
    assert.is(w.server, `127.0.0.1:${closed}`);
    assert.match(w.reason!, 'connection refused');
    assert.match(w.time, /^\d{4}-\d\d-\d\dT.*Z$/, 'ISO times in the logs');
    // The same reason again is not repeated at warn every few hundred milliseconds.
    assert.is(warnings(fg).filter((l) => l.msg === 'link down, retrying').length, 1);
  });
});

test('a connection reset during the stream open is retried with backoff, and the gateway comes online', async ({ ejabberd }) => {
  const proxy = await FlakyProxy.start(ejabberd.componentPort(DOMAIN), 3);
  try {
    await withFedgate(ejabberd, 'right-secret', { hosts: `["127.0.0.1:${proxy.port}"]` }, async (fg) => {
      assert.is((await fg.cli('app', 'add', 'meters', '--kind', 'echo')).code, 0);
      fg.start();
      await fg.waitOnline(20_000);
      assert.is(proxy.resets, 3);
      assert.ok(fg.proc, 'fedgate kept running');
      const st = await status(fg);
      assert.match(st.lastLinkError!.reason, 'reset');
      assert.is(st.lastLinkError!.server, `127.0.0.1:${proxy.port}`);
      assert.ok(warnings(fg).some((w) => w.msg === 'link down, retrying' && /reset/.test(w.reason ?? '') && w.server === `127.0.0.1:${proxy.port}`), fg.stderr);
      await untilRouting(ejabberd, 'meters', 5000);
    });
  } finally {
    await proxy.stop();
  }
});

test('link.hosts: a listener that refuses is skipped for the next one', async ({ ejabberd }) => {
  const closed = await freePort();
  const good = `127.0.0.1:${ejabberd.componentPort(DOMAIN)}`;
  await withFedgate(ejabberd, 'right-secret', { hosts: `["127.0.0.1:${closed}", "${good}"]` }, async (fg) => {
    assert.is((await fg.cli('app', 'add', 'meters', '--kind', 'echo')).code, 0);
    fg.start();
    await fg.waitOnline();
    const st = await status(fg);
    assert.is(st.server, good);
    assert.is(st.lastLinkError?.server, `127.0.0.1:${closed}`);
    await untilRouting(ejabberd, 'meters', 5000);
  });
});

test('link.domain written with capitals is the same domain: stanzas are routed', async ({ ejabberd }) => {
  await withFedgate(
    ejabberd,
    'right-secret',
    {},
    async (fg) => {
      assert.is((await fg.cli('app', 'add', 'meters', '--kind', 'echo')).code, 0);
      fg.start();
      await fg.waitOnline();
      await untilRouting(ejabberd, 'meters', 5000);
      assert.is(JSON.parse((await fg.cli('status', '--json')).stdout).domain, DOMAIN);
    },
    'Energy.LocalHost',
  );
});

test('a single XML token over twice link.max_inbound_stanza_bytes: the connection is dropped and made again, the gateway goes on', async ({ ejabberd }) => {
  await withFedgate(ejabberd, 'right-secret', { max_inbound_stanza_bytes: 65_536 }, async (fg) => {
    assert.is((await fg.cli('app', 'add', 'meters', '--kind', 'echo')).code, 0);
    fg.start();
    await fg.waitOnline();
    await untilRouting(ejabberd, 'meters', 5000);
    const peer = await Peer.connect(ejabberd.componentPort('peer.localhost'), 'peer.localhost', 'peer-secret');
    try {
      // 2 MB of one text node, in many socket chunks: it used to end the process (exit 70).
      await peer.conn.write(`<message to="meters@${DOMAIN}" from="x@peer.localhost/r" id="token" type="chat"><body>${'w'.repeat(2_000_000)}</body></message>`);
      await until(() => fg.stderr.includes('a single XML token longer than 131072 bytes: dropping the connection'), 10_000, () => fg.stderr.slice(-1500));
      await untilRouting(ejabberd, 'meters', 10_000);
      assert.is(fg.exitCode, undefined, 'still running');
    } finally {
      await peer.close();
    }
  });
});

test('SIGTERM during start-up stops cleanly with exit code 0', async ({ ejabberd }) => {
  await withFedgate(
    ejabberd,
    'right-secret',
    {},
    async (fg) => {
      for (const name of ['a', 'b', 'c', 'd']) assert.is((await fg.cli('app', 'add', name, '--kind', 'store')).code, 0);
      fg.start();
      // The first line of start-up; the apps' workers are not all started yet.
      await until(() => fg.stderr.includes('"msg":"starting"'), 10_000, () => fg.stderr);
      fg.signal('SIGTERM');
      assert.is(await fg.waitExit(15_000), 0, fg.stderr);
      assert.is((await fg.cli('status', '--json')).code, 3, 'not running afterwards');
    },
    DOMAIN,
    'info',
  );
});

test('a secret file readable by every user is started with, and warned about', async ({ ejabberd }) => {
  await withFedgate(ejabberd, 'right-secret', {}, async (fg) => {
    chmodSync(join(fg.dir, 'secret'), 0o644);
    fg.start();
    await fg.waitOnline();
    assert.ok(warnings(fg).some((w) => /link\.secret_file .* is readable by every user/.test(w.msg)), fg.stderr);
  });
});

test("ejabberd checks a component's from only against its own listener: each component has its own", async ({ ejabberd }) => {
  // A component connected on peer.localhost's listener sending as an address of energy.localhost:
  // on a shared listener ejabberd would pass it on; on its own listener it is cut off.
  const conn = new Component({ service: `xmpp://127.0.0.1:${ejabberd.componentPort('peer.localhost')}`, domain: 'peer.localhost' });
  conn.on('open', (el: { attrs: { id?: string } }) => void conn.authenticate(el.attrs.id ?? '', 'peer-secret').catch(() => {}));
  const refused = new Promise<string>((resolve) => conn.on('error', (err: { condition?: string }) => resolve(err.condition ?? '')));
  await conn.start();
  void conn.send(xml('message', { from: `mallory@${DOMAIN}`, to: 'someone@localhost', type: 'chat' }, xml('body', {}, 'forged')));
  const condition = await Promise.race([refused, new Promise<string>((r) => setTimeout(() => r('accepted'), 5000))]);
  conn.socket?.destroy();
  assert.is(condition, 'invalid-from');
});

test.run();
