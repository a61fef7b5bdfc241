/**
 * Faults with a clear message and nothing half-done, on the real `fedgate` command: an unexpected
 * exception or rejection (the process-level policy), a read-only or unreadable database, a full disk
 * during an import, a gateway killed with SIGKILL. Root's capabilities are dropped (setpriv) where
 * file permissions must apply; the full disk is a small tmpfs in a private mount namespace.
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Ejabberd } from '../helpers/ejabberd.js';
import { CLI, Fedgate } from '../helpers/fedgate.js';
import { User } from '../helpers/client.js';
import { query, until } from '../helpers/db.js';

const run = promisify(execFile);
const HELPERS = resolve(fileURLToPath(import.meta.url), '..', '..', 'helpers');
const DOMAIN = 'energy.localhost';
/** Root without its capabilities: file permissions apply to it like to anyone. */
const WITHOUT_CAPABILITIES = ['setpriv', '--bounding-set', '-all', '--inh-caps', '-all', '--securebits', '+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked'];

interface Ctx {
  ejabberd: Ejabberd;
}
const test = suite<Ctx>('faults');

test.before(async (ctx) => {
  ctx.ejabberd = await Ejabberd.start({ components: [{ domain: DOMAIN, secret: 'fg-secret' }] });
  await ctx.ejabberd.register('alice', 'pw');
});
test.after(async (ctx) => {
  await ctx.ejabberd?.stop();
});

/** A scratch gateway for one test, removed (and killed if still running) afterwards. */
async function withGateway(ej: Ejabberd, fn: (fg: Fedgate) => Promise<void>, logLevel = 'warn'): Promise<void> {
  const fg = new Fedgate({ port: ej.componentPort(DOMAIN), domain: DOMAIN, secret: 'fg-secret', logLevel });
  try {
    await fn(fg);
  } finally {
    fg.cleanup();
  }
}

/** No JavaScript stack trace in what the user sees. */
function assertNoStack(stderr: string): void {
  assert.not.match(stderr, /^\s+at /m, `a stack trace reached the user:\n${stderr}`);
  assert.not.match(stderr, 'SqliteError');
}

for (const fault of ['exception', 'rejection'] as const) {
  test(`an unhandled ${fault}: logged with its stack, a clean stop, exit code 70`, async ({ ejabberd }) => {
    await withGateway(
      ejabberd,
      async (fg) => {
        let alice: User | null = null;
        try {
          await fg.must('app', 'add', 'meters', '--kind', 'echo');
          fg.start({ nodeArgs: ['--import', join(HELPERS, 'inject-fault.js')], env: { FEDGATE_TEST_FAULT: fault } });
          await fg.waitOnline();
          // A presence subscriber of the app: a clean stop tells it the app is gone.
          alice = await User.connect(ejabberd.c2sPort, 'alice', 'pw');
          const u = alice;
          u.send(u.xml('presence'));
          u.send(u.xml('presence', { to: `meters@${DOMAIN}`, type: 'subscribe' }));
          await u.waitFor((el) => el.name === 'presence' && el.attrs.from?.startsWith('meters@') === true && el.attrs.type === undefined, 10_000);
          await until(() => query(fg, 'SELECT jid FROM presence_subscribers').length === 1, 10_000, () => 'no subscription');
          fg.signal('SIGUSR2');
          assert.is(await fg.waitExit(15_000), 70, fg.stderr);
          assert.match(fg.stderr, `injected ${fault}`);
          assert.match(fg.stderr, /"level":60.*injected/, 'logged at fatal, with its stack');
          assert.match(fg.stderr, `fedgate: internal error (${fault === 'exception' ? 'uncaught exception' : 'unhandled promise rejection'}: injected ${fault})`, fg.stderr);
          assert.match(fg.stderr, '"msg":"stopped"', 'the gateway stopped cleanly');
          await alice.waitFor((el) => el.name === 'presence' && el.attrs.type === 'unavailable' && el.attrs.from?.startsWith('meters@') === true, 10_000);
          assert.equal(query(fg, 'SELECT * FROM runtime'), [], 'the heartbeat row is cleared by the stop');
        } finally {
          await alice?.close();
        }
      },
      'info',
    );
  });
}

test('kill -9: status says "not running" at once', async ({ ejabberd }) => {
  await withGateway(ejabberd, async (fg) => {
    fg.start();
    await fg.waitOnline();
    fg.proc!.kill('SIGKILL');
    // Synchronously, before this process reaps its child: the heartbeat is fresh, the pid a zombie.
    let code = 0;
    let out = '';
    try {
      out = execFileSync(process.execPath, [CLI, 'status', '--json'], { env: fg.env, encoding: 'utf8' });
    } catch (err) {
      code = (err as { status: number }).status;
      out = (err as { stdout: string }).stdout;
    }
    assert.is(code, 3);
    assert.is((JSON.parse(out) as { running: boolean }).running, false);
  });
});

test('a second start on the same database exits 2 naming the first; the first keeps its heartbeat', async ({ ejabberd }) => {
  await withGateway(ejabberd, async (fg) => {
    fg.start();
    await fg.waitOnline();
    const first = fg.proc!.pid!;
    // The same folder and configuration, as a second `systemctl start` or a shell's would have.
    const second = new Fedgate({ ...fg.opts, dir: fg.dir });
    try {
      second.start();
      assert.is(await second.waitExit(15_000), 2, second.stderr);
      assert.match(second.stderr, `fedgate: another gateway (pid ${first}) is running on ${join(fg.dir, 'fedgate.sqlite')}`);
      assertNoStack(second.stderr);
      assert.not.match(second.stderr, 'link online', 'the second never connected');
      assert.equal(query(fg, 'SELECT pid FROM runtime'), [{ pid: first }], "the heartbeat row is still the first's");
      const status = JSON.parse(await fg.must('status', '--json')) as { running: boolean; link: string };
      assert.ok(status.running && status.link === 'online', JSON.stringify(status));
      assert.is(await fg.stop(), 0);
      // Once the first is gone, a start takes the files again.
      second.start();
      await second.waitOnline();
      assert.is(await second.stop(), 0);
    } finally {
      second.proc?.kill('SIGKILL');
    }
  });
});

test('the database removed under a running gateway: it stops, exit 2, naming the file', async ({ ejabberd }) => {
  await withGateway(ejabberd, async (fg) => {
    fg.start();
    await fg.waitOnline();
    const file = join(fg.dir, 'fedgate.sqlite');
    // A careless reset: SQLite would go on writing into the removed file, acknowledging into nowhere.
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    assert.is(await fg.waitExit(15_000), 2, fg.stderr);
    assert.match(fg.stderr, `fedgate: ${file} was removed or replaced while the gateway ran: stopping`);
    assertNoStack(fg.stderr);
  });
});

test('a read-only database: start exits 2 with a message naming the file, and nothing keeps running', async ({ ejabberd }) => {
  await withGateway(ejabberd, async (fg) => {
    await fg.must('app', 'add', 'meters', '--kind', 'echo');
    const file = join(fg.dir, 'fedgate.sqlite');
    chmodSync(file, 0o444);
    fg.commandPrefix = WITHOUT_CAPABILITIES;
    fg.start();
    assert.is(await fg.waitExit(15_000), 2, fg.stderr);
    assert.match(fg.stderr, `fedgate: ${file} is read-only`);
    assertNoStack(fg.stderr);
    assert.not.match(fg.stderr, 'restarting');
    // The CLI says the same, in one line.
    const r = await fg.cli('app', 'add', 'other', '--kind', 'echo');
    assert.is(r.code, 2);
    assert.is(r.stderr.trim(), `fedgate: ${file} is read-only for ${process.env.USER ?? 'uid 0'}: give it, its -wal and -shm files and its folder write permission`);
  });
});

test('status on an unreadable database says so, exit 2, no stack trace', async ({ ejabberd }) => {
  await withGateway(ejabberd, async (fg) => {
    const file = join(fg.dir, 'fedgate.sqlite');
    writeFileSync(file, 'this is not a database, but it is long enough to look like a file header '.repeat(20));
    let r = await fg.cli('status');
    assert.is(r.code, 2);
    assert.is(r.stderr.trim(), `fedgate: ${file} is not a SQLite database (damaged, or another kind of file)`);
    assertNoStack(r.stderr);

    execFileSync('rm', ['-f', file]);
    await fg.must('app', 'list');
    chmodSync(file, 0o000);
    fg.commandPrefix = WITHOUT_CAPABILITIES;
    r = await fg.cli('status');
    assert.is(r.code, 2);
    assert.match(r.stderr, `fedgate: cannot open ${file}`);
    assertNoStack(r.stderr);
  });
});

test('a full disk during store import: nothing imported, one line, exit 1', async ({ ejabberd }) => {
  await withGateway(ejabberd, async (fg) => {
    const disk = join(fg.dir, 'disk');
    mkdirSync(disk);
    const config = join(fg.dir, 'full.yml');
    writeFileSync(config, `link:\n  domain: ${DOMAIN}\ndatabase:\n  path: disk/fedgate.sqlite\n`);
    const series = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
    const csv = join(fg.dir, 'big.csv');
    writeFileSync(csv, `identifier,time,value,unit\n${Array.from({ length: 40_000 }, (_, i) => `${series},${1704063600 + i * 1800},${i * 1.5},W`).join('\n')}\n`);
    // A 2 MiB disk (the database after its migrations takes about one), in a mount namespace of its own: it vanishes with the shell.
    const script = [
      'set -u',
      `mount -t tmpfs -o size=2m tmpfs "${disk}"`,
      `"${process.execPath}" "${CLI}" app add meters --kind store >/dev/null`,
      // Ballast, removed after the import so that SQLite has room to read what is left.
      `head -c 200000 /dev/zero > "${disk}/ballast"`,
      `"${process.execPath}" "${CLI}" store import meters "${csv}" 2>"${fg.dir}/import.err"; echo "import-exit=$?"`,
      `rm "${disk}/ballast"`,
      `"${process.execPath}" "${CLI}" store list meters --json`,
    ].join('\n');
    const { stdout } = await run('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', script], { env: { ...process.env, FEDGATE_CONFIG: config } });
    const err = execFileSync('cat', [join(fg.dir, 'import.err')], { encoding: 'utf8' });
    assert.match(stdout, 'import-exit=1', `${stdout}\n${err}`);
    assert.is(err.split('\n').filter(Boolean).length, 1, `one line:\n${err}`);
    assert.match(err, `fedgate: ${csv}: nothing imported: the disk holding ${join(disk, 'fedgate-store.sqlite')} is full`);
    assertNoStack(err);
    const list = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { total: number };
    assert.is(list.total, 0, 'not a single series was imported');
  });
});

test.run();
